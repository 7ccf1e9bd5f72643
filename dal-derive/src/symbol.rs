//! Attribute names, as constants, so the parser, the checks and the messages agree on spelling.

use std::fmt;

use syn::Path;

/// One attribute keyword (`table`, `id`, ...).
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Symbol(pub(crate) &'static str);

// Container attribute (`#[entity(..)]` on the struct) and its keys.
pub(crate) const ENTITY: Symbol = Symbol("entity");
pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const TABLE: Symbol = Symbol("table");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const QUESTDB: Symbol = Symbol("questdb");
pub(crate) const REDIS: Symbol = Symbol("redis");

// `questdb(..)` keys.
pub(crate) const PARTITION: Symbol = Symbol("partition");
pub(crate) const TTL: Symbol = Symbol("ttl");
pub(crate) const DEDUP: Symbol = Symbol("dedup");

// `redis(..)` keys (plus `ttl`).
pub(crate) const KEY: Symbol = Symbol("key");

// Field attribute keys.
pub(crate) const ID: Symbol = Symbol("id");
pub(crate) const TIMESTAMP: Symbol = Symbol("timestamp");
pub(crate) const SYMBOL: Symbol = Symbol("symbol");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const JSON: Symbol = Symbol("json");
pub(crate) const WITH: Symbol = Symbol("with");
pub(crate) const MAX_LEN: Symbol = Symbol("max_len");
pub(crate) const PRECISION: Symbol = Symbol("precision");
pub(crate) const SCALE: Symbol = Symbol("scale");

// `#[derive(TextEnum)]`: the `text` attribute (keys `rename_all`, `rename`, `crate`).
pub(crate) const TEXT: Symbol = Symbol("text");

/// Valid keys of `#[entity(..)]` on a struct, in the order error messages list them.
pub(crate) const CONTAINER_KEYS: &[Symbol] = &[NAME, TABLE, RENAME_ALL, CRATE, QUESTDB, REDIS];
/// Valid keys of `questdb(..)`.
pub(crate) const QUESTDB_KEYS: &[Symbol] = &[PARTITION, TTL, DEDUP];
/// Valid keys of `redis(..)`.
pub(crate) const REDIS_KEYS: &[Symbol] = &[KEY, TTL];
/// Valid keys of `#[entity(..)]` on a field.
pub(crate) const FIELD_KEYS: &[Symbol] = &[
    ID, TIMESTAMP, SYMBOL, RENAME, SKIP, DEFAULT, JSON, WITH, MAX_LEN, PRECISION, SCALE,
];
/// Valid keys of `#[text(..)]` on an enum.
pub(crate) const TEXT_CONTAINER_KEYS: &[Symbol] = &[RENAME_ALL, CRATE];
/// Valid keys of `#[text(..)]` on a variant.
pub(crate) const TEXT_VARIANT_KEYS: &[Symbol] = &[RENAME];

/// `a, b, c` for an error message.
pub(crate) fn list(keys: &[Symbol]) -> String {
    keys.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
