//! TTL strings: `redis(ttl = "2s")` becomes a `Duration` in milliseconds, `questdb(ttl = "30d")`
//! becomes QuestDB's TTL clause text (`30 DAYS`). Both are validated at expansion time.

/// Splits `<digits><unit>`; the error says what to write instead.
fn split(text: &str, units: &str) -> Result<(u64, String), String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "`{text}` is not a duration: write a whole number followed by a unit ({units}), e.g. \"30s\""
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}`: the number is too large"))?;
    if unit.starts_with(char::is_whitespace) {
        return Err(format!(
            "`{text}`: write the number and the unit without a space, e.g. \"{n}{}\" (units: {units})",
            unit.trim_start().chars().next().unwrap_or('s')
        ));
    }
    if n == 0 {
        return Err(format!(
            "`{text}`: a TTL must be greater than zero; omit `ttl` for no expiry"
        ));
    }
    Ok((n, unit.to_owned()))
}

/// Units of a Redis TTL.
pub(crate) const REDIS_UNITS: &str = "ms, s, m, h, d, w";
/// Units of a QuestDB TTL.
pub(crate) const QUESTDB_UNITS: &str = "h, d, w, M (months), y";

/// A Redis TTL in milliseconds.
pub(crate) fn parse_redis_ttl(text: &str) -> Result<u64, String> {
    let (n, unit) = split(text, REDIS_UNITS)?;
    let factor: u64 = match unit.as_str() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        "" => {
            return Err(format!(
                "`{text}` has no unit: write e.g. \"{n}s\" (units: {REDIS_UNITS})"
            ));
        }
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; use one of {REDIS_UNITS}"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too long for a TTL"))
}

/// QuestDB's TTL clause text (`30 DAYS`, `1 HOUR`).
pub(crate) fn parse_questdb_ttl(text: &str) -> Result<String, String> {
    let (n, unit) = split(text, QUESTDB_UNITS)?;
    let word = match unit.as_str() {
        "h" => "HOUR",
        "d" => "DAY",
        "w" => "WEEK",
        "M" => "MONTH",
        "y" => "YEAR",
        "" => {
            return Err(format!(
                "`{text}` has no unit: write e.g. \"{n}d\" (units: {QUESTDB_UNITS})"
            ));
        }
        // `m` reads as minutes to most people and as months to QuestDB's own shorthand: refuse
        // it and offer the nearest TTL QuestDB can hold, in whole hours.
        "m" => {
            let hours = n.div_ceil(60);
            return Err(format!(
                "`{text}`: QuestDB TTLs are whole hours, days, weeks, months or years, and `m` would be ambiguous: for {n} minutes write \"{hours}h\" (rounded up to whole hours); for months write \"{n}M\""
            ));
        }
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; use one of {QUESTDB_UNITS}"
            ));
        }
    };
    if i32::try_from(n).is_err() {
        return Err(format!("`{text}`: the number is too large"));
    }
    Ok(if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}S")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_ttls() {
        assert_eq!(parse_redis_ttl("250ms"), Ok(250));
        assert_eq!(parse_redis_ttl("2s"), Ok(2_000));
        assert_eq!(parse_redis_ttl("5m"), Ok(300_000));
        assert_eq!(parse_redis_ttl("1h"), Ok(3_600_000));
        assert_eq!(parse_redis_ttl("2d"), Ok(172_800_000));
        assert_eq!(parse_redis_ttl("1w"), Ok(604_800_000));
        assert!(
            parse_redis_ttl("0s")
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(parse_redis_ttl("10").unwrap_err().contains("no unit"));
        assert!(parse_redis_ttl("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_redis_ttl("s").unwrap_err().contains("whole number"));
        assert!(parse_redis_ttl("1.5s").is_err());
        assert!(parse_redis_ttl("99999999999999999999s").is_err());
        assert!(
            parse_redis_ttl("9999999999999999w")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn questdb_ttls() {
        assert_eq!(parse_questdb_ttl("30d").as_deref(), Ok("30 DAYS"));
        assert_eq!(parse_questdb_ttl("1d").as_deref(), Ok("1 DAY"));
        assert_eq!(parse_questdb_ttl("12h").as_deref(), Ok("12 HOURS"));
        assert_eq!(parse_questdb_ttl("2w").as_deref(), Ok("2 WEEKS"));
        assert_eq!(parse_questdb_ttl("1M").as_deref(), Ok("1 MONTH"));
        assert_eq!(parse_questdb_ttl("3y").as_deref(), Ok("3 YEARS"));
        assert!(parse_questdb_ttl("90m").unwrap_err().contains("\"2h\""));
        assert!(parse_questdb_ttl("5m").unwrap_err().contains("\"1h\""));
        assert!(parse_questdb_ttl("120m").unwrap_err().contains("\"2h\""));
        assert!(parse_questdb_ttl("0d").is_err());
        assert!(parse_questdb_ttl("30").is_err());
        assert!(
            parse_questdb_ttl("30 days")
                .unwrap_err()
                .contains("\"30d\"")
        );
    }
}
