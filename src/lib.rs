//! `cluster`: RPC for clusters of server nodes.

pub use cluster_codec as codec;
pub use cluster_core::*;
