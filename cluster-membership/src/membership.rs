//! The membership handle: a node's view of the directory, its registration
//! in it, and the peers it opened to the nodes it calls by name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cluster_core::{Node, Peer};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backend::{Backend, BackendConfig};
use crate::directory::{Directory, DirectoryWatch};
use crate::error::{Error, Result};
use crate::group::{Group, Selector};
use crate::record::NodeRecord;
use crate::static_dir::StaticDirectory;
use crate::target::NodeTarget;

/// A node's membership in a directory of named nodes. Cheap to clone;
/// clones share it.
///
/// ```
/// use cluster_membership::{Membership, NodeRecord, StaticDirectory};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cluster_membership::Result<()> {
/// let dir = StaticDirectory::new([])?;
/// let node = cluster_core::Node::builder().build();
/// let listener = node.listen("127.0.0.1:0")?;
/// let me = Membership::builder(node)
///     .backend(dir.clone())
///     .register(NodeRecord::new("echo-1", listener.local_addr().to_string()))
///     .build()
///     .await?;
/// assert!(dir.directory().get("echo-1").is_some());
/// me.shutdown().await;
/// assert!(dir.directory().get("echo-1").is_none());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Membership {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    node: Node,
    directory: DirectoryWatch,
    backend: Mutex<Option<Backend>>,
    /// Outbound peers opened to directory members, by address.
    peers: Mutex<HashMap<String, Peer>>,
    wait_timeout: Duration,
    /// True once shut down; a watch, so that waiting calls wake for it.
    shut: watch::Sender<bool>,
}

/// Configures a [`Membership`]: [`Membership::builder`].
pub struct MembershipBuilder {
    node: Node,
    backend: BackendConfig,
    record: Option<NodeRecord>,
    wait_timeout: Duration,
}

impl Membership {
    /// Starts configuring the membership of `node`: by default on an
    /// empty, private [`StaticDirectory`], without registering.
    pub fn builder(node: Node) -> MembershipBuilder {
        MembershipBuilder {
            node,
            backend: BackendConfig::Static(StaticDirectory::default()),
            record: None,
            wait_timeout: cluster_core::DEFAULT_TIMEOUT,
        }
    }

    /// The current directory.
    pub fn directory(&self) -> Arc<Directory> {
        self.inner.directory.borrow().clone()
    }

    /// A watch of the directory: `borrow()` for now, `changed()` for next.
    pub fn watch(&self) -> DirectoryWatch {
        self.inner.directory.clone()
    }

    /// The node this membership calls from.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    /// A call target for the node named `name`, resolved at each call: it
    /// follows the node to a new address, and fails with [`Error::NoNode`]
    /// at once while no node has the name (see [`NodeTarget::wait`]).
    pub fn named(&self, name: &str) -> NodeTarget {
        NodeTarget::new(self.clone(), name)
    }

    /// A call target for the group of nodes `selector` picks, round-robin
    /// unless told otherwise (see [`Group`]).
    pub fn group(&self, selector: Selector) -> Group {
        Group::new(self.clone(), selector)
    }

    /// Deregisters (the name is given up, the etcd lease revoked) before
    /// anything else, then stops the backend's tasks and forgets the peers
    /// it opened. Calls by name fail with [`Error::Shutdown`] afterwards;
    /// [`Membership::directory`] keeps the last snapshot. The peers are the
    /// node's: `Node::shutdown` closes them. Idempotent. `Node::shutdown`
    /// calls it first, before it stops anything.
    pub async fn shutdown(&self) {
        self.inner.shut.send_replace(true);
        let backend = lock(&self.inner.backend).take();
        if let Some(backend) = backend {
            backend.shutdown().await;
        }
        lock(&self.inner.peers).clear();
    }
}

impl MembershipBuilder {
    /// The backend: a [`StaticDirectory`] or, with feature `etcd`, an
    /// [`crate::EtcdOptions`].
    pub fn backend(mut self, backend: impl Into<BackendConfig>) -> Self {
        self.backend = backend.into();
        self
    }

    /// Registers this node under `record`'s name when built. The name is
    /// claimed atomically: building fails with [`Error::NameTaken`] if
    /// another node holds it.
    pub fn register(mut self, record: NodeRecord) -> Self {
        self.record = Some(record);
        self
    }

    /// How long a call that [waits](NodeTarget::wait) for its node waits
    /// when the call has no timeout of its own. The default is
    /// [`cluster_core::DEFAULT_TIMEOUT`] (5000 ms), the nodes' default.
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Starts the backend and registers.
    pub async fn build(self) -> Result<Membership> {
        if let Some(record) = &self.record {
            record.validate()?;
        }
        let backend = Backend::start(self.backend, self.record).await?;
        let membership = Membership {
            inner: Arc::new(Inner {
                node: self.node,
                directory: backend.watch(),
                backend: Mutex::new(Some(backend)),
                peers: Mutex::default(),
                wait_timeout: self.wait_timeout,
                shut: watch::Sender::new(false),
            }),
        };
        // The node's shutdown leaves the directory (revokes the lease)
        // before it stops anything, so nothing is routed to a node that is
        // going away.
        let leaving = Arc::downgrade(&membership.inner);
        membership.inner.node.on_shutdown(move || async move {
            if let Some(inner) = leaving.upgrade() {
                Membership { inner }.shutdown().await;
            }
        });
        Ok(membership)
    }
}

impl From<StaticDirectory> for BackendConfig {
    fn from(dir: StaticDirectory) -> Self {
        BackendConfig::Static(dir)
    }
}

impl Inner {
    pub(crate) fn check_open(&self) -> Result<()> {
        if *self.shut.borrow() {
            Err(Error::Shutdown)
        } else {
            Ok(())
        }
    }

    /// The directory snapshot now.
    pub(crate) fn snapshot(&self) -> Arc<Directory> {
        self.directory.borrow().clone()
    }

    /// How long a waiting call may wait when it has no timeout of its own.
    pub(crate) fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Waits until `found` finds something in the directory, or `deadline`.
    pub(crate) async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut found: impl FnMut(&Directory) -> Option<T>,
    ) -> Option<T> {
        let mut watch = self.directory.clone();
        let mut shut = self.shut.subscribe();
        let wait = async {
            loop {
                if let Some(t) = found(&watch.borrow_and_update()) {
                    return Some(t);
                }
                tokio::select! {
                    changed = watch.changed() => changed.ok()?,
                    _ = shut.wait_for(|shut| *shut) => return None,
                }
            }
        };
        tokio::time::timeout_at(deadline, wait).await.ok().flatten()
    }

    /// The peer for `addr`, opened once and kept while the address is in
    /// the directory.
    pub(crate) async fn peer(&self, addr: &str) -> Peer {
        if let Some(peer) = lock(&self.peers).get(addr).filter(|p| !p.is_closed()) {
            return peer.clone();
        }
        let known = self.snapshot();
        let extended = known.iter().any(|r| {
            r.addr == addr
                && r.caps
                    .iter()
                    .any(|c| c == cluster_core::EXTENSION_CAPABILITY)
        });
        let peer = if extended {
            self.node.connect_extended(addr).await
        } else {
            self.node.connect(addr).await
        };
        let mut peers = lock(&self.peers);
        // Forget addresses no node has any more, so churn cannot grow this.
        peers.retain(|a, _| known.iter().any(|r| r.addr == *a));
        peers.insert(addr.to_owned(), peer.clone());
        peer
    }

    /// The peer for `addr` if one is open: for least-in-flight selection.
    pub(crate) fn open_peer(&self, addr: &str) -> Option<Peer> {
        lock(&self.peers).get(addr).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one insert, take or lookup.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
