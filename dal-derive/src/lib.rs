//! Derives for dal (placeholder).
use proc_macro::TokenStream;

/// `#[derive(Entity)]`
#[proc_macro_derive(Entity, attributes(entity))]
pub fn derive_entity(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// `#[derive(TextEnum)]`
#[proc_macro_derive(TextEnum, attributes(text))]
pub fn derive_text_enum(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
