//! The generated entity shapes (see `dal/build.rs`) and the JSON document they hold.
//!
//! Every shape's table name starts with `dif_`; [`SHAPES`] lists their metadata, and
//! [`crate::conformance::ENTITIES`] includes them, so a conformance setup creates their tables.

#![allow(missing_docs)]

use chrono::{DateTime, Utc};
use proptest::option::of;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Shape;
use super::values as v;
use crate::{Entity, EntityMeta};

/// The JSON document of `json` fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    /// Any text.
    pub label: String,
    /// Any integer.
    pub n: i64,
    /// A finite float.
    pub x: f64,
    /// Short tags.
    pub tags: Vec<String>,
}

include!(concat!(env!("OUT_DIR"), "/differential_shapes.rs"));
