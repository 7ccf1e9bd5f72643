//! The ui suite: `#[derive(Entity)]` / `#[derive(TextEnum)]` diagnostics and store-bound misuse,
//! locked with trybuild. Regenerate with `TRYBUILD=overwrite cargo test -p dal-tests --test ui`
//! and review every `.stderr` diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    for category in [
        "container",
        "field",
        "types",
        "questdb",
        "redis",
        "stores",
        "text_enum",
    ] {
        t.compile_fail(format!("ui/{category}/*.rs"));
    }
}
