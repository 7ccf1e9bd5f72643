//! Postgres statement text, computed at expansion time from column names (already validated).
//!
//! Every identifier is double-quoted; placeholders are `$1..$n` in field order for writes and in
//! id order for keyed statements; the table is unqualified so `search_path` picks the schema.

/// The statements of one entity, as plain strings.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Statements {
    pub(crate) columns: String,
    pub(crate) insert: String,
    pub(crate) upsert: String,
    pub(crate) select_by_key: String,
    pub(crate) delete_by_key: String,
    pub(crate) select: String,
}

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Builds the statements for `table` with `columns` (field order); `ids` are indexes into
/// `columns`, in declaration order.
pub(crate) fn statements(table: &str, columns: &[String], ids: &[usize]) -> Statements {
    let table = quote_ident(table);
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let column_list = quoted.join(", ");
    let placeholders = (1..=columns.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO {table} ({column_list}) VALUES ({placeholders})");
    let select = format!("SELECT {column_list} FROM {table}");
    if ids.is_empty() {
        return Statements {
            columns: column_list,
            upsert: insert.clone(),
            insert,
            select_by_key: String::new(),
            delete_by_key: String::new(),
            select,
        };
    }
    let id_list = ids
        .iter()
        .map(|&i| quoted[i].as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let updates: Vec<String> = quoted
        .iter()
        .enumerate()
        .filter(|(i, _)| !ids.contains(i))
        .map(|(_, c)| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let upsert = if updates.is_empty() {
        format!("{insert} ON CONFLICT ({id_list}) DO NOTHING")
    } else {
        format!(
            "{insert} ON CONFLICT ({id_list}) DO UPDATE SET {}",
            updates.join(", ")
        )
    };
    let where_clause = ids
        .iter()
        .enumerate()
        .map(|(n, &i)| format!("{} = ${}", quoted[i], n + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    Statements {
        select_by_key: format!("{select} WHERE {where_clause}"),
        delete_by_key: format!("DELETE FROM {table} WHERE {where_clause}"),
        columns: column_list,
        insert,
        upsert,
        select,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn single_id() {
        let s = statements("trades", &cols(&["id", "ts", "price"]), &[0]);
        assert_eq!(s.columns, r#""id", "ts", "price""#);
        assert_eq!(
            s.insert,
            r#"INSERT INTO "trades" ("id", "ts", "price") VALUES ($1, $2, $3)"#
        );
        assert_eq!(
            s.upsert,
            r#"INSERT INTO "trades" ("id", "ts", "price") VALUES ($1, $2, $3) ON CONFLICT ("id") DO UPDATE SET "ts" = EXCLUDED."ts", "price" = EXCLUDED."price""#
        );
        assert_eq!(
            s.select_by_key,
            r#"SELECT "id", "ts", "price" FROM "trades" WHERE "id" = $1"#
        );
        assert_eq!(s.delete_by_key, r#"DELETE FROM "trades" WHERE "id" = $1"#);
        assert_eq!(s.select, r#"SELECT "id", "ts", "price" FROM "trades""#);
    }

    #[test]
    fn composite_id_in_declaration_order() {
        let s = statements("px", &cols(&["v", "venue", "token"]), &[1, 2]);
        assert_eq!(
            s.upsert,
            r#"INSERT INTO "px" ("v", "venue", "token") VALUES ($1, $2, $3) ON CONFLICT ("venue", "token") DO UPDATE SET "v" = EXCLUDED."v""#
        );
        assert_eq!(
            s.select_by_key,
            r#"SELECT "v", "venue", "token" FROM "px" WHERE "venue" = $1 AND "token" = $2"#
        );
        assert_eq!(
            s.delete_by_key,
            r#"DELETE FROM "px" WHERE "venue" = $1 AND "token" = $2"#
        );
    }

    #[test]
    fn all_ids_do_nothing_and_no_ids_plain_insert() {
        let s = statements("link", &cols(&["a", "b"]), &[0, 1]);
        assert!(s.upsert.ends_with(r#"ON CONFLICT ("a", "b") DO NOTHING"#));
        let s = statements("log", &cols(&["ts", "msg"]), &[]);
        assert_eq!(s.upsert, s.insert);
        assert_eq!(s.select_by_key, "");
        assert_eq!(s.delete_by_key, "");
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
