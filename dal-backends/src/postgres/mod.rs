//! The postgres backend (to be built).
