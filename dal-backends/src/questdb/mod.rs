//! The questdb backend (to be built).
