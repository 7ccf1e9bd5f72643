//! Compile-time checks for `#[derive(Entity)]` that depend on a field's storage kind, for types
//! whose name does not give it away (text enums, newtypes, aliases; the derive checks the others
//! itself).
//!
//! Each check is a trait implemented only for `KindCheck<true>`. Generated code requires it of
//! `KindCheck<{ condition on FieldValue::KIND }>`, spanned on the attribute that asked for the
//! kind, so a failed check is an E0277 that carries the trait's message and says what to write
//! instead (a `const` assertion would wrap it in "evaluation panicked").

/// The outcome of one check on a field's storage kind.
pub struct KindCheck<const OK: bool>;

/// `symbol` on a field that is not stored as text.
#[diagnostic::on_unimplemented(
    message = "`symbol` applies to text columns, and this field is not stored as text",
    label = "this field is not text",
    note = "remove `symbol`, or make the field a String or a #[derive(TextEnum)] enum"
)]
pub trait SymbolNeedsText {}
#[diagnostic::do_not_recommend]
impl SymbolNeedsText for KindCheck<true> {}
/// Compiles when the check holds.
pub const fn symbol_needs_text<C: SymbolNeedsText>() {}

/// `max_len` on a field that is not stored as text.
#[diagnostic::on_unimplemented(
    message = "`max_len` applies to text columns, and this field is not stored as text",
    label = "this field is not text",
    note = "remove `max_len`, or make the field a String or a #[derive(TextEnum)] enum"
)]
pub trait MaxLenNeedsText {}
#[diagnostic::do_not_recommend]
impl MaxLenNeedsText for KindCheck<true> {}
/// Compiles when the check holds.
pub const fn max_len_needs_text<C: MaxLenNeedsText>() {}

/// `precision` / `scale` on a field that is not a `Decimal`.
#[diagnostic::on_unimplemented(
    message = "`precision` and `scale` declare a Decimal column, and this field is not a Decimal",
    label = "this field is not a rust_decimal::Decimal",
    note = "remove `precision` and `scale`, or make the field a rust_decimal::Decimal (or an Option of one)"
)]
pub trait ScaleNeedsDecimal {}
#[diagnostic::do_not_recommend]
impl ScaleNeedsDecimal for KindCheck<true> {}
/// Compiles when the check holds.
pub const fn scale_needs_decimal<C: ScaleNeedsDecimal>() {}

/// `id` on a field whose kind cannot be compared exactly, or that can be NULL.
#[diagnostic::on_unimplemented(
    message = "this #[entity(id)] field cannot be a key: its type is a float, an Option or JSON",
    label = "a key must compare exactly and never be NULL",
    note = "make the key an integer, String, Uuid, rust_decimal::Decimal or #[derive(TextEnum)] enum, or remove `id`"
)]
pub trait IdNeedsExactType {}
#[diagnostic::do_not_recommend]
impl IdNeedsExactType for KindCheck<true> {}
/// Compiles when the check holds.
pub const fn id_needs_exact_type<C: IdNeedsExactType>() {}

/// A bytes field in an entity with a `questdb(..)` section.
#[diagnostic::on_unimplemented(
    message = "QuestDB cannot store this field: it is stored as bytes",
    label = "stored as bytes",
    note = "remove questdb(..), mark the field #[entity(skip)], or store it as text with #[entity(with = \"..\")]"
)]
pub trait QuestDbNeedsNoBytes {}
#[diagnostic::do_not_recommend]
impl QuestDbNeedsNoBytes for KindCheck<true> {}
/// Compiles when the check holds.
pub const fn questdb_needs_no_bytes<C: QuestDbNeedsNoBytes>() {}
