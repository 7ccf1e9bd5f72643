//! The conformance suite (to be built).
