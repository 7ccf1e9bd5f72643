//! Syntactic type inspection: what a derive can tell from how a field's type is written.
//!
//! Type aliases defeat these checks; the expansion backs them with trait bounds on
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

/// The storage kind of a type whose name gives it away, for the attributes that need one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KnownKind {
    /// `String`.
    Text,
    /// `Decimal` (`rust_decimal::Decimal`).
    Decimal,
    /// A type that is certainly neither: a primitive, `Uuid`, a date or time, a `Vec`, a tuple,
    /// an array, a reference.
    Other,
}

/// The kind of `ty` (looking through one `Option`), when its name alone tells; `None` for any
/// other path (text enums, newtypes, aliases), which the expansion checks by `FieldValue::KIND`.
pub(crate) fn known_kind(ty: &Type) -> Option<KnownKind> {
    const PRIMITIVES: &[&str] = &[
        "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "f32", "f64",
    ];
    const NOT_TEXT: &[&str] = &[
        "Uuid",
        "DateTime",
        "NaiveDateTime",
        "NaiveDate",
        "NaiveTime",
        "Vec",
        "HashMap",
        "BTreeMap",
        "HashSet",
        "BTreeSet",
    ];
    let ty = option_inner(ty).unwrap_or(ty);
    match strip(ty) {
        Type::Tuple(_) | Type::Array(_) | Type::Slice(_) | Type::Reference(_) => {
            return Some(KnownKind::Other);
        }
        _ => {}
    }
    if PRIMITIVES.iter().any(|p| is_primitive(ty, p)) {
        return Some(KnownKind::Other);
    }
    let seg = last_segment(ty)?;
    if seg.ident == "String" && seg.arguments.is_empty() {
        Some(KnownKind::Text)
    } else if seg.ident == "Decimal" && seg.arguments.is_empty() {
        Some(KnownKind::Decimal)
    } else if NOT_TEXT.iter().any(|name| seg.ident == name) {
        Some(KnownKind::Other)
    } else {
        None
    }
}

/// How a type is written, for messages (`Option<i64>`).
pub(crate) fn display(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty)
        .to_string()
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace("& ", "&")
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
    fn known_kinds() {
        assert_eq!(known_kind(&ty("String")), Some(KnownKind::Text));
        assert_eq!(known_kind(&ty("Option<String>")), Some(KnownKind::Text));
        assert_eq!(
            known_kind(&ty("rust_decimal::Decimal")),
            Some(KnownKind::Decimal)
        );
        assert_eq!(known_kind(&ty("Option<Decimal>")), Some(KnownKind::Decimal));
        for other in [
            "i64",
            "Option<u32>",
            "f64",
            "bool",
            "uuid::Uuid",
            "DateTime<Utc>",
            "Vec<u8>",
            "(i64, i64)",
            "[u8; 4]",
            "&'static str",
        ] {
            assert_eq!(known_kind(&ty(other)), Some(KnownKind::Other), "{other}");
        }
        for unknown in ["Side", "Venue", "Price", "my::Text", "Option<Side>"] {
            assert_eq!(known_kind(&ty(unknown)), None, "{unknown}");
        }
        assert_eq!(display(&ty("Option < i64 >")), "Option<i64>");
        assert_eq!(
            display(&ty("chrono::DateTime<Utc>")),
            "chrono::DateTime<Utc>"
        );
        assert_eq!(display(&ty("(i64, String)")), "(i64, String)");
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
