#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
pub mod entity;
pub mod error;
mod field_checks;
pub mod key;
pub mod limits;
pub mod memory;
pub mod query;
pub mod repository;
pub mod retry;
pub mod store;
pub mod value;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use backend::{
    Backend, CacheBackend, Capabilities, Limits, MetricsBackend, QuantileAccuracy, RecordBackend,
    TimeSeriesBackend, Transaction, TransactionalBackend,
};
pub use entity::{DecimalSpec, Entity, EntityMeta, FieldKind, FieldMeta, Keyed, TimeSeries};
pub use error::{Error, Result};
pub use memory::Memory;
pub use query::{
    Aggregate, AnyColumn, BatchReport, Bucket, Column, Cursor, Filter, ListQuery, MetricQuery,
    Order, Page, RangeQuery, Summary,
};
pub use repository::Repository;
pub use retry::RetryPolicy;
pub use store::{CacheStore, MetricsStore, RecordStore, RecordStoreExt, TimeSeriesStore};
pub use value::{FieldValue, TextEnum, Value};

/// `#[derive(Entity)]`: see the crate docs for attributes.
pub use dal_derive::Entity;
/// `#[derive(TextEnum)]`: a fieldless enum stored as text.
pub use dal_derive::TextEnum;

/// Re-exports for generated code. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::entity::{
        DecimalSpec, Entity, EntityMeta, FieldKind, FieldMeta, KeySegment, Keyed, Partition,
        PgStatements, QuestDbMeta, TimeSeries,
    };
    pub use crate::error::{Error, Result};
    pub use crate::field_checks::*;
    pub use crate::query::Column;
    pub use crate::value::{
        FieldDecoder, FieldValue, FieldVisitor, TextEnum, decode_text_enum, json,
    };
    pub use chrono::{DateTime, Utc};
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{Err, Ok};
    pub use std::time::Duration;
}
