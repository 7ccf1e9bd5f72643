//! Generates the entity shapes of the differential suite (feature `conformance`).
//!
//! A shape is a `#[derive(Entity)]` struct whose field kinds, attributes and order are drawn by a
//! seeded generator from a catalog of every storage class, so the suite runs the real derive and
//! every backend's real codec over orders and mixes nobody picked by hand (a text column before a
//! symbol once broke QuestDB's encoder). Entities are compile-time types, so the drawing happens
//! here; the values and operation sequences are drawn at run time by proptest.

use std::fmt::Write as _;
use std::path::PathBuf;

/// One field kind of the catalog.
struct Kind {
    /// Short tag used in the field name.
    tag: &'static str,
    /// The Rust type.
    ty: &'static str,
    /// The `#[entity(..)]` words, if any.
    attrs: &'static str,
    /// The value strategy (an expression over the suite's `values` module, `v`).
    strategy: &'static str,
    /// Aggregates can run over it.
    numeric: bool,
    /// Usable in a time series on every time-series backend (QuestDB has no BYTEA, and keeps a
    /// decimal's scale only when it is declared).
    series: bool,
}

const fn k(
    tag: &'static str,
    ty: &'static str,
    attrs: &'static str,
    strategy: &'static str,
    numeric: bool,
    series: bool,
) -> Kind {
    Kind {
        tag,
        ty,
        attrs,
        strategy,
        numeric,
        series,
    }
}

const CATALOG: &[Kind] = &[
    k("text", "String", "", "v::text()", false, true),
    k("otext", "Option<String>", "", "of(v::text())", false, true),
    k("sym", "String", "symbol", "v::symbol()", false, true),
    k(
        "osym",
        "Option<String>",
        "symbol",
        "of(v::symbol())",
        false,
        true,
    ),
    k(
        "short",
        "Option<String>",
        "max_len = 8",
        "of(v::text())",
        false,
        true,
    ),
    k("flag", "bool", "", "any::<bool>()", false, true),
    k(
        "oflag",
        "Option<bool>",
        "",
        "of(any::<bool>())",
        false,
        true,
    ),
    k("i16", "i16", "", "v::i16()", true, true),
    k("i32", "i32", "", "v::i32()", true, true),
    k("i64", "i64", "", "v::i64()", true, true),
    k("oi64", "Option<i64>", "", "of(v::i64())", true, true),
    k("f32", "f32", "", "v::f32()", true, true),
    k("f64", "f64", "", "v::f64()", true, true),
    k("of64", "Option<f64>", "", "of(v::f64())", true, true),
    k("uuid", "Uuid", "", "v::uuid()", false, true),
    k("ouuid", "Option<Uuid>", "", "of(v::uuid())", false, true),
    k("at", "DateTime<Utc>", "", "v::timestamp()", false, true),
    k(
        "oat",
        "Option<DateTime<Utc>>",
        "",
        "of(v::timestamp())",
        false,
        true,
    ),
    k(
        "dec",
        "Decimal",
        "precision = 18, scale = 8",
        "v::decimal()",
        true,
        true,
    ),
    k(
        "odec",
        "Option<Decimal>",
        "scale = 4",
        "of(v::decimal())",
        true,
        true,
    ),
    k("anydec", "Decimal", "", "v::decimal()", true, false),
    k("doc", "Doc", "json", "v::doc()", false, true),
    k("odoc", "Option<Doc>", "json", "of(v::doc())", false, true),
    k("bytes", "Vec<u8>", "", "v::bytes()", false, false),
    k(
        "obytes",
        "Option<Vec<u8>>",
        "",
        "of(v::bytes())",
        false,
        false,
    ),
];

/// Id kinds of keyed shapes: each entry is one key (one or two parts).
const KEYS: &[&[(&str, &str, &str)]] = &[
    &[("id", "String", "v::text()")],
    &[("id", "i64", "v::i64()")],
    &[("id", "Uuid", "v::uuid()")],
    &[("id", "i32", "v::i32()")],
    &[("a", "String", "v::text()"), ("b", "String", "v::text()")],
    &[("a", "String", "v::text()"), ("b", "i64", "v::i64()")],
];

const SERIES_SHAPES: usize = 10;
const KEYED_SHAPES: usize = 10;
/// Changing the seed draws other shapes; keep it unless the catalog changes.
const SEED: u64 = 0x0da1_d1ff_5eed_0001;

/// splitmix64: a tiny, well-mixed deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// One generated field.
struct GenField {
    name: String,
    ty: String,
    attrs: Vec<String>,
    strategy: String,
    numeric: bool,
    tag: String,
}

fn from_kind(kind: &Kind, n: usize) -> GenField {
    GenField {
        name: format!("f{n}_{}", kind.tag),
        ty: kind.ty.to_owned(),
        attrs: if kind.attrs.is_empty() {
            Vec::new()
        } else {
            vec![kind.attrs.to_owned()]
        },
        strategy: kind.strategy.to_owned(),
        numeric: kind.numeric,
        tag: kind.tag.to_owned(),
    }
}

fn series_shape(rng: &mut Rng) -> Vec<GenField> {
    let mut fields = vec![GenField {
        name: "ts".into(),
        ty: "DateTime<Utc>".into(),
        attrs: vec!["timestamp".into()],
        strategy: "v::series_timestamp()".into(),
        numeric: false,
        tag: "ts".into(),
    }];
    match rng.below(3) {
        0 => fields.push(GenField {
            name: "id".into(),
            ty: "i64".into(),
            attrs: vec!["id".into()],
            strategy: "v::small_i64()".into(),
            numeric: false,
            tag: "id".into(),
        }),
        1 => fields.push(GenField {
            name: "id".into(),
            ty: "String".into(),
            attrs: vec!["id".into()],
            strategy: "v::small_text()".into(),
            numeric: false,
            tag: "id".into(),
        }),
        _ => {}
    }
    let pool: Vec<&Kind> = CATALOG.iter().filter(|k| k.series).collect();
    let extra = 2 + rng.below(4);
    for n in 0..extra {
        fields.push(from_kind(pool[rng.below(pool.len())], n));
    }
    if rng.below(3) != 0 && !fields.iter().any(|f| f.tag == "sym") {
        fields.push(from_kind(&CATALOG[2], extra));
    }
    if !fields.iter().any(|f| f.numeric) {
        fields.push(from_kind(&CATALOG[12], extra + 1));
    }
    rng.shuffle(&mut fields);
    fields
}

fn keyed_shape(rng: &mut Rng, key: &[(&str, &str, &str)]) -> Vec<GenField> {
    let mut fields: Vec<GenField> = key
        .iter()
        .map(|(name, ty, strategy)| GenField {
            name: (*name).into(),
            ty: (*ty).into(),
            attrs: vec!["id".into()],
            strategy: (*strategy).into(),
            numeric: false,
            tag: "id".into(),
        })
        .collect();
    let extra = 2 + rng.below(5);
    for n in 0..extra {
        fields.push(from_kind(&CATALOG[rng.below(CATALOG.len())], n));
    }
    rng.shuffle(&mut fields);
    fields
}

/// Adds each kind no shape has to one shape, round robin (at the end: the order stays drawn).
fn cover(shapes: &mut [Vec<GenField>], kinds: &[&Kind]) {
    let mut next = 0;
    for kind in kinds {
        let present = shapes.iter().any(|s| s.iter().any(|f| f.tag == kind.tag));
        if !present {
            let shape = &mut shapes[next % shapes.len()];
            let n = shape.len();
            shape.push(from_kind(kind, n));
            next += 1;
        }
    }
}

fn write_shape(out: &mut String, name: &str, table: &str, container: &str, fields: &[GenField]) {
    let order: Vec<&str> = fields.iter().map(|f| f.ty.as_str()).collect();
    let _ = writeln!(out, "/// Generated shape: `{}`.", order.join(", "));
    let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq, Entity)]");
    let _ = writeln!(
        out,
        "#[entity(crate = \"crate\", table = \"{table}\"{container})]"
    );
    let _ = writeln!(out, "pub struct {name} {{");
    for f in fields {
        let _ = writeln!(out, "    #[allow(missing_docs)]");
        if !f.attrs.is_empty() {
            let _ = writeln!(out, "    #[entity({})]", f.attrs.join(", "));
        }
        let _ = writeln!(out, "    pub {}: {},", f.name, f.ty);
    }
    let _ = writeln!(out, "}}\n");
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let strategies: Vec<&str> = fields.iter().map(|f| f.strategy.as_str()).collect();
    let _ = writeln!(out, "impl Shape for {name} {{");
    let _ = writeln!(out, "    fn strategy() -> BoxedStrategy<Self> {{");
    let _ = writeln!(
        out,
        "        ({},).prop_map(|({},)| {name} {{ {} }}).boxed()",
        strategies.join(", "),
        names.join(", "),
        names.join(", ")
    );
    let _ = writeln!(out, "    }}\n}}\n");
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let mut out =
        String::from("// @generated by dal/build.rs: the differential suite's shapes.\n\n");
    let mut rng = Rng(SEED);

    let mut series = Vec::new();
    // Redraw until some shape puts a text column before a symbol (the order that once failed).
    loop {
        series.clear();
        for _ in 0..SERIES_SHAPES {
            series.push(series_shape(&mut rng));
        }
        let text_before_symbol = series.iter().any(|s| {
            let sym = s.iter().position(|f| f.attrs.iter().any(|a| a == "symbol"));
            let text = s
                .iter()
                .position(|f| f.ty.contains("String") && f.attrs.is_empty());
            matches!((text, sym), (Some(t), Some(s)) if t < s)
        });
        if text_before_symbol {
            break;
        }
    }
    // Every kind a series can hold appears in some series shape, every kind in some keyed shape:
    // a kind the draw missed is added to the shapes in turn.
    let series_kinds: Vec<&Kind> = CATALOG.iter().filter(|k| k.series).collect();
    cover(&mut series, &series_kinds);
    let mut keyed: Vec<Vec<GenField>> = (0..KEYED_SHAPES)
        .map(|i| keyed_shape(&mut rng, KEYS[i % KEYS.len()]))
        .collect();
    let all_kinds: Vec<&Kind> = CATALOG.iter().collect();
    cover(&mut keyed, &all_kinds);

    let mut series_names = Vec::new();
    for (i, fields) in series.iter().enumerate() {
        let name = format!("SeriesShape{i:02}");
        let table = format!("dif_series_{i:02}");
        // QuestDB deduplicates on (ts, ids); a series without ids keeps every row.
        let container = if fields.iter().any(|f| f.tag == "id") {
            ", questdb(partition = \"day\", dedup)"
        } else {
            ", questdb(partition = \"day\")"
        };
        write_shape(&mut out, &name, &table, container, fields);
        series_names.push(name);
    }
    let mut keyed_names = Vec::new();
    for (i, fields) in keyed.iter().enumerate() {
        let name = format!("KeyedShape{i:02}");
        let table = format!("dif_keyed_{i:02}");
        let ttl = if i % 2 == 1 {
            ", redis(ttl = \"1h\")"
        } else {
            ""
        };
        write_shape(&mut out, &name, &table, ttl, fields);
        keyed_names.push(name);
    }

    let _ = writeln!(
        out,
        "/// Calls `$m!(Shape, ..)` once with every time-series shape.\nmacro_rules! all_series_shapes {{ ($m:ident) => {{ $m!({}) }}; }}",
        series_names.join(", ")
    );
    let _ = writeln!(
        out,
        "/// Calls `$m!(Shape, ..)` once with every keyed shape.\nmacro_rules! all_keyed_shapes {{ ($m:ident) => {{ $m!({}) }}; }}",
        keyed_names.join(", ")
    );
    let _ = writeln!(
        out,
        "pub(crate) use all_series_shapes;\npub(crate) use all_keyed_shapes;"
    );
    let metas: Vec<String> = series_names
        .iter()
        .chain(&keyed_names)
        .map(|n| format!("<{n} as Entity>::META"))
        .collect();
    let _ = writeln!(
        out,
        "/// Every shape's metadata (tables a setup creates).\npub static SHAPES: &[&EntityMeta] = &[{}];",
        metas.join(", ")
    );
    // The conformance entities first, then the shapes: `conformance::ENTITIES`.
    let _ = writeln!(
        out,
        "/// The conformance entities and every shape.\npub(crate) const ALL_ENTITIES: &[&EntityMeta] = &[<super::super::Record as Entity>::META, <super::super::Pair as Entity>::META, <super::super::Route as Entity>::META, <super::super::Tick as Entity>::META, {}];",
        metas.join(", ")
    );
    let _ = std::fs::write(out_dir.join("differential_shapes.rs"), out);
}
