//! The directory: every named node known, as one immutable snapshot. A
//! backend publishes a new snapshot on each change through a
//! `tokio::sync::watch` channel; readers hold whichever one they last saw.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::record::NodeRecord;

/// A snapshot of the directory: node records by name, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    nodes: BTreeMap<String, Arc<NodeRecord>>,
}

impl Directory {
    /// A directory of `records` (a later record of one name replaces an
    /// earlier one).
    pub fn from_records(records: impl IntoIterator<Item = NodeRecord>) -> Self {
        Self {
            nodes: records
                .into_iter()
                .map(|r| (r.name.clone(), Arc::new(r)))
                .collect(),
        }
    }

    /// The node named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeRecord>> {
        self.nodes.get(name)
    }

    /// Every node, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<NodeRecord>> {
        self.nodes.values()
    }

    /// Every node's name, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    #[cfg(feature = "etcd")]
    pub(crate) fn insert(&mut self, record: NodeRecord) {
        self.nodes.insert(record.name.clone(), Arc::new(record));
    }

    #[cfg(feature = "etcd")]
    pub(crate) fn remove(&mut self, name: &str) -> Option<Arc<NodeRecord>> {
        self.nodes.remove(name)
    }
}

/// The receiving end of directory changes: `borrow()` is the current
/// snapshot, `changed().await` waits for the next.
pub type DirectoryWatch = watch::Receiver<Arc<Directory>>;

/// Publishes `next` unless it equals what is published: watchers wake only
/// for real changes.
pub(crate) fn publish(tx: &watch::Sender<Arc<Directory>>, next: Directory) {
    tx.send_if_modified(|current| {
        if **current == next {
            false
        } else {
            *current = Arc::new(next);
            true
        }
    });
}
