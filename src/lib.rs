//! `cluster`: RPC for clusters of server nodes.

pub use cluster_codec as codec;
// cluster-core is still a placeholder on this branch: nothing to re-export.
#[allow(unused_imports)]
pub use cluster_core::*;

pub mod zproto;

/// Generates Rust message types from a `.zproto` schema file, at compile
/// time: `cluster::zproto!("schemas/game.zproto")`, the path relative to the
/// crate's `Cargo.toml`. See the [`zproto`](mod@zproto) module for the
/// mapping and an example; a schema error is a compile error naming the
/// file, line and column.
pub use cluster_macros::zproto;

/// Items that generated code refers to. Not a public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    pub use bytes;
    pub use cluster_codec;
    pub use cluster_core;
}
