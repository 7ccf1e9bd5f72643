//! Cross-cutting checks: rules that look at more than one attribute or field.
//!
//! Runs on the parsed model before expansion; every violation is a spanned error that says what to
//! write instead. Expansion only runs when this finds nothing.

use std::collections::HashMap;

use proc_macro2::Span;

use crate::ast::{Container, Field};
use crate::ctxt::Ctxt;
use crate::naming::{self, screaming_snake, unraw};
use crate::template::Part;
use crate::ty::{self, KnownKind, TimeShape};

/// Composite keys may have at most this many parts (`dal::key::MAX_KEY_PARTS`).
const MAX_KEY_PARTS: usize = 8;

/// Records every rule violation of `cont` in `cx`.
pub(crate) fn check(cx: &Ctxt, cont: &Container<'_>) {
    check_generics(cx, cont);
    check_names(cx, cont);
    for field in &cont.fields {
        check_field_combinations(cx, field);
        check_field_type(cx, cont, field);
    }
    check_roles(cx, cont);
    check_columns(cx, cont);
    check_questdb(cx, cont);
    check_redis(cx, cont);
}

fn check_generics(cx: &Ctxt, cont: &Container<'_>) {
    if !cont.generics.params.is_empty() {
        cx.error_spanned_by(
            cont.generics,
            "#[derive(Entity)] does not support generic structs: an entity maps to one table, so write a concrete struct (a type alias or newtype per instantiation)",
        );
    }
}

fn check_names(cx: &Ctxt, cont: &Container<'_>) {
    let bad_name = cont.attrs.name.is_none() && naming::validate_identifier(&cont.name()).is_err();
    let bad_table =
        cont.attrs.table.is_none() && naming::validate_identifier(&cont.table()).is_err();
    if bad_name || bad_table {
        let shown = if bad_name { cont.name() } else { cont.table() };
        let why = naming::validate_identifier(&shown)
            .err()
            .unwrap_or_default();
        let fix = match (bad_name, bad_table) {
            (true, true) => "set #[entity(name = \"..\", table = \"..\")]",
            (true, false) => "set #[entity(name = \"..\")]",
            _ => "set #[entity(table = \"..\")]",
        };
        cx.error_spanned_by(
            cont.ident,
            format!(
                "`{}` cannot be used as the entity's default {} ({why}): {fix}",
                cont.ident,
                if bad_name { "name" } else { "table name" },
            ),
        );
    }
    if cont.stored().next().is_none() {
        cx.error_spanned_by(
            cont.ident,
            format!(
                "`{}` has no stored fields: add a field, or remove #[entity(skip)] from one",
                cont.ident
            ),
        );
    }
}

/// Attribute combinations on one field.
fn check_field_combinations(cx: &Ctxt, f: &Field<'_>) {
    let a = &f.attrs;
    if a.skip.is_some() {
        let others: [(&str, Option<Span>); 10] = [
            ("id", a.id),
            ("timestamp", a.timestamp),
            ("symbol", a.symbol),
            ("default", a.default),
            ("json", a.json),
            ("rename", a.rename.as_ref().map(|r| r.span)),
            ("with", a.with.as_ref().map(|w| w.span)),
            ("max_len", a.max_len.as_ref().map(|m| m.span)),
            ("precision", a.precision.as_ref().map(|m| m.span)),
            ("scale", a.scale.as_ref().map(|m| m.span)),
        ];
        for (word, span) in others {
            if let Some(span) = span {
                cx.error_at(
                    span,
                    format!(
                        "`skip` cannot be combined with `{word}`: a skipped field is not stored (it decodes as Default::default()); remove `{word}` or `skip`"
                    ),
                );
            }
        }
        return;
    }
    if let (Some(_), Some(with)) = (a.json, &a.with) {
        cx.error_at(
            with.span,
            "`json` and `with` cannot be combined: use `json` to store any serde type as JSON, or `with` for a custom conversion, not both",
        );
    }
    if let (Some(_), Some(default)) = (a.id, a.default) {
        cx.error_at(
            default,
            "an id field cannot have `default`: a key is always stored; remove `default`",
        );
    }
    if let (Some(_), Some(json)) = (a.id, a.json) {
        cx.error_at(
            json,
            "a #[entity(json)] field cannot be an id: keys must compare exactly; use a String, integer, Uuid or text enum for the id",
        );
    }
    if let (Some(_), Some(json)) = (a.symbol, a.json) {
        cx.error_at(
            json,
            "a #[entity(json)] field cannot be a symbol: symbols are short text tags; remove `symbol` or `json`",
        );
    }
    check_decimal_spec(cx, a);
    if let (Some(m), Some(_)) = (&a.max_len, a.json) {
        cx.error_at(
            m.span,
            "`max_len` limits text columns; a #[entity(json)] field is JSON: remove `max_len`",
        );
    }
    if a.timestamp.is_some() {
        let others: [(&str, Option<Span>); 3] = [
            ("json", a.json),
            ("with", a.with.as_ref().map(|w| w.span)),
            ("default", a.default),
        ];
        for (word, span) in others {
            if let Some(span) = span {
                cx.error_at(
                    span,
                    format!(
                        "the designated timestamp cannot have `{word}`: it is always stored as a `DateTime<Utc>`; remove `{word}`"
                    ),
                );
            }
        }
    }
}

/// Types a macro can judge by how they are written.
fn check_field_type(cx: &Ctxt, cont: &Container<'_>, f: &Field<'_>) {
    let a = &f.attrs;
    if a.skip.is_some() {
        return;
    }
    let inner = ty::option_inner(f.ty);
    if let Some(inner) = inner
        && ty::option_inner(inner).is_some()
    {
        cx.error_spanned_by(
            f.ty,
            format!(
                "`{}` cannot be stored: NULL has one meaning; use a single `Option<..>`",
                unraw(f.ident)
            ),
        );
        return;
    }
    if a.json.is_none() && a.with.is_none() {
        let plain = inner.unwrap_or(f.ty);
        if let Some((bad, instead)) = ty::unsupported_integer(plain) {
            cx.error_spanned_by(
                plain,
                format!(
                    "`{bad}` cannot be stored losslessly in every store: use {instead}, or #[entity(with = \"..\")] for a custom conversion"
                ),
            );
        }
    }
    if a.id.is_some() && a.json.is_none() {
        if inner.is_some() {
            cx.error_spanned_by(
                f.ty,
                "an #[entity(id)] field cannot be an Option: a key is never NULL; use the inner type",
            );
        } else if a.with.is_none() && ty::is_float(f.ty) {
            cx.error_spanned_by(
                f.ty,
                "an #[entity(id)] field cannot be a float (NaN and rounding break equality): use an integer, String, Uuid or rust_decimal::Decimal",
            );
        }
    }
    if a.timestamp.is_some() && a.json.is_none() && a.with.is_none() {
        let field = unraw(f.ident);
        if inner.is_some() {
            cx.error_spanned_by(
                f.ty,
                format!(
                    "the designated timestamp `{field}` cannot be an Option: every row has a time; write `DateTime<Utc>`"
                ),
            );
        } else {
            match ty::time_shape(f.ty) {
                TimeShape::Utc => {}
                TimeShape::OtherZone => cx.error_spanned_by(
                    f.ty,
                    format!(
                        "the designated timestamp `{field}` must be `DateTime<Utc>`: stores keep UTC; convert other zones with `.with_timezone(&Utc)`"
                    ),
                ),
                TimeShape::NotDateTime => cx.error_spanned_by(
                    f.ty,
                    format!(
                        "#[entity(timestamp)] needs a `chrono::DateTime<Utc>` field; `{field}` is not one: change its type, or move `timestamp` to the time field"
                    ),
                ),
            }
        }
    }
    if a.json.is_none() && a.with.is_none() {
        check_kind_attributes(cx, f);
    }
    if cont.attrs.questdb.is_some()
        && a.json.is_none()
        && a.with.is_none()
        && ty::is_vec_u8(inner.unwrap_or(f.ty))
    {
        cx.error_spanned_by(
            f.ty,
            format!(
                "`{}` is `Vec<u8>`, which QuestDB cannot store: remove questdb(..), mark the field #[entity(skip)], or store it as text with #[entity(with = \"..\")]",
                unraw(f.ident)
            ),
        );
    }
}

/// `symbol` and `max_len` need text, `precision`/`scale` a Decimal: checked here when the type's
/// name tells its kind (`i64`, `Uuid`..), so the error names the field and its type; other types
/// (text enums, newtypes, aliases) are checked by the expansion, through `FieldValue::KIND`.
fn check_kind_attributes(cx: &Ctxt, f: &Field<'_>) {
    let a = &f.attrs;
    let Some(kind) = ty::known_kind(f.ty) else {
        return;
    };
    let field = unraw(f.ident);
    let shown = ty::display(f.ty);
    if kind != KnownKind::Text {
        let text_only: [(&str, Option<Span>); 2] = [
            ("symbol", a.symbol),
            ("max_len", a.max_len.as_ref().map(|m| m.span)),
        ];
        for (word, span) in text_only {
            if let Some(span) = span {
                cx.error_at(
                    span,
                    format!(
                        "`{word}` applies to text columns, and `{field}` is `{shown}`: remove `{word}`, or make the field a String or a #[derive(TextEnum)] enum"
                    ),
                );
            }
        }
    }
    if kind != KnownKind::Decimal
        && let Some(span) = a.scale.as_ref().or(a.precision.as_ref()).map(|s| s.span)
    {
        cx.error_at(
            span,
            format!(
                "`precision` and `scale` declare a Decimal column, and `{field}` is `{shown}`: remove them, or make the field a rust_decimal::Decimal"
            ),
        );
    }
}

/// Ids and the designated timestamp across fields.
fn check_roles(cx: &Ctxt, cont: &Container<'_>) {
    let mut first_ts: Option<&Field<'_>> = None;
    let mut ids = 0usize;
    for f in cont.stored() {
        if let Some(span) = f.attrs.timestamp {
            match first_ts {
                None => first_ts = Some(f),
                Some(first) => cx.error_at(
                    span,
                    format!(
                        "only one field can be the designated #[entity(timestamp)], and `{}` already is: remove this one (other time fields are plain columns)",
                        unraw(first.ident)
                    ),
                ),
            }
        }
        if let Some(span) = f.attrs.id {
            ids += 1;
            if ids == MAX_KEY_PARTS + 1 {
                cx.error_at(
                    span,
                    format!("a key can have at most {MAX_KEY_PARTS} #[entity(id)] fields: remove `id` from the rest"),
                );
            }
        }
    }
}

/// Column names: valid, and unique after renaming; typed column constants unique.
fn check_columns(cx: &Ctxt, cont: &Container<'_>) {
    let mut seen: HashMap<String, &Field<'_>> = HashMap::new();
    let mut consts: HashMap<String, &Field<'_>> = HashMap::new();
    for f in cont.stored() {
        let column = cont.column(f);
        if f.attrs.rename.is_none()
            && let Err(why) = naming::validate_identifier(&column)
        {
            cx.error_spanned_by(
                    f.ident,
                    format!(
                        "column name \"{column}\" of field `{}` is invalid ({why}): set #[entity(rename = \"..\")]",
                        unraw(f.ident)
                    ),
                );
        }
        if let Some(first) = seen.get(&column) {
            let span = f
                .attrs
                .rename
                .as_ref()
                .map_or_else(|| f.ident.span(), |r| r.span);
            cx.error_at(
                span,
                format!(
                    "fields `{}` and `{}` are both stored in column \"{column}\": give one of them #[entity(rename = \"..\")]",
                    unraw(first.ident),
                    unraw(f.ident)
                ),
            );
        } else {
            seen.insert(column, f);
        }
        if f.attrs.json.is_none() && f.attrs.with.is_none() {
            let name = screaming_snake(&unraw(f.ident));
            if let Some(first) = consts.get(&name) {
                cx.error_spanned_by(
                    f.ident,
                    format!(
                        "fields `{}` and `{}` would both get the typed column constant `{name}`: rename one of the fields",
                        unraw(first.ident),
                        unraw(f.ident)
                    ),
                );
            } else {
                consts.insert(name, f);
            }
        }
    }
}

fn check_questdb(cx: &Ctxt, cont: &Container<'_>) {
    let Some(q) = &cont.attrs.questdb else { return };
    if !cont.stored().any(|f| f.attrs.timestamp.is_some()) {
        cx.error_at(
            q.span,
            "questdb(..) needs a designated timestamp: mark a `DateTime<Utc>` field with #[entity(timestamp)]",
        );
    }
    if let Some(dedup) = q.dedup
        && !cont.stored().any(|f| f.attrs.id.is_some())
    {
        cx.error_at(
                dedup,
                "questdb(dedup) deduplicates on the timestamp plus the id fields, and this entity has none: add #[entity(id)] to the field(s) that identify a row, or remove `dedup`",
            );
    }
}

fn check_redis(cx: &Ctxt, cont: &Container<'_>) {
    let Some(r) = &cont.attrs.redis else { return };
    let ids: Vec<&Field<'_>> = cont.stored().filter(|f| f.attrs.id.is_some()).collect();
    if ids.is_empty() {
        cx.error_at(
            r.span,
            "redis(..) needs a key: mark the key field(s) with #[entity(id)]",
        );
        return;
    }
    let Some((parts, lit)) = &r.key else { return };
    let mut named: Vec<&str> = Vec::new();
    let mut bad_placeholder = false;
    for part in parts {
        let Part::Field(name) = part else { continue };
        let id_list = ids
            .iter()
            .map(|f| format!("{{{}}}", unraw(f.ident)))
            .collect::<Vec<_>>()
            .join(", ");
        match cont.fields.iter().find(|f| unraw(f.ident) == *name) {
            None => {
                bad_placeholder = true;
                cx.error_spanned_by(
                    lit,
                    format!(
                        "key template names `{{{name}}}`, but `{}` has no field `{name}`: placeholders name #[entity(id)] fields ({id_list})",
                        cont.ident
                    ),
                );
            }
            Some(f) if f.attrs.id.is_none() || f.attrs.skip.is_some() => {
                bad_placeholder = true;
                cx.error_spanned_by(
                    lit,
                    format!(
                        "key template names `{{{name}}}`, which is not an id field: name only #[entity(id)] fields ({id_list}), or mark `{name}` #[entity(id)]"
                    ),
                );
            }
            Some(_) => {
                if named.contains(&name.as_str()) {
                    cx.error_spanned_by(
                        lit,
                        format!("key template names `{{{name}}}` twice: name each id field once"),
                    );
                }
                named.push(name);
            }
        }
    }
    // A misspelt placeholder usually stands for the missing id: one error is enough.
    if bad_placeholder {
        return;
    }
    for f in &ids {
        let name = unraw(f.ident);
        if !named.contains(&name.as_str()) {
            cx.error_spanned_by(
                lit,
                format!(
                    "key template does not name id field `{name}`: add `:{{{name}}}` (every id must appear once, or two records could share a key)"
                ),
            );
        }
    }
}

/// `precision` and `scale` of a `Decimal` field: both within what `rust_decimal` holds exactly.
fn check_decimal_spec(cx: &Ctxt, a: &crate::attr::Field) {
    /// Digits a `rust_decimal::Decimal` holds exactly (its 96-bit mantissa holds every 28-digit
    /// number, not every 29-digit one).
    const MAX_PRECISION: u32 = 28;
    match (&a.precision, &a.scale) {
        (Some(p), None) => cx.error_at(
            p.span,
            format!(
                "`precision` needs a `scale`: write precision = {}, scale = 8 (digits after the point)",
                p.value
            ),
        ),
        (Some(p), _) if p.value > MAX_PRECISION => cx.error_at(
            p.span,
            format!(
                "precision = {} exceeds the {MAX_PRECISION} digits a rust_decimal::Decimal holds exactly: write precision = {MAX_PRECISION} or less",
                p.value
            ),
        ),
        (Some(p), Some(s)) if s.value > p.value => {
            let or_precision = if s.value <= MAX_PRECISION {
                format!(", or precision = {} or more", s.value)
            } else {
                String::new()
            };
            cx.error_at(
                s.span,
                format!(
                    "scale = {} exceeds precision = {} (the scale counts the digits after the point, which are part of the precision): write scale = {} or less{or_precision}",
                    s.value, p.value, p.value
                ),
            );
        }
        (None, Some(s)) if s.value > MAX_PRECISION => cx.error_at(
            s.span,
            format!(
                "scale = {} exceeds the {MAX_PRECISION} digits a rust_decimal::Decimal holds exactly: write scale = {MAX_PRECISION} or less",
                s.value
            ),
        ),
        _ => {}
    }
    if let (Some(s), Some(_)) = (&a.scale, a.json) {
        cx.error_at(
            s.span,
            "`scale` and `precision` declare a Decimal column; a #[entity(json)] field is JSON: remove them",
        );
    }
}
