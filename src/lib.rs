//! `cluster`: RPC for clusters of server nodes.

pub use cluster_codec as codec;
pub use cluster_core::*;

/// Items that generated code refers to. Not a public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    pub use bytes;
    pub use cluster_codec;
    pub use cluster_core;
}

/// Compiles the README's examples as doctests, so the README stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
