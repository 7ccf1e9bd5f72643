//! Store backends for dal: PostgreSQL (sqlx), QuestDB (questdb-rs + PG wire) and Redis, one cargo
//! feature each. Every backend has the same inner shape: `mod.rs` (the handle and its options),
//! `codec.rs` (rows in and out), `store.rs` (the backend-trait impls) and `error.rs` (mapping
//! driver errors into `dal::Error` categories).

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "questdb")]
pub mod questdb;
#[cfg(feature = "redis")]
pub mod redis;
