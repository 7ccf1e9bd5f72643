//! The Redis key template (`redis(key = "trade:{id}")`): parsed into literal text and
//! placeholders at expansion time. The syntax rules here keep the key codec injective.

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Literal(String),
    /// `{name}`: a field, by its Rust name.
    Field(String),
}

/// Parses a template; the error says what to write instead.
pub(crate) fn parse_key_template(text: &str) -> Result<Vec<Part>, String> {
    if text.is_empty() {
        return Err(
            "the key template is empty: write e.g. key = \"trade:{id}\", or omit `key` for the default `<table>:{id}`"
                .to_owned(),
        );
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest.to_owned()));
                break;
            }
            Some(i) => {
                if rest.as_bytes()[i] == b'}' {
                    return Err(format!(
                        "unbalanced `}}` in key template \"{text}\": placeholders are written `{{field}}`, and literal braces are not allowed"
                    ));
                }
                if i > 0 {
                    parts.push(Part::Literal(rest[..i].to_owned()));
                }
                let after = &rest[i + 1..];
                let Some(close) = after.find(['{', '}']) else {
                    return Err(format!(
                        "unclosed `{{` in key template \"{text}\": write `{{field}}`"
                    ));
                };
                if after.as_bytes()[close] == b'{' {
                    return Err(format!(
                        "unbalanced `{{` in key template \"{text}\": placeholders are written `{{field}}` and cannot nest"
                    ));
                }
                let name = after[..close].trim();
                if name.is_empty() {
                    return Err(format!(
                        "empty placeholder `{{}}` in key template \"{text}\": name an id field, e.g. `{{id}}`"
                    ));
                }
                parts.push(Part::Field(name.to_owned()));
                rest = &after[close + 1..];
            }
        }
    }
    // Placeholders render escaped parts that never contain ':', so a ':' between two of them is
    // what makes the rendering reversible.
    for pair in parts.windows(2) {
        if let [Part::Field(a), Part::Field(b)] = pair {
            return Err(format!(
                "placeholders `{{{a}}}` and `{{{b}}}` must be separated by `:` in key template \"{text}\": write `{{{a}}}:{{{b}}}`"
            ));
        }
    }
    for triple in parts.windows(3) {
        if let [Part::Field(a), Part::Literal(lit), Part::Field(b)] = triple
            && !lit.contains(':')
        {
            return Err(format!(
                "placeholders `{{{a}}}` and `{{{b}}}` must be separated by `:` in key template \"{text}\": write `{{{a}}}:{{{b}}}`"
            ));
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Literal(s.to_owned())
    }
    fn field(s: &str) -> Part {
        Part::Field(s.to_owned())
    }

    #[test]
    fn parses_literals_and_fields() {
        assert_eq!(
            parse_key_template("trade:{id}"),
            Ok(vec![lit("trade:"), field("id")])
        );
        assert_eq!(
            parse_key_template("px:{venue}:{token}:v1"),
            Ok(vec![
                lit("px:"),
                field("venue"),
                lit(":"),
                field("token"),
                lit(":v1")
            ])
        );
        assert_eq!(parse_key_template("{id}"), Ok(vec![field("id")]));
        assert_eq!(parse_key_template("static"), Ok(vec![lit("static")]));
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(parse_key_template("").unwrap_err().contains("empty"));
        assert!(
            parse_key_template("a:{id")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            parse_key_template("a:id}")
                .unwrap_err()
                .contains("unbalanced `}`")
        );
        assert!(parse_key_template("a:{{id}}").unwrap_err().contains("nest"));
        assert!(
            parse_key_template("a:{}")
                .unwrap_err()
                .contains("empty placeholder")
        );
        assert!(
            parse_key_template("{a}{b}")
                .unwrap_err()
                .contains("separated")
        );
        assert!(
            parse_key_template("{a}-{b}")
                .unwrap_err()
                .contains("separated")
        );
        assert!(parse_key_template("{a}-:-{b}").is_ok());
    }
}
