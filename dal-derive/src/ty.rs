//! Syntactic type inspection: what a derive can tell from how a field's type is written.
//!
//! Type aliases defeat these checks; the expansion backs them with const assertions on
//! `FieldValue::KIND` where the kind matters.

use syn::{GenericArgument, PathArguments, Type};

fn strip(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => return ty,
        }
    }
}

/// The last path segment of a plain path type (`chrono::DateTime<Utc>` -> `DateTime<Utc>`).
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match strip(ty) {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// The single type argument of a segment (`Option<T>` -> `T`).
fn single_arg(seg: &syn::PathSegment) -> Option<&Type> {
    match &seg.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match args.args.first() {
            Some(GenericArgument::Type(t)) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// `T` when `ty` is written `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty)?;
    if seg.ident == "Option" {
        single_arg(seg)
    } else {
        None
    }
}

/// Whether `ty` is a bare primitive named `name` (`f64`).
pub(crate) fn is_primitive(ty: &Type, name: &str) -> bool {
    match strip(ty) {
        Type::Path(p) if p.qself.is_none() => p.path.is_ident(name),
        _ => false,
    }
}

/// Whether `ty` is `f32` or `f64`.
pub(crate) fn is_float(ty: &Type) -> bool {
    is_primitive(ty, "f32") || is_primitive(ty, "f64")
}

/// How `ty` relates to `chrono::DateTime<Utc>`.
pub(crate) enum TimeShape {
    /// Written `DateTime<Utc>` (any path prefix).
    Utc,
    /// `DateTime` with another time zone (or none given).
    OtherZone,
    /// Something else.
    NotDateTime,
}

/// Classifies `ty` against `DateTime<Utc>`.
pub(crate) fn time_shape(ty: &Type) -> TimeShape {
    match last_segment(ty) {
        Some(seg) if seg.ident == "DateTime" => match single_arg(seg).and_then(last_segment) {
            Some(zone) if zone.ident == "Utc" => TimeShape::Utc,
            _ => TimeShape::OtherZone,
        },
        _ => TimeShape::NotDateTime,
    }
}

/// Whether `ty` is written `Vec<u8>`.
pub(crate) fn is_vec_u8(ty: &Type) -> bool {
    match last_segment(ty) {
        Some(seg) if seg.ident == "Vec" => single_arg(seg).is_some_and(|t| is_primitive(t, "u8")),
        _ => false,
    }
}

/// For an integer type no store holds losslessly, the type to use instead.
pub(crate) fn unsupported_integer(ty: &Type) -> Option<(&'static str, &'static str)> {
    const TABLE: &[(&str, &str)] = &[
        ("u64", "i64 (or u32, which is stored widened)"),
        ("usize", "i64 (or u32)"),
        ("isize", "i64"),
        ("i128", "i64, or rust_decimal::Decimal for larger values"),
        ("u128", "rust_decimal::Decimal, or i64 when values fit"),
        ("i8", "i16 (or u8, which is stored widened)"),
    ];
    TABLE
        .iter()
        .find(|(name, _)| is_primitive(ty, name))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).expect("test type parses")
    }

    #[test]
    fn options() {
        assert!(option_inner(&ty("Option<i32>")).is_some());
        assert!(option_inner(&ty("std::option::Option<String>")).is_some());
        assert!(option_inner(&ty("Vec<i32>")).is_none());
        assert!(option_inner(&ty("i32")).is_none());
    }

    #[test]
    fn times() {
        assert!(matches!(time_shape(&ty("DateTime<Utc>")), TimeShape::Utc));
        assert!(matches!(
            time_shape(&ty("chrono::DateTime<chrono::Utc>")),
            TimeShape::Utc
        ));
        assert!(matches!(
            time_shape(&ty("DateTime<Local>")),
            TimeShape::OtherZone
        ));
        assert!(matches!(time_shape(&ty("i64")), TimeShape::NotDateTime));
    }

    #[test]
    fn integers_and_bytes() {
        assert!(unsupported_integer(&ty("u64")).is_some());
        assert!(unsupported_integer(&ty("i8")).is_some());
        assert!(unsupported_integer(&ty("i64")).is_none());
        assert!(is_vec_u8(&ty("Vec<u8>")));
        assert!(!is_vec_u8(&ty("Vec<i8>")));
        assert!(is_float(&ty("f32")));
        assert!(!is_float(&ty("Decimal")));
    }
}
