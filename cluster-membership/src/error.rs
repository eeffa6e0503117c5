//! What can go wrong in membership: finding a node, claiming a name, talking
//! to a backend, and the calls made through it.

use std::path::PathBuf;
#[cfg(feature = "etcd")]
use std::sync::Arc;

/// An error from the directory, a backend, or a call made by name.
///
/// A call that reached a node and failed there carries the core's error in
/// [`Error::Call`]; everything else is about finding the node.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No node of that name is in the directory (and the call did not ask
    /// to wait for one, or none came within its timeout).
    #[error("no node named {name:?} in the directory")]
    NoNode {
        /// The name asked for.
        name: String,
    },
    /// A group has no member in the directory.
    #[error("no node in group {group}")]
    NoMember {
        /// The group, as in [`crate::Selector`]'s `Display`.
        group: String,
    },
    /// Another node holds the name: two nodes cannot share one.
    #[error("node name {name:?} is taken by the node at {holder}")]
    NameTaken {
        /// The name that was claimed.
        name: String,
        /// The address the current holder advertises.
        holder: String,
    },
    /// A node record is malformed; the text says what is wrong.
    #[error("node record {key}: {reason}")]
    Record {
        /// The node name or etcd key of the record.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A static directory file could not be read or parsed.
    #[error("directory file {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The etcd backend failed.
    #[cfg(feature = "etcd")]
    #[error("etcd: {0}")]
    Etcd(Arc<etcd_client::Error>),
    /// The membership handle was shut down.
    #[error("membership is shut down")]
    Shutdown,
    /// The call reached a node's peer and failed there.
    #[error(transparent)]
    Call(#[from] cluster_core::Error),
}

#[cfg(feature = "etcd")]
impl From<etcd_client::Error> for Error {
    fn from(e: etcd_client::Error) -> Self {
        Error::Etcd(Arc::new(e))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
