//! The trading platform on dal: the seed's models as derived entities ([`models`]), the seed's
//! four domain traits implemented on repositories ([`stores`]), and a paper-trading session that
//! drives them ([`session`], run by the `demo` binary).
//!
//! This crate is dal's first real user: everything here goes through dal's public API only,
//! including [`either::Either`], a backend written outside dal.

pub mod either;
pub mod models;
pub mod session;
pub mod stores;
