//! Code generation for `#[derive(Entity)]`: only ever sees a checked model.
//!
//! Output is one `const _: () = { .. };` block holding the `'static` metadata, the `Entity`
//! visitor impl, `Keyed` / `TimeSeries` when the roles exist, and typed column constants. Paths go
//! through `<crate>::__private` only. Kind-dependent rules the macro cannot see syntactically are
//! emitted as trait bounds on the field's `FieldValue::KIND`, spanned on the attribute that asked
//! for them (see `assertions`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Index};

use crate::ast::{self, Container, Field};
use crate::attr::Partition;
use crate::check;
use crate::ctxt::Ctxt;
use crate::naming::{screaming_snake, unraw};
use crate::sql;
use crate::template::Part;
use crate::ty;

/// Entry point: parse, check, expand (or errors plus a stub).
pub(crate) fn derive_entity(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let Some(cont) = ast::container_from_ast(&cx, input) else {
        return cx.into_compile_errors();
    };
    check::check(&cx, &cont);
    if cx.has_errors() {
        let stub = stub(&cont);
        let errors = cx.into_compile_errors();
        return quote! { #errors #stub };
    }
    expand(&cont)
}

fn crate_path(cont: &Container<'_>) -> TokenStream {
    match &cont.attrs.crate_path {
        Some(path) => quote!(#path),
        None => quote!(::dal),
    }
}

/// `&__FIELDS[i]`
fn field_ref(i: usize) -> TokenStream {
    quote!(&__FIELDS[#i])
}

/// The storage kind and nullability expressions of a stored field.
fn kind_nullable(f: &Field<'_>) -> (TokenStream, TokenStream) {
    let ty = f.ty;
    if f.attrs.json.is_some() {
        let nullable = f.is_option();
        (quote!(__dal::FieldKind::Json), quote!(#nullable))
    } else if let Some(with) = &f.attrs.with {
        let path = &with.value;
        let span = with.value.span();
        (
            quote_spanned!(span=> <#path::Repr as __dal::FieldValue>::KIND),
            quote_spanned!(span=> <#path::Repr as __dal::FieldValue>::NULLABLE),
        )
    } else {
        let span = ty.span();
        (
            quote_spanned!(span=> <#ty as __dal::FieldValue>::KIND),
            quote_spanned!(span=> <#ty as __dal::FieldValue>::NULLABLE),
        )
    }
}

/// The `FieldValue` type whose `KIND` the const assertions look at (none for JSON fields).
fn value_type(f: &Field<'_>) -> Option<TokenStream> {
    if f.attrs.json.is_some() {
        None
    } else if let Some(with) = &f.attrs.with {
        let path = &with.value;
        Some(quote_spanned!(with.value.span()=> #path::Repr))
    } else {
        let ty = f.ty;
        Some(quote!(#ty))
    }
}

fn partition_tokens(p: Partition) -> TokenStream {
    match p {
        Partition::None => quote!(__dal::Partition::None),
        Partition::Hour => quote!(__dal::Partition::Hour),
        Partition::Day => quote!(__dal::Partition::Day),
        Partition::Week => quote!(__dal::Partition::Week),
        Partition::Month => quote!(__dal::Partition::Month),
        Partition::Year => quote!(__dal::Partition::Year),
    }
}

/// The key template: the given one, or `<table>:{id1}:{id2}..`.
fn key_template(cont: &Container<'_>, stored: &[&Field<'_>], ids: &[usize]) -> Vec<TokenStream> {
    let index_of = |name: &str| stored.iter().position(|f| unraw(f.ident) == name);
    match cont.attrs.redis.as_ref().and_then(|r| r.key.as_ref()) {
        Some((parts, _)) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Literal(s) => Some(quote!(__dal::KeySegment::Literal(#s))),
                // The check step guarantees the name is a stored id.
                Part::Field(name) => index_of(name).map(|i| quote!(__dal::KeySegment::Field(#i))),
            })
            .collect(),
        None if ids.is_empty() => Vec::new(),
        None => {
            let mut out = Vec::with_capacity(ids.len() * 2);
            let prefix = format!("{}:", cont.table());
            out.push(quote!(__dal::KeySegment::Literal(#prefix)));
            for (n, &i) in ids.iter().enumerate() {
                if n > 0 {
                    out.push(quote!(__dal::KeySegment::Literal(":")));
                }
                out.push(quote!(__dal::KeySegment::Field(#i)));
            }
            out
        }
    }
}

fn expand(cont: &Container<'_>) -> TokenStream {
    let krate = crate_path(cont);
    let ident = cont.ident;
    let vis = cont.vis;
    let name = cont.name();
    let table = cont.table();
    let stored: Vec<&Field<'_>> = cont.stored().collect();
    let count = stored.len();
    let columns: Vec<String> = stored.iter().map(|f| cont.column(f)).collect();
    let ids: Vec<usize> = (0..count)
        .filter(|&i| stored[i].attrs.id.is_some())
        .collect();
    let timestamp = (0..count).find(|&i| stored[i].attrs.timestamp.is_some());

    // --- metadata -------------------------------------------------------------------------
    let field_metas = stored.iter().enumerate().map(|(i, f)| {
        let fname = unraw(f.ident);
        let column = &columns[i];
        let (kind, nullable) = kind_nullable(f);
        let is_id = f.attrs.id.is_some();
        let is_ts = f.attrs.timestamp.is_some();
        let is_symbol = f.attrs.symbol.is_some();
        let is_default = f.attrs.default.is_some();
        let max_len = match &f.attrs.max_len {
            Some(m) => {
                let m = m.value;
                quote!(__dal::Some(#m))
            }
            None => quote!(__dal::None),
        };
        // `scale` alone declares the full 28 digits of a rust_decimal as the precision.
        let decimal = match &f.attrs.scale {
            Some(s) => {
                let scale = s.value;
                let precision = f.attrs.precision.as_ref().map_or(28, |p| p.value);
                quote!(__dal::Some(__dal::DecimalSpec { precision: #precision, scale: #scale }))
            }
            None => quote!(__dal::None),
        };
        quote! {
            __dal::FieldMeta {
                entity: #name,
                name: #fname,
                column: #column,
                index: #i,
                kind: #kind,
                nullable: #nullable,
                id: #is_id,
                timestamp: #is_ts,
                symbol: #is_symbol,
                default: #is_default,
                max_len: #max_len,
                decimal: #decimal,
            }
        }
    });
    let timestamp_field = match timestamp {
        Some(i) => quote!(__dal::Some(#i)),
        None => quote!(__dal::None),
    };
    let template = key_template(cont, &stored, &ids);
    let default_ttl = match cont.attrs.redis.as_ref().and_then(|r| r.ttl_ms) {
        Some(ms) => quote!(__dal::Some(__dal::Duration::from_millis(#ms))),
        None => quote!(__dal::None),
    };
    let (partition, qdb_ttl, dedup) = match &cont.attrs.questdb {
        Some(q) => (
            q.partition.unwrap_or(Partition::Day),
            q.ttl.clone(),
            q.dedup.is_some(),
        ),
        None => (Partition::Day, None, false),
    };
    let partition = partition_tokens(partition);
    let qdb_ttl = match qdb_ttl {
        Some(t) => quote!(__dal::Some(#t)),
        None => quote!(__dal::None),
    };
    let st = sql::statements(&table, &columns, &ids);
    let (pg_columns, insert, upsert, select_by_key, delete_by_key, select) = (
        &st.columns,
        &st.insert,
        &st.upsert,
        &st.select_by_key,
        &st.delete_by_key,
        &st.select,
    );

    // --- the visitor ------------------------------------------------------------------------
    let encodes = stored.iter().enumerate().map(|(i, f)| encode_field(i, f));
    let locals: Vec<_> = (0..count).map(|i| format_ident!("__field{}", i)).collect();
    let decodes = stored.iter().enumerate().map(|(i, f)| {
        let local = &locals[i];
        let expr = decode_field(i, f);
        quote!(let #local = #expr;)
    });
    let mut stored_index = 0usize;
    let inits = cont.fields.iter().map(|f| {
        let member = f.ident;
        if f.attrs.skip.is_some() {
            quote!(#member: ::core::default::Default::default())
        } else {
            let local = &locals[stored_index];
            stored_index += 1;
            quote!(#member: #local)
        }
    });
    let inits: Vec<_> = inits.collect();

    // --- roles ------------------------------------------------------------------------------
    let keyed = keyed_impl(ident, &stored, &ids);
    let time_series = timestamp.map(|i| {
        let member = stored[i].ident;
        quote! {
            impl __dal::TimeSeries for #ident {
                #[inline]
                fn timestamp(&self) -> __dal::DateTime<__dal::Utc> {
                    self.#member
                }
            }
        }
    });

    // --- typed columns ----------------------------------------------------------------------
    let column_consts = stored.iter().enumerate().filter_map(|(i, f)| {
        if f.attrs.json.is_some() || f.attrs.with.is_some() {
            return None;
        }
        let fname = unraw(f.ident);
        let const_name = format_ident!("{}", screaming_snake(&fname), span = f.ident.span());
        let ty = f.ty;
        let doc = format!(
            "Typed column `{}` (field `{fname}`), for filters and queries.",
            columns[i]
        );
        Some(quote! {
            #[doc = #doc]
            #vis const #const_name: __dal::Column<#ident, #ty> = __dal::Column::__new(&__FIELDS[#i]);
        })
    });
    // `Column::__new` has no bounds: a non-storable field type is reported once, by its other
    // uses (which rustc merges into one E0277), not again for its column constant.
    let columns_impl = quote! {
        #[automatically_derived]
        impl #ident {
            #(#column_consts)*
        }
    };

    let assertions = assertions(cont, &stored);

    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            use #krate::__private as __dal;

            #(#assertions)*

            // Constants, not statics: a crate that uses the entity gets the metadata's value, so
            // the optimizer folds per-field decisions (`field.symbol`, `field.max_len`..) in the
            // generated `encode`/`decode`, which are instantiated in the backend's crate.
            const __FIELDS: &[__dal::FieldMeta; #count] = &[#(#field_metas),*];

            const __META: &__dal::EntityMeta = &__dal::EntityMeta {
                name: #name,
                table: #table,
                fields: __FIELDS,
                id_fields: &[#(#ids),*],
                timestamp_field: #timestamp_field,
                key_template: &[#(#template),*],
                default_ttl: #default_ttl,
                questdb: __dal::QuestDbMeta {
                    partition: #partition,
                    ttl: #qdb_ttl,
                    dedup: #dedup,
                },
                pg: __dal::PgStatements {
                    columns: #pg_columns,
                    insert: #insert,
                    upsert: #upsert,
                    select_by_key: #select_by_key,
                    delete_by_key: #delete_by_key,
                    select: #select,
                },
            };

            #[automatically_derived]
            impl __dal::Entity for #ident {
                const META: &'static __dal::EntityMeta = __META;

                #[inline]
                fn encode<__V: __dal::FieldVisitor + ?Sized>(&self, __v: &mut __V) -> __dal::Result<()> {
                    #(#encodes)*
                    __dal::Ok(())
                }

                #[inline]
                fn decode<__D: __dal::FieldDecoder + ?Sized>(__d: &mut __D) -> __dal::Result<Self> {
                    #(#decodes)*
                    __dal::Ok(#ident { #(#inits),* })
                }
            }

            #keyed
            #time_series
            #columns_impl
        };
    }
}

fn encode_field(i: usize, f: &Field<'_>) -> TokenStream {
    let member = f.ident;
    let field = field_ref(i);
    if f.attrs.json.is_some() {
        let span = f.ty.span();
        if f.is_option() {
            quote_spanned!(span=> __dal::json::encode_opt(&self.#member, #field, __v)?;)
        } else {
            quote_spanned!(span=> __dal::json::encode(&self.#member, #field, __v)?;)
        }
    } else if let Some(with) = &f.attrs.with {
        let path = &with.value;
        quote_spanned!(with.value.span()=>
            __dal::FieldValue::encode(&#path::to_repr(&self.#member), #field, __v)?;
        )
    } else {
        // Naming the type (not just the value) puts a non-storable type's error on the type,
        // where rustc merges it with the other uses into one diagnostic.
        let ty = f.ty;
        quote_spanned!(ty.span()=> <#ty as __dal::FieldValue>::encode(&self.#member, #field, __v)?;)
    }
}

fn decode_field(i: usize, f: &Field<'_>) -> TokenStream {
    let field = field_ref(i);
    let ty = f.ty;
    let default = f.attrs.default.is_some();
    if f.attrs.json.is_some() {
        let span = ty.span();
        match ty::option_inner(ty) {
            Some(inner) => {
                quote_spanned!(span=> __dal::json::decode_opt::<#inner, _>(#field, __d)?)
            }
            None if default => quote_spanned!(span=>
                __dal::json::decode_opt::<#ty, _>(#field, __d)?.unwrap_or_default()
            ),
            None => quote_spanned!(span=> __dal::json::decode::<#ty, _>(#field, __d)?),
        }
    } else if let Some(with) = &f.attrs.with {
        let path = &with.value;
        let span = with.value.span();
        if default {
            quote_spanned!(span=>
                match <#path::Repr as __dal::FieldValue>::decode_nullable(#field, __d)? {
                    __dal::Some(__repr) => #path::from_repr(__repr)
                        .map_err(|__e| __dal::Error::codec(#field, __e))?,
                    __dal::None => ::core::default::Default::default(),
                }
            )
        } else {
            quote_spanned!(span=>
                #path::from_repr(<#path::Repr as __dal::FieldValue>::decode(#field, __d)?)
                    .map_err(|__e| __dal::Error::codec(#field, __e))?
            )
        }
    } else if default {
        quote_spanned!(ty.span()=>
            <#ty as __dal::FieldValue>::decode_nullable(#field, __d)?.unwrap_or_default()
        )
    } else {
        quote_spanned!(ty.span()=> <#ty as __dal::FieldValue>::decode(#field, __d)?)
    }
}

fn keyed_impl(ident: &syn::Ident, stored: &[&Field<'_>], ids: &[usize]) -> Option<TokenStream> {
    if ids.is_empty() {
        return None;
    }
    let types: Vec<_> = ids.iter().map(|&i| stored[i].ty).collect();
    let members: Vec<_> = ids.iter().map(|&i| stored[i].ident).collect();
    let single = ids.len() == 1;
    let key_type = if single {
        let t = types[0];
        quote!(#t)
    } else {
        quote!((#(#types,)*))
    };
    let key_value = if single {
        let m = members[0];
        quote!(::core::clone::Clone::clone(&self.#m))
    } else {
        quote!((#(::core::clone::Clone::clone(&self.#members),)*))
    };
    let parts = ids.iter().enumerate().map(|(n, &i)| {
        let part = if single {
            quote!(key)
        } else {
            let n = Index::from(n);
            quote!(&key.#n)
        };
        let field = field_ref(i);
        match &stored[i].attrs.with {
            Some(with) => {
                let path = &with.value;
                quote!(__dal::FieldValue::encode(&#path::to_repr(#part), #field, __v)?;)
            }
            None => quote!(__dal::FieldValue::encode(#part, #field, __v)?;),
        }
    });
    Some(quote! {
        #[automatically_derived]
        impl __dal::Keyed for #ident {
            type Key = #key_type;

            #[inline]
            fn key(&self) -> Self::Key {
                #key_value
            }

            fn encode_key<__V: __dal::FieldVisitor + ?Sized>(key: &Self::Key, __v: &mut __V) -> __dal::Result<()> {
                #(#parts)*
                __dal::Ok(())
            }
        }
    })
}

/// Checks of rules that depend on a type's storage kind, for types whose name does not give it
/// away: each requires a `__dal` check trait of `KindCheck<{ condition on KIND }>`, spanned on
/// the attribute, so a failure is an E0277 with the trait's message (see `dal::field_checks`).
fn assertions(cont: &Container<'_>, stored: &[&Field<'_>]) -> Vec<TokenStream> {
    let mut out = Vec::new();
    let mut check = |span: proc_macro2::Span, function: &str, condition: TokenStream| {
        let function = format_ident!("{}", function, span = span);
        out.push(quote_spanned! {span=>
            const _: () = __dal::#function::<__dal::KindCheck<{ #condition }>>();
        });
    };
    for f in stored {
        let Some(ty) = value_type(f) else { continue };
        let kind = quote!(<#ty as __dal::FieldValue>::KIND);
        let is_text = quote!(::core::matches!(#kind, __dal::FieldKind::Text));
        if let Some(span) = f.attrs.symbol {
            check(span, "symbol_needs_text", is_text.clone());
        }
        if let Some(m) = &f.attrs.max_len {
            check(m.span, "max_len_needs_text", is_text.clone());
        }
        if let Some(s) = f.attrs.scale.as_ref().or(f.attrs.precision.as_ref()) {
            check(
                s.span,
                "scale_needs_decimal",
                quote!(::core::matches!(#kind, __dal::FieldKind::Decimal)),
            );
        }
        if let Some(span) = f.attrs.id {
            check(
                span,
                "id_needs_exact_type",
                quote!(
                    !::core::matches!(
                        #kind,
                        __dal::FieldKind::F32 | __dal::FieldKind::F64 | __dal::FieldKind::Json
                    ) && !<#ty as __dal::FieldValue>::NULLABLE
                ),
            );
        }
        // `Vec<u8>` written out is a check error already; this catches aliases and newtypes.
        if cont.attrs.questdb.is_some()
            && !ty::is_vec_u8(f.ty)
            && ty::option_inner(f.ty).is_none_or(|t| !ty::is_vec_u8(t))
        {
            check(
                f.ty.span(),
                "questdb_needs_no_bytes",
                quote!(!::core::matches!(#kind, __dal::FieldKind::Bytes)),
            );
        }
    }
    out
}

/// What to emit next to the errors: enough for uses of the entity to type-check, so the user
/// sees the attribute errors and not a cascade of missing impls.
fn stub(cont: &Container<'_>) -> TokenStream {
    if !cont.generics.params.is_empty() {
        return TokenStream::new();
    }
    let krate = crate_path(cont);
    let ident = cont.ident;
    let name = cont.name();
    let table = cont.table();
    let message =
        format!("#[derive(Entity)] on `{name}` failed to compile; fix the attribute errors");
    let ids: Vec<&Field<'_>> = cont
        .stored()
        .filter(|f| f.attrs.id.is_some() && f.attrs.json.is_none())
        .collect();
    let keyed = (!ids.is_empty()).then(|| {
        let types = ids.iter().map(|f| f.ty);
        let members = ids.iter().map(|f| f.ident);
        let (key_type, key_value) = if ids.len() == 1 {
            let t = ids[0].ty;
            let m = ids[0].ident;
            (quote!(#t), quote!(::core::clone::Clone::clone(&self.#m)))
        } else {
            (
                quote!((#(#types,)*)),
                quote!((#(::core::clone::Clone::clone(&self.#members),)*)),
            )
        };
        quote! {
            impl __dal::Keyed for #ident {
                type Key = #key_type;
                fn key(&self) -> Self::Key { #key_value }
                fn encode_key<__V: __dal::FieldVisitor + ?Sized>(_: &Self::Key, _: &mut __V) -> __dal::Result<()> {
                    __dal::Err(__dal::Error::invalid(#name, #message))
                }
            }
        }
    });
    let mut timestamps = cont.stored().filter(|f| {
        f.attrs.timestamp.is_some() && matches!(ty::time_shape(f.ty), ty::TimeShape::Utc)
    });
    let time_series = match (timestamps.next(), timestamps.next()) {
        (Some(f), None) => {
            let m = f.ident;
            Some(quote! {
                impl __dal::TimeSeries for #ident {
                    fn timestamp(&self) -> __dal::DateTime<__dal::Utc> { self.#m }
                }
            })
        }
        _ => None,
    };
    quote! {
        const _: () = {
            use #krate::__private as __dal;
            static __META: __dal::EntityMeta = __dal::EntityMeta {
                name: #name,
                table: #table,
                fields: &[],
                id_fields: &[],
                timestamp_field: __dal::None,
                key_template: &[],
                default_ttl: __dal::None,
                questdb: __dal::QuestDbMeta { partition: __dal::Partition::Day, ttl: __dal::None, dedup: false },
                pg: __dal::PgStatements { columns: "", insert: "", upsert: "", select_by_key: "", delete_by_key: "", select: "" },
            };
            impl __dal::Entity for #ident {
                const META: &'static __dal::EntityMeta = &__META;
                fn encode<__V: __dal::FieldVisitor + ?Sized>(&self, _: &mut __V) -> __dal::Result<()> {
                    __dal::Err(__dal::Error::invalid(#name, #message))
                }
                fn decode<__D: __dal::FieldDecoder + ?Sized>(_: &mut __D) -> __dal::Result<Self> {
                    __dal::Err(__dal::Error::invalid(#name, #message))
                }
            }
            #keyed
            #time_series
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn errors(out: &TokenStream) -> Vec<String> {
        // `compile_error! { "message" }`: collect the messages.
        let text = out.to_string();
        text.split("compile_error !")
            .skip(1)
            .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
            .collect()
    }

    #[test]
    fn errors_accumulate_and_a_stub_follows() {
        let input: DeriveInput = parse_quote! {
            #[entity(table = "a b", tabel = "x", redis(ttl = "0s"))]
            struct Trade {
                #[entity(id, default)]
                id: u64,
                #[entity(timestamp)]
                at: i64,
            }
        };
        let out = derive_entity(&input);
        let messages = errors(&out);
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(messages[0].starts_with("invalid table name"));
        assert!(messages[1].starts_with("unknown entity attribute `tabel`"));
        assert!(messages[2].starts_with("invalid redis ttl"));
        assert!(messages.iter().any(|m| m.contains("cannot have `default`")));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("`u64` cannot be stored"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("needs a `chrono::DateTime<Utc>`"))
        );
        // The stub keeps `impl Entity` and `impl Keyed` so uses of `Trade` do not cascade.
        let text = out.to_string();
        assert!(text.contains("impl __dal :: Entity for Trade"));
        assert!(text.contains("impl __dal :: Keyed for Trade"));
        assert!(!text.contains("impl __dal :: TimeSeries for Trade"));
    }

    #[test]
    fn non_structs_get_only_the_error() {
        let input: DeriveInput = parse_quote! { enum Mode { A, B } };
        let out = derive_entity(&input);
        assert_eq!(errors(&out).len(), 1);
        assert!(!out.to_string().contains("impl"));
    }

    #[test]
    fn expansion_carries_the_computed_metadata() {
        let input: DeriveInput = parse_quote! {
            #[entity(rename_all = "camelCase", redis(key = "px:{venue}:{token}", ttl = "2s"), crate = "crate")]
            pub struct Price {
                #[entity(id)]
                venue: String,
                #[entity(id)]
                token: String,
                usd_price: f64,
                #[entity(skip)]
                scratch: u32,
            }
        };
        let out = derive_entity(&input);
        assert!(errors(&out).is_empty());
        let text = out.to_string();
        assert!(text.contains("use crate :: __private as __dal"));
        assert!(text.contains(r#"table : "price""#));
        assert!(text.contains(r#"column : "usdPrice""#));
        assert!(text.contains(
            r#""INSERT INTO \"price\" (\"venue\", \"token\", \"usdPrice\") VALUES ($1, $2, $3) ON CONFLICT (\"venue\", \"token\") DO UPDATE SET \"usdPrice\" = EXCLUDED.\"usdPrice\"""#
        ));
        assert!(text.contains("__dal :: KeySegment :: Literal (\"px:\")"));
        assert!(text.contains("Duration :: from_millis (2000u64)"));
        assert!(text.contains("type Key = (String , String ,)"));
        assert!(text.contains("pub const USD_PRICE"));
        assert!(!text.contains("SCRATCH"));
        assert!(text.contains("scratch : :: core :: default :: Default :: default ()"));
    }
}
