//! The in-memory backend (placeholder until the memory backend lands).

/// The in-memory backend.
#[derive(Debug, Clone, Default)]
pub struct Memory {}
