//! Every attribute at once; the derived metadata and a round trip through a captured row.

use chrono::{DateTime, TimeZone, Utc};
use dal::value::{RowCapture, RowDecoder};
use dal::{Entity, FieldKind, Keyed, TextEnum, TimeSeries};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, TextEnum)]
#[text(rename_all = "snake_case")]
pub enum Mode {
    PaperTrade,
    Live,
    #[text(rename = "x")]
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lamports(pub u64);

pub mod lamports {
    use super::Lamports;

    pub type Repr = String;

    pub fn to_repr(v: &Lamports) -> Repr {
        v.0.to_string()
    }

    pub fn from_repr(r: Repr) -> Result<Lamports, std::num::ParseIntError> {
        r.parse().map(Lamports)
    }
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(
    table = "trades",
    rename_all = "snake_case",
    questdb(partition = "day", ttl = "30d", dedup),
    redis(key = "trade:{id}", ttl = "2s")
)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    #[entity(symbol)]
    pub trader_id: String,
    pub mode: Mode,
    pub price: f64,
    pub note: Option<String>,
    #[entity(json)]
    pub extra: serde_json::Value,
    #[entity(skip)]
    pub scratch: u32,
    #[entity(with = "lamports")]
    pub fee: Lamports,
    #[entity(default)]
    pub tag: Option<i32>,
    #[entity(max_len = 20, rename = "symbol")]
    pub sym: String,
    #[entity(json)]
    pub maybe: Option<Vec<u32>>,
}

fn main() {
    let meta = Trade::META;
    assert_eq!(meta.name, "Trade");
    assert_eq!(meta.table, "trades");
    let columns: Vec<&str> = meta.fields.iter().map(|f| f.column).collect();
    assert_eq!(
        columns,
        ["id", "ts", "trader_id", "mode", "price", "note", "extra", "fee", "tag", "symbol", "maybe"]
    );
    let kinds: Vec<FieldKind> = meta.fields.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FieldKind::Uuid,
            FieldKind::Timestamp,
            FieldKind::Text,
            FieldKind::Text,
            FieldKind::F64,
            FieldKind::Text,
            FieldKind::Json,
            FieldKind::Text,
            FieldKind::I32,
            FieldKind::Text,
            FieldKind::Json,
        ]
    );
    let nullable: Vec<bool> = meta.fields.iter().map(|f| f.nullable).collect();
    assert_eq!(
        nullable,
        [false, false, false, false, false, true, false, false, true, false, true]
    );
    assert!(meta.fields.iter().enumerate().all(|(i, f)| f.index == i && f.entity == "Trade"));
    assert_eq!(meta.id_fields, &[0]);
    assert_eq!(meta.timestamp_field, Some(1));
    assert!(meta.fields[2].symbol && meta.fields[8].default);
    assert_eq!(meta.fields[9].max_len, Some(20));
    assert_eq!(meta.default_ttl, Some(std::time::Duration::from_secs(2)));
    assert_eq!(meta.questdb.ttl, Some("30 DAYS"));
    assert!(meta.questdb.dedup);
    assert_eq!(meta.questdb.partition, dal::__private::Partition::Day);
    assert_eq!(
        meta.key_template,
        &[
            dal::__private::KeySegment::Literal("trade:"),
            dal::__private::KeySegment::Field(0)
        ]
    );
    assert_eq!(
        meta.pg.insert,
        r#"INSERT INTO "trades" ("id", "ts", "trader_id", "mode", "price", "note", "extra", "fee", "tag", "symbol", "maybe") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#
    );
    assert_eq!(
        meta.pg.delete_by_key,
        r#"DELETE FROM "trades" WHERE "id" = $1"#
    );

    let trade = Trade {
        id: Uuid::from_u128(7),
        ts: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        trader_id: "alice".into(),
        mode: Mode::PaperTrade,
        price: 1.5,
        note: None,
        extra: serde_json::json!({"venue": "x"}),
        scratch: 99,
        fee: Lamports(5000),
        tag: Some(3),
        sym: "SOL".into(),
        maybe: Some(vec![1, 2]),
    };
    let mut row = RowCapture::default();
    trade.encode(&mut row).unwrap();
    assert_eq!(row.0.len(), 11);
    assert_eq!(row.0[3], dal::Value::Text("paper_trade".into()));
    assert_eq!(row.0[7], dal::Value::Text("5000".into()));
    let back = Trade::decode(&mut RowDecoder::new(&row.0)).unwrap();
    assert_eq!(back, Trade { scratch: 0, ..trade.clone() });

    // `default`: a NULL decodes as Default::default().
    row.0[8] = dal::Value::Null;
    assert_eq!(Trade::decode(&mut RowDecoder::new(&row.0)).unwrap().tag, None);

    assert_eq!(trade.key(), Uuid::from_u128(7));
    assert_eq!(trade.timestamp(), trade.ts);
    let filter = Trade::TRADER_ID.eq("alice".to_owned());
    let _ = filter;
    let _ = Trade::NOTE.is_null();
    assert_eq!(Trade::SYM.field().column, "symbol");

    assert_eq!(Mode::VARIANTS, &["paper_trade", "live", "x"]);
    assert_eq!(Mode::from_text("x"), Some(Mode::Other));
    assert_eq!(Mode::from_text("Live"), None);
    assert_eq!(Mode::Live.to_string(), "live");
}
