//! Derives for dal: `#[derive(Entity)]` and `#[derive(TextEnum)]`.
//!
//! This crate is a thin shim: each derive parses its input into a model (`ast`, `attr`), checks
//! the model (`check`) and generates code (`expand`, `text_enum`). The pure parts (names, TTLs,
//! key templates, SQL text) are ordinary functions with unit tests. The attribute reference is in
//! `ATTRIBUTES.md`; use the derives through the `dal` crate, which re-exports them.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod naming;
mod sql;
mod symbol;
mod template;
mod text_enum;
mod ttl;
mod ty;

/// `#[derive(Entity)]`: metadata, a field visitor, `Keyed` / `TimeSeries` and typed columns for a
/// struct with named fields. See the `dal` crate docs for the attributes.
#[proc_macro_derive(Entity, attributes(entity))]
pub fn derive_entity(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_entity(&input).into()
}

/// `#[derive(TextEnum)]`: a fieldless enum stored as text (`#[text(rename_all = "..")]`,
/// `#[text(rename = "..")]` on a variant, `#[text(crate = "..")]`).
#[proc_macro_derive(TextEnum, attributes(text))]
pub fn derive_text_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    text_enum::derive(&input).into()
}
