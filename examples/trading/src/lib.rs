//! The trading platform models (to be built).
