//! The redis backend (to be built).
