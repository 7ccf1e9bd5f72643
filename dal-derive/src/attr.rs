//! Attribute parsing: `#[entity(..)]` on the struct and on each field, into plain data.
//!
//! Checks that need only one attribute happen here (value types, names, TTL syntax, duplicates,
//! unknown keys); checks that look at several attributes or fields live in `check.rs`. Every
//! problem is recorded in the [`Ctxt`] and parsing goes on, so one compile shows them all.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Lit, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::naming::{self, RenameRule};
use crate::symbol::{self, *};
use crate::template::{self, Part};
use crate::ttl;

/// A parsed value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// A key that may be given at most once.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    context: &'static str,
    value: Option<Spanned<T>>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol, context: &'static str) -> Self {
        Attr {
            cx,
            name,
            context,
            value: None,
        }
    }

    fn set(&mut self, span: Span, value: T) {
        if self.value.is_some() {
            self.cx.error_at(
                span,
                format!(
                    "duplicate `{}` in {}: keep only one",
                    self.name, self.context
                ),
            );
        } else {
            self.value = Some(Spanned { value, span });
        }
    }

    fn get(self) -> Option<Spanned<T>> {
        self.value
    }
}

/// QuestDB partitioning unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partition {
    None,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Partition {
    const ALL: &'static [(&'static str, Partition)] = &[
        ("none", Partition::None),
        ("hour", Partition::Hour),
        ("day", Partition::Day),
        ("week", Partition::Week),
        ("month", Partition::Month),
        ("year", Partition::Year),
    ];
}

/// `questdb(..)`.
#[derive(Debug)]
pub(crate) struct QuestDb {
    /// The `questdb` keyword.
    pub(crate) span: Span,
    pub(crate) partition: Option<Partition>,
    /// QuestDB TTL clause text, e.g. `30 DAYS`.
    pub(crate) ttl: Option<String>,
    /// The `dedup` keyword, if given.
    pub(crate) dedup: Option<Span>,
}

/// `redis(..)`.
#[derive(Debug)]
pub(crate) struct Redis {
    /// The `redis` keyword.
    pub(crate) span: Span,
    /// The parsed key template and its literal (for spans).
    pub(crate) key: Option<(Vec<Part>, LitStr)>,
    /// Default TTL in milliseconds.
    pub(crate) ttl_ms: Option<u64>,
}

/// `#[entity(..)]` on the struct.
#[derive(Debug, Default)]
pub(crate) struct Container {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) table: Option<Spanned<String>>,
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) crate_path: Option<syn::Path>,
    pub(crate) questdb: Option<QuestDb>,
    pub(crate) redis: Option<Redis>,
}

/// `#[entity(..)]` on a field. Flags hold the span of their keyword.
#[derive(Debug, Default)]
pub(crate) struct Field {
    pub(crate) id: Option<Span>,
    pub(crate) timestamp: Option<Span>,
    pub(crate) symbol: Option<Span>,
    pub(crate) skip: Option<Span>,
    pub(crate) default: Option<Span>,
    pub(crate) json: Option<Span>,
    pub(crate) rename: Option<Spanned<String>>,
    pub(crate) with: Option<Spanned<syn::Path>>,
    pub(crate) max_len: Option<Spanned<u32>>,
    pub(crate) precision: Option<Spanned<u32>>,
    pub(crate) scale: Option<Spanned<u32>>,
}

/// Parses `#[entity(..)]` attributes of a struct.
pub(crate) fn parse_container(cx: &Ctxt, attrs: &[syn::Attribute]) -> Container {
    const CTX: &str = "#[entity(..)]";
    let mut name = Attr::none(cx, NAME, CTX);
    let mut table = Attr::none(cx, TABLE, CTX);
    let mut rename_all = Attr::none(cx, RENAME_ALL, CTX);
    let mut krate = Attr::none(cx, CRATE, CTX);
    let mut questdb = Attr::none(cx, QUESTDB, CTX);
    let mut redis = Attr::none(cx, REDIS, CTX);

    for attr in attrs.iter().filter(|a| a.path() == ENTITY) {
        let result = attr.parse_nested_meta(|meta| {
            let span = path_span(&meta.path);
            if meta.path == NAME {
                if let Some(s) = string_value(cx, &meta, NAME, "\"Trade\"")? {
                    match naming::validate_identifier(&s.value()) {
                        Ok(()) => name.set(span, s.value()),
                        Err(why) => cx.error_spanned_by(
                            &s,
                            format!(
                                "invalid entity name \"{}\": {why}; write e.g. name = \"Trade\"",
                                s.value()
                            ),
                        ),
                    }
                }
            } else if meta.path == TABLE {
                if let Some(s) = string_value(cx, &meta, TABLE, "\"trades\"")? {
                    match naming::validate_identifier(&s.value()) {
                        Ok(()) => table.set(span, s.value()),
                        Err(why) => cx.error_spanned_by(
                            &s,
                            format!(
                                "invalid table name \"{}\": {why}; write e.g. table = \"trades\" (no schema: the connection's search_path chooses it)",
                                s.value()
                            ),
                        ),
                    }
                }
            } else if meta.path == RENAME_ALL {
                if let Some(s) = string_value(cx, &meta, RENAME_ALL, "\"snake_case\"")? {
                    match naming::rule_from_str(naming::ENTITY_RULES, &s.value()) {
                        Some(rule) => rename_all.set(span, rule),
                        None => cx.error_spanned_by(
                            &s,
                            format!(
                                "unknown rename_all rule \"{}\": use one of {}",
                                s.value(),
                                naming::rule_list(naming::ENTITY_RULES)
                            ),
                        ),
                    }
                }
            } else if meta.path == CRATE {
                if let Some(s) = string_value(cx, &meta, CRATE, "\"::dal\"")? {
                    match s.parse::<syn::Path>() {
                        Ok(path) => krate.set(span, path),
                        Err(_) => cx.error_spanned_by(
                            &s,
                            format!(
                                "\"{}\" is not a path: write the path of the dal crate, e.g. crate = \"::dal\" or crate = \"my_reexport::dal\"",
                                s.value()
                            ),
                        ),
                    }
                }
            } else if meta.path == QUESTDB {
                if let Some(section) = parse_questdb(cx, &meta, span)? {
                    questdb.set(span, section);
                }
            } else if meta.path == REDIS {
                if let Some(section) = parse_redis(cx, &meta, span)? {
                    redis.set(span, section);
                }
            } else {
                unknown_key(cx, &meta, "entity attribute", CONTAINER_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }

    Container {
        name: name.get(),
        table: table.get(),
        rename_all: rename_all.get().map(|s| s.value),
        crate_path: krate.get().map(|s| s.value),
        questdb: questdb.get().map(|s| s.value),
        redis: redis.get().map(|s| s.value),
    }
}

fn parse_questdb(cx: &Ctxt, meta: &ParseNestedMeta, span: Span) -> syn::Result<Option<QuestDb>> {
    const CTX: &str = "questdb(..)";
    if !meta.input.peek(syn::token::Paren) {
        cx.error_at(
            span,
            "`questdb` takes a list: write questdb(partition = \"day\", ttl = \"30d\", dedup), or questdb() for the defaults",
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut partition = Attr::none(cx, PARTITION, CTX);
    let mut ttl = Attr::none(cx, TTL, CTX);
    let mut dedup = Attr::none(cx, DEDUP, CTX);
    nested_list(meta, |meta| {
        let span = path_span(&meta.path);
        if meta.path == PARTITION {
            if let Some(s) = string_value(cx, &meta, PARTITION, "\"day\"")? {
                match Partition::ALL.iter().find(|(n, _)| *n == s.value()) {
                    Some((_, p)) => partition.set(span, *p),
                    None => cx.error_spanned_by(
                        &s,
                        format!(
                            "unknown partition \"{}\": use one of \"none\", \"hour\", \"day\", \"week\", \"month\", \"year\"",
                            s.value()
                        ),
                    ),
                }
            }
        } else if meta.path == TTL {
            if let Some(s) = string_value(cx, &meta, TTL, "\"30d\"")? {
                match ttl::parse_questdb_ttl(&s.value()) {
                    Ok(text) => ttl.set(span, text),
                    Err(why) => cx.error_spanned_by(&s, format!("invalid questdb ttl: {why}")),
                }
            }
        } else if meta.path == DEDUP {
            if flag(cx, &meta, DEDUP, "questdb(dedup)")? {
                dedup.set(span, ());
            }
        } else {
            unknown_key(cx, &meta, "questdb(..) key", QUESTDB_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Some(QuestDb {
        span,
        partition: partition.get().map(|s| s.value),
        ttl: ttl.get().map(|s| s.value),
        dedup: dedup.get().map(|s| s.span),
    }))
}

fn parse_redis(cx: &Ctxt, meta: &ParseNestedMeta, span: Span) -> syn::Result<Option<Redis>> {
    const CTX: &str = "redis(..)";
    if !meta.input.peek(syn::token::Paren) {
        cx.error_at(
            span,
            "`redis` takes a list: write redis(key = \"trade:{id}\", ttl = \"2s\"), or redis() for the defaults",
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let mut key = Attr::none(cx, KEY, CTX);
    let mut ttl = Attr::none(cx, TTL, CTX);
    nested_list(meta, |meta| {
        let span = path_span(&meta.path);
        if meta.path == KEY {
            if let Some(s) = string_value(cx, &meta, KEY, "\"trade:{id}\"")? {
                match template::parse_key_template(&s.value()) {
                    Ok(parts) => key.set(span, (parts, s)),
                    Err(why) => cx.error_spanned_by(&s, why),
                }
            }
        } else if meta.path == TTL {
            if let Some(s) = string_value(cx, &meta, TTL, "\"2s\"")? {
                match ttl::parse_redis_ttl(&s.value()) {
                    Ok(ms) => ttl.set(span, ms),
                    Err(why) => cx.error_spanned_by(&s, format!("invalid redis ttl: {why}")),
                }
            }
        } else {
            unknown_key(cx, &meta, "redis(..) key", REDIS_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Some(Redis {
        span,
        key: key.get().map(|s| s.value),
        ttl_ms: ttl.get().map(|s| s.value),
    }))
}

/// Parses `#[entity(..)]` attributes of a field.
pub(crate) fn parse_field(cx: &Ctxt, attrs: &[syn::Attribute]) -> Field {
    const CTX: &str = "a field's #[entity(..)]";
    let mut id = Attr::none(cx, ID, CTX);
    let mut timestamp = Attr::none(cx, TIMESTAMP, CTX);
    let mut symbol = Attr::none(cx, SYMBOL, CTX);
    let mut skip = Attr::none(cx, SKIP, CTX);
    let mut default = Attr::none(cx, DEFAULT, CTX);
    let mut json = Attr::none(cx, JSON, CTX);
    let mut rename = Attr::none(cx, RENAME, CTX);
    let mut with = Attr::none(cx, WITH, CTX);
    let mut max_len = Attr::none(cx, MAX_LEN, CTX);
    let mut precision = Attr::none(cx, PRECISION, CTX);
    let mut scale = Attr::none(cx, SCALE, CTX);

    for attr in attrs.iter().filter(|a| a.path() == ENTITY) {
        let result = attr.parse_nested_meta(|meta| {
            let span = path_span(&meta.path);
            let flags: [(Symbol, &mut Attr<()>); 6] = [
                (ID, &mut id),
                (TIMESTAMP, &mut timestamp),
                (SYMBOL, &mut symbol),
                (SKIP, &mut skip),
                (DEFAULT, &mut default),
                (JSON, &mut json),
            ];
            for (word, slot) in flags {
                if meta.path == word {
                    if flag(cx, &meta, word, &format!("#[entity({word})]"))? {
                        slot.set(span, ());
                    }
                    return Ok(());
                }
            }
            if meta.path == RENAME {
                if let Some(s) = string_value(cx, &meta, RENAME, "\"column_name\"")? {
                    match naming::validate_identifier(&s.value()) {
                        Ok(()) => rename.set(span, s.value()),
                        Err(why) => cx.error_spanned_by(
                            &s,
                            format!(
                                "invalid column name \"{}\": {why}; write e.g. rename = \"base_token\"",
                                s.value()
                            ),
                        ),
                    }
                }
            } else if meta.path == WITH {
                if let Some(s) = string_value(cx, &meta, WITH, "\"my_module\"")? {
                    match s.parse::<syn::Path>() {
                        Ok(path) => with.set(span, path),
                        Err(_) => cx.error_spanned_by(
                            &s,
                            format!(
                                "\"{}\" is not a module path: write with = \"my_module\" for a module providing `type Repr`, `to_repr` and `from_repr`",
                                s.value()
                            ),
                        ),
                    }
                }
            } else if meta.path == MAX_LEN {
                if let Some(n) = int_value(cx, &meta, MAX_LEN, "64", 1)? {
                    max_len.set(span, n);
                }
            } else if meta.path == PRECISION {
                if let Some(n) = int_value(cx, &meta, PRECISION, "18", 1)? {
                    precision.set(span, n);
                }
            } else if meta.path == SCALE {
                if let Some(n) = int_value(cx, &meta, SCALE, "8", 0)? {
                    scale.set(span, n);
                }
            } else {
                unknown_key(cx, &meta, "field attribute", FIELD_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }

    Field {
        id: id.get().map(|s| s.span),
        timestamp: timestamp.get().map(|s| s.span),
        symbol: symbol.get().map(|s| s.span),
        skip: skip.get().map(|s| s.span),
        default: default.get().map(|s| s.span),
        json: json.get().map(|s| s.span),
        rename: rename.get(),
        with: with.get(),
        max_len: max_len.get(),
        precision: precision.get(),
        scale: scale.get(),
    }
}

/// `#[text(..)]` on an enum.
#[derive(Debug, Default)]
pub(crate) struct TextContainer {
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) crate_path: Option<syn::Path>,
}

/// Parses `#[text(..)]` attributes of an enum.
pub(crate) fn parse_text_container(cx: &Ctxt, attrs: &[syn::Attribute]) -> TextContainer {
    const CTX: &str = "#[text(..)]";
    let mut rename_all = Attr::none(cx, RENAME_ALL, CTX);
    let mut krate = Attr::none(cx, CRATE, CTX);
    for attr in attrs.iter().filter(|a| a.path() == TEXT) {
        let result = attr.parse_nested_meta(|meta| {
            let span = path_span(&meta.path);
            if meta.path == RENAME_ALL {
                if let Some(s) = string_value(cx, &meta, RENAME_ALL, "\"snake_case\"")? {
                    match naming::rule_from_str(naming::TEXT_RULES, &s.value()) {
                        Some(rule) => rename_all.set(span, rule),
                        None => cx.error_spanned_by(
                            &s,
                            format!(
                                "unknown rename_all rule \"{}\": use one of {}",
                                s.value(),
                                naming::rule_list(naming::TEXT_RULES)
                            ),
                        ),
                    }
                }
            } else if meta.path == CRATE {
                if let Some(s) = string_value(cx, &meta, CRATE, "\"::dal\"")? {
                    match s.parse::<syn::Path>() {
                        Ok(path) => krate.set(span, path),
                        Err(_) => cx.error_spanned_by(
                            &s,
                            format!(
                                "\"{}\" is not a path: write e.g. crate = \"::dal\"",
                                s.value()
                            ),
                        ),
                    }
                }
            } else {
                unknown_key(cx, &meta, "text attribute", TEXT_CONTAINER_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    TextContainer {
        rename_all: rename_all.get().map(|s| s.value),
        crate_path: krate.get().map(|s| s.value),
    }
}

/// Parses `#[text(..)]` on a variant: the stored text given by `rename`, if any.
pub(crate) fn parse_text_variant(cx: &Ctxt, attrs: &[syn::Attribute]) -> Option<Spanned<String>> {
    let mut rename = Attr::none(cx, RENAME, "a variant's #[text(..)]");
    for attr in attrs.iter().filter(|a| a.path() == TEXT) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path == RENAME {
                if let Some(s) = string_value(cx, &meta, RENAME, "\"paper\"")? {
                    rename.set(path_span(&meta.path), s.value());
                }
            } else {
                unknown_key(cx, &meta, "variant text attribute", TEXT_VARIANT_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    rename.get()
}

/// Parses `(a = .., b)` after a key; unlike `ParseNestedMeta::parse_nested_meta`, an empty list
/// `()` is accepted (it means "all defaults").
fn nested_list(
    meta: &ParseNestedMeta,
    logic: impl FnMut(ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    let content;
    syn::parenthesized!(content in meta.input);
    let tokens: TokenStream = content.parse()?;
    if tokens.is_empty() {
        return Ok(());
    }
    syn::parse::Parser::parse2(syn::meta::parser(logic), tokens)
}

fn path_span(path: &syn::Path) -> Span {
    path.segments
        .last()
        .map(|s| s.ident.span())
        .unwrap_or_else(Span::call_site)
}

/// Records an unknown key (listing the valid ones) and skips its value so parsing goes on.
fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta, what: &str, valid: &[Symbol]) -> syn::Result<()> {
    let path = quote::ToTokens::to_token_stream(&meta.path)
        .to_string()
        .replace(' ', "");
    cx.error_spanned_by(
        &meta.path,
        format!(
            "unknown {what} `{path}`: expected one of {}",
            symbol::list(valid)
        ),
    );
    skip_value(meta)
}

/// Consumes `= value` or `(..)` after a key, whatever it holds.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.input.parse::<Token![=]>()?;
        meta.input.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// A flag (`id`, `dedup`): `true` when written bare, an error when it has a value.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta, word: Symbol, example: &str) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{word}` takes no value: write {example}"),
        );
        skip_value(meta)?;
        return Ok(false);
    }
    Ok(true)
}

/// `key = "string"`; other value types are recorded as errors and yield `None`.
fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    key: Symbol,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` needs a value: write {key} = {example}"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let expr: Expr = meta.value()?.parse()?;
    match strip_groups(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Some(s.clone())),
        other => {
            cx.error_spanned_by(
                other,
                format!("expected a string literal: write {key} = {example}"),
            );
            Ok(None)
        }
    }
}

/// `key = 64`: a positive integer that fits `u32`.
fn int_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    key: Symbol,
    example: &str,
    min: u32,
) -> syn::Result<Option<u32>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` needs a value: write {key} = {example}"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let expr: Expr = meta.value()?.parse()?;
    match strip_groups(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            match i.base10_parse::<u32>() {
                Ok(n) if n < min => {
                    cx.error_spanned_by(
                    i,
                    format!("`{key}` must be at least {min}: write e.g. {key} = {example}, or remove it"),
                );
                    Ok(None)
                }
                Ok(n) => Ok(Some(n)),
                Err(_) => {
                    cx.error_spanned_by(
                    i,
                    format!("`{key}` must be a whole number between {min} and {}: write e.g. {key} = {example}", u32::MAX),
                );
                    Ok(None)
                }
            }
        }
        other => {
            cx.error_spanned_by(
                other,
                format!("expected an integer literal: write {key} = {example}"),
            );
            Ok(None)
        }
    }
}

fn strip_groups(mut expr: &Expr) -> &Expr {
    while let Expr::Group(g) = expr {
        expr = &g.expr;
    }
    expr
}
