//! `#[derive(TextEnum)]`: a fieldless enum stored as text.
//!
//! Generates `TextEnum` (the variant texts, `as_str`, `from_text` as one `match`), `FieldValue`
//! (kind Text; decoding lists the accepted values on a mismatch) and `Display`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::naming::unraw;

/// Entry point: parse, check, expand (errors plus a best-effort impl when something is wrong).
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = attr::parse_text_container(&cx, &input.attrs);
    let data = match &input.data {
        Data::Enum(e) => e,
        Data::Struct(s) => {
            cx.error_spanned_by(
                s.struct_token,
                "#[derive(TextEnum)] works on fieldless enums: write `enum Name { A, B }`; for a struct stored as a row use #[derive(Entity)]",
            );
            return cx.into_compile_errors();
        }
        Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "#[derive(TextEnum)] works on fieldless enums: write `enum Name { A, B }`",
            );
            return cx.into_compile_errors();
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "#[derive(TextEnum)] does not support generic enums: remove the type parameters",
        );
        return cx.into_compile_errors();
    }
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "#[derive(TextEnum)] needs at least one variant: write e.g. `enum Mode { Paper, Live }`",
        );
    }

    let mut texts: Vec<(String, &syn::Variant)> = Vec::new();
    for variant in &data.variants {
        let rename = attr::parse_text_variant(&cx, &variant.attrs);
        match &variant.fields {
            Fields::Unit => {}
            fields => cx.error_spanned_by(
                fields,
                format!(
                    "#[derive(TextEnum)] variants cannot have fields: write `{}` without them, or store the enum with #[entity(json)]",
                    variant.ident
                ),
            ),
        }
        let text = match (&rename, container.rename_all) {
            (Some(r), _) => r.value.clone(),
            (None, Some(rule)) => rule.apply_to_variant(&unraw(&variant.ident)),
            (None, None) => unraw(&variant.ident),
        };
        if text.is_empty() {
            cx.error_spanned_by(
                &variant.ident,
                "a variant's stored text cannot be empty: write e.g. #[text(rename = \"other\")]",
            );
        }
        if let Some((_, first)) = texts.iter().find(|(t, _)| *t == text) {
            cx.error_spanned_by(
                &variant.ident,
                format!(
                    "variants `{}` and `{}` are both stored as \"{text}\": give one of them #[text(rename = \"..\")]",
                    first.ident, variant.ident
                ),
            );
        }
        texts.push((text, variant));
    }

    let krate = match &container.crate_path {
        Some(p) => quote!(#p),
        None => quote!(::dal),
    };
    let ident = &input.ident;
    let all: Vec<&String> = texts.iter().map(|(t, _)| t).collect();
    // `{ .. }` matches unit variants too, so the impl stays well-formed next to a field error.
    let as_str_arms = texts.iter().map(|(t, v)| {
        let vi = &v.ident;
        quote!(#ident::#vi { .. } => #t,)
    });
    let from_text_arms = texts
        .iter()
        .filter(|(_, v)| matches!(v.fields, Fields::Unit))
        .map(|(t, v)| {
            let vi = &v.ident;
            quote!(#t => __dal::Some(#ident::#vi),)
        });
    let as_str_body = if texts.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#as_str_arms)* })
    };
    let errors = cx.into_compile_errors();
    quote! {
        #errors
        #[doc(hidden)]
        const _: () = {
            use #krate::__private as __dal;

            #[automatically_derived]
            impl __dal::TextEnum for #ident {
                const VARIANTS: &'static [&'static str] = &[#(#all),*];

                #[inline]
                fn as_str(&self) -> &'static str {
                    #as_str_body
                }

                fn from_text(text: &str) -> __dal::Option<Self> {
                    match text {
                        #(#from_text_arms)*
                        _ => __dal::None,
                    }
                }
            }

            #[automatically_derived]
            impl __dal::FieldValue for #ident {
                const KIND: __dal::FieldKind = __dal::FieldKind::Text;

                #[inline]
                fn encode<__V: __dal::FieldVisitor + ?Sized>(
                    &self,
                    field: &'static __dal::FieldMeta,
                    v: &mut __V,
                ) -> __dal::Result<()> {
                    v.str(field, <Self as __dal::TextEnum>::as_str(self))
                }

                fn decode_nullable<__D: __dal::FieldDecoder + ?Sized>(
                    field: &'static __dal::FieldMeta,
                    d: &mut __D,
                ) -> __dal::Result<__dal::Option<Self>> {
                    __dal::decode_text_enum::<Self, __D>(field, d)
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(<Self as __dal::TextEnum>::as_str(self))
                }
            }
        };
    }
}
