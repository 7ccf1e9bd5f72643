//! The model a derive works on: the struct, its fields and their parsed attributes.

use syn::{Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::attr;
use crate::ctxt::Ctxt;
use crate::naming;

/// A struct deriving `Entity`.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) generics: &'a syn::Generics,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
}

impl Container<'_> {
    /// The entity name (`name = ..` or the struct name).
    pub(crate) fn name(&self) -> String {
        match &self.attrs.name {
            Some(n) => n.value.clone(),
            None => naming::unraw(self.ident),
        }
    }

    /// The table name (`table = ..` or snake_case of the struct name).
    pub(crate) fn table(&self) -> String {
        match &self.attrs.table {
            Some(t) => t.value.clone(),
            None => naming::snake_case(&naming::unraw(self.ident)),
        }
    }

    /// The column of a field: `rename`, else the field name after `rename_all`.
    pub(crate) fn column(&self, field: &Field<'_>) -> String {
        if let Some(r) = &field.attrs.rename {
            return r.value.clone();
        }
        let name = naming::unraw(field.ident);
        match self.attrs.rename_all {
            Some(rule) => rule.apply_to_field(&name),
            None => name,
        }
    }

    /// Fields that are stored (not `skip`), in declaration order.
    pub(crate) fn stored(&self) -> impl Iterator<Item = &Field<'_>> {
        self.fields.iter().filter(|f| f.attrs.skip.is_none())
    }
}

impl Field<'_> {
    /// Whether the type is written `Option<..>`.
    pub(crate) fn is_option(&self) -> bool {
        crate::ty::option_inner(self.ty).is_some()
    }
}

/// Builds the model; `None` (with an error recorded) when the input is not a struct with named
/// fields. Container attributes are parsed either way so their errors show too.
pub(crate) fn container_from_ast<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
    let attrs = attr::parse_container(cx, &input.attrs);
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named,
            Fields::Unnamed(fields) => {
                cx.error_spanned_by(
                    fields,
                    "#[derive(Entity)] needs named fields, one per column: write `struct Name { id: Uuid, .. }` instead of a tuple struct",
                );
                return None;
            }
            Fields::Unit => {
                cx.error_spanned_by(
                    &input.ident,
                    "#[derive(Entity)] needs named fields, one per column: write `struct Name { id: Uuid, .. }` instead of a unit struct",
                );
                return None;
            }
        },
        Data::Enum(e) => {
            cx.error_spanned_by(
                e.enum_token,
                "#[derive(Entity)] works on structs with named fields; for a fieldless enum stored as text use #[derive(TextEnum)]",
            );
            return None;
        }
        Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "#[derive(Entity)] works on structs with named fields, not unions: write `struct Name { .. }`",
            );
            return None;
        }
    };
    let fields = named
        .named
        .iter()
        .filter_map(|f| {
            let ident = f.ident.as_ref()?;
            Some(Field {
                ident,
                ty: &f.ty,
                attrs: attr::parse_field(cx, &f.attrs),
            })
        })
        .collect();
    Some(Container {
        ident: &input.ident,
        vis: &input.vis,
        generics: &input.generics,
        attrs,
        fields,
    })
}
