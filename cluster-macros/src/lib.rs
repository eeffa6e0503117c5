//! Procedural macros of `cluster`. Use them through the `cluster` crate.
