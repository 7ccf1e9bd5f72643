//! Names: `rename_all` case rules and the identifier rule shared by tables and columns.
//!
//! A table or column name must be valid, unquoted-safe, for both Postgres and QuestDB:
//! `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes (Postgres truncates longer identifiers silently).

/// Longest identifier Postgres keeps without truncating it.
pub(crate) const MAX_IDENT_LEN: usize = 63;

/// A `rename_all` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `lowercase`
    Lower,
    /// `UPPERCASE`
    Upper,
    /// `PascalCase`
    Pascal,
    /// `camelCase`
    Camel,
    /// `snake_case`
    Snake,
    /// `SCREAMING_SNAKE_CASE`
    ScreamingSnake,
    /// `kebab-case` (text enums only: not a valid column name)
    Kebab,
    /// `SCREAMING-KEBAB-CASE` (text enums only)
    ScreamingKebab,
}

/// Rules accepted by `#[entity(rename_all = ..)]` (all of them give valid column names).
pub(crate) const ENTITY_RULES: &[(&str, RenameRule)] = &[
    ("snake_case", RenameRule::Snake),
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("camelCase", RenameRule::Camel),
    ("PascalCase", RenameRule::Pascal),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
];

/// Rules accepted by `#[text(rename_all = ..)]`.
pub(crate) const TEXT_RULES: &[(&str, RenameRule)] = &[
    ("snake_case", RenameRule::Snake),
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("camelCase", RenameRule::Camel),
    ("PascalCase", RenameRule::Pascal),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
    ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
];

/// The rule named `text` among `rules`.
pub(crate) fn rule_from_str(rules: &[(&str, RenameRule)], text: &str) -> Option<RenameRule> {
    rules.iter().find(|(n, _)| *n == text).map(|(_, r)| *r)
}

/// `"a", "b", ..` for an error message.
pub(crate) fn rule_list(rules: &[(&str, RenameRule)]) -> String {
    rules
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RenameRule {
    /// Applies the rule to a Rust field name (snake_case by convention).
    pub(crate) fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut out = String::with_capacity(field.len());
                let mut capitalize = true;
                for c in field.chars() {
                    if c == '_' {
                        capitalize = true;
                    } else if capitalize {
                        out.extend(c.to_uppercase());
                        capitalize = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            RenameRule::Camel => lower_first(&RenameRule::Pascal.apply_to_field(field)),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.replace('_', "-").to_ascii_uppercase(),
        }
    }

    /// Applies the rule to a Rust variant or type name (PascalCase by convention).
    pub(crate) fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => lower_first(variant),
            RenameRule::Snake => snake_case(variant),
            RenameRule::ScreamingSnake => snake_case(variant).to_ascii_uppercase(),
            RenameRule::Kebab => snake_case(variant).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                snake_case(variant).replace('_', "-").to_ascii_uppercase()
            }
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `TradeEvent` -> `trade_event`; `HTTPServer` -> `h_t_t_p_server` would be odd, so runs of
/// capitals stay together: `HTTPServer` -> `http_server`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                // End of a run of capitals: `HTTPServer` breaks before `S`.
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `base_token` -> `BASE_TOKEN` (the typed column constant of a field).
pub(crate) fn screaming_snake(field: &str) -> String {
    field.to_ascii_uppercase()
}

/// Checks the identifier rule; the error says what is wrong.
pub(crate) fn validate_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("it is empty".to_owned());
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "it starts with `{first}`; it must start with an ASCII letter or `_`"
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!(
            "it contains `{bad}`; only ASCII letters, digits and `_` are allowed"
        ));
    }
    if name.len() > MAX_IDENT_LEN {
        return Err(format!(
            "it is {} bytes long; Postgres keeps at most {MAX_IDENT_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// A Rust identifier's text without the `r#` of raw identifiers.
pub(crate) fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules() {
        let f = "base_token_id";
        assert_eq!(RenameRule::Snake.apply_to_field(f), "base_token_id");
        assert_eq!(RenameRule::Upper.apply_to_field(f), "BASE_TOKEN_ID");
        assert_eq!(RenameRule::Pascal.apply_to_field(f), "BaseTokenId");
        assert_eq!(RenameRule::Camel.apply_to_field(f), "baseTokenId");
        assert_eq!(
            RenameRule::ScreamingSnake.apply_to_field(f),
            "BASE_TOKEN_ID"
        );
        assert_eq!(RenameRule::Lower.apply_to_field(f), "base_token_id");
    }

    #[test]
    fn variant_rules() {
        assert_eq!(
            RenameRule::Snake.apply_to_variant("PaperTrade"),
            "paper_trade"
        );
        assert_eq!(
            RenameRule::Lower.apply_to_variant("PaperTrade"),
            "papertrade"
        );
        assert_eq!(
            RenameRule::Upper.apply_to_variant("PaperTrade"),
            "PAPERTRADE"
        );
        assert_eq!(
            RenameRule::Camel.apply_to_variant("PaperTrade"),
            "paperTrade"
        );
        assert_eq!(
            RenameRule::ScreamingSnake.apply_to_variant("PaperTrade"),
            "PAPER_TRADE"
        );
        assert_eq!(
            RenameRule::Kebab.apply_to_variant("PaperTrade"),
            "paper-trade"
        );
        assert_eq!(
            RenameRule::ScreamingKebab.apply_to_variant("PaperTrade"),
            "PAPER-TRADE"
        );
    }

    #[test]
    fn snake_case_of_type_names() {
        assert_eq!(snake_case("Trade"), "trade");
        assert_eq!(snake_case("TradeEvent"), "trade_event");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Ohlc1m"), "ohlc1m");
        assert_eq!(snake_case("Price2Usd"), "price2_usd");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn identifier_rule() {
        assert!(validate_identifier("trades").is_ok());
        assert!(validate_identifier("_t9").is_ok());
        assert!(validate_identifier(&"a".repeat(63)).is_ok());
        assert!(validate_identifier(&"a".repeat(64)).is_err());
        assert!(validate_identifier("").is_err());
        assert!(validate_identifier("9lives").is_err());
        assert!(validate_identifier("my-table").is_err());
        assert!(validate_identifier("public.trades").is_err());
        assert!(validate_identifier("prix_\u{e9}").is_err());
    }
}
