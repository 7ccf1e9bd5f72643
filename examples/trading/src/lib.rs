//! The trading platform on dal: the seed's models as derived entities ([`models`]).
//!
//! This crate is dal's first real user: everything here goes through the public API only.

pub mod models;
