//! `precision` and `scale` on Decimal fields: the declaration reaches the metadata and shapes
//! what is written.

use dal::{DecimalSpec, Entity};
use rust_decimal::Decimal;
use std::str::FromStr;
use uuid::Uuid;

pub type Amount = Decimal;

#[derive(Clone, Entity)]
pub struct Fill {
    #[entity(id)]
    pub id: Uuid,
    #[entity(precision = 18, scale = 8)]
    pub price: Decimal,
    #[entity(scale = 2)]
    pub fee: Option<Decimal>,
    #[entity(precision = 28, scale = 0)]
    pub lots: Amount,
    pub plain: Decimal,
}

fn main() {
    let fields = Fill::META.fields;
    assert_eq!(fields[1].decimal, Some(DecimalSpec { precision: 18, scale: 8 }));
    assert_eq!(fields[2].decimal, Some(DecimalSpec { precision: 28, scale: 2 }));
    assert_eq!(fields[3].decimal, Some(DecimalSpec { precision: 28, scale: 0 }));
    assert_eq!(fields[4].decimal, None);

    let fitted = fields[1].fit_decimal(&Decimal::from_str("12.5").unwrap()).unwrap();
    assert_eq!(fitted.to_string(), "12.50000000");
    assert!(fields[1].fit_decimal(&Decimal::from_str("0.000000001").unwrap()).is_err());
    let plain = Decimal::from_str("1.230").unwrap();
    assert_eq!(fields[4].fit_decimal(&plain).unwrap().scale(), 3);
}
