//! The node: one configured cluster endpoint that listens, connects, serves
//! requests and makes calls (silly's `cluster.serve`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::builder::NodeBuilder;
use crate::config::Config;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::handler::DynHandler;
use crate::listener::Listener;
use crate::peer::{Peer, PeerShared};

pub(crate) type AcceptFn = Box<dyn Fn(&Peer, SocketAddr) + Send + Sync>;
pub(crate) type CloseFn = Box<dyn Fn(&Peer, &Error) + Send + Sync>;

/// A cluster node: every node is both a server and a client.
///
/// Built with [`Node::builder`]; cheap to clone (clones are the same node).
///
/// ```no_run
/// use cluster_core::{Node, Request};
///
/// # async fn run() -> cluster_core::Result<()> {
/// let server = Node::builder()
///     .handler(|req: Request| async move { Some(req.body) })
///     .build();
/// let listener = server.listen("127.0.0.1:0")?;
///
/// let client = Node::builder().build();
/// let peer = client.connect(&listener.local_addr().to_string()).await;
/// let reply = peer.call(1, "ping").await?;
/// assert_eq!(reply, "ping");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Node {
    shared: Arc<NodeShared>,
}

pub(crate) struct NodeShared {
    pub(crate) config: Config,
    pub(crate) handler: Box<dyn DynHandler>,
    on_accept: Option<AcceptFn>,
    on_close: Option<CloseFn>,
    /// Outbound peers by the address they were connected with: connecting
    /// twice to one address gives one peer while it is open.
    peers: Mutex<HashMap<String, Weak<PeerShared>>>,
    pub(crate) connections: Connections,
    first_session: u32,
}

/// A snapshot of what a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// Open connections, inbound and outbound.
    pub connections: usize,
    /// Calls waiting for a response, over all connections.
    pub pending_calls: usize,
    /// Bytes queued for writing, over all connections.
    pub queued_bytes: usize,
}

impl Node {
    /// Starts configuring a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    pub(crate) fn from_parts(
        config: Config,
        handler: Box<dyn DynHandler>,
        on_accept: Option<AcceptFn>,
        on_close: Option<CloseFn>,
        first_session: u32,
    ) -> Self {
        Self {
            shared: Arc::new(NodeShared {
                config,
                handler,
                on_accept,
                on_close,
                peers: Mutex::default(),
                connections: Connections::default(),
                first_session,
            }),
        }
    }

    /// Binds a listener on `addr` (`"127.0.0.1:0"` asks the OS for a port),
    /// right away, and accepts connections in the background until
    /// [`Listener::close`]. Fails with [`Error::Listen`] when the address is
    /// malformed or in use, or when called outside a tokio runtime. A node
    /// may have several listeners.
    pub fn listen(&self, addr: &str) -> Result<Listener> {
        Listener::bind(&self.shared, addr)
    }

    /// Returns the peer for `addr` (`host:port`; names are resolved), trying
    /// once to connect if it is not connected. Always returns a peer, even
    /// when that attempt fails: calls then retry the connection. While the
    /// peer is open, the same address gives the same peer.
    pub async fn connect(&self, addr: &str) -> Peer {
        let peer = self.shared.peer_for(addr);
        if let Err(error) = peer.connection().await {
            tracing::warn!(addr, %error, "connect failed; calls will retry");
        }
        peer
    }

    /// This node's id, as used in trace ids.
    pub fn id(&self) -> u16 {
        self.shared.config.node_id
    }

    /// Starts a new trace rooted at this node; run work inside it with
    /// [`crate::trace::scope`].
    pub fn new_trace(&self) -> u64 {
        crate::trace::new_trace(self.shared.config.node_id)
    }

    /// Counts the node's connections and what they hold.
    pub fn stats(&self) -> NodeStats {
        self.shared.connections.stats()
    }
}

impl NodeShared {
    fn peer_for(self: &Arc<Self>, addr: &str) -> Peer {
        let mut peers = lock(&self.peers);
        if let Some(inner) = peers.get(addr).and_then(Weak::upgrade) {
            return Peer { inner };
        }
        let peer = Peer::outbound(self, addr);
        peers.retain(|_, p| p.strong_count() > 0);
        peers.insert(addr.to_owned(), Arc::downgrade(&peer.inner));
        peer
    }

    /// Removes a closed outbound peer, so connecting again makes a new one.
    pub(crate) fn forget_peer(&self, addr: &str, peer: &Peer) {
        let mut peers = lock(&self.peers);
        if peers
            .get(addr)
            .is_some_and(|p| p.as_ptr() == Arc::as_ptr(&peer.inner))
        {
            peers.remove(addr);
        }
    }

    pub(crate) fn first_session(&self) -> u32 {
        self.first_session
    }

    pub(crate) fn accepted(&self, peer: &Peer, remote: SocketAddr) {
        if let Some(on_accept) = &self.on_accept {
            guard("accept", || on_accept(peer, remote));
        }
    }

    pub(crate) fn closed(&self, peer: &Peer, reason: &Error) {
        if let Some(on_close) = &self.on_close {
            guard("close", || on_close(peer, reason));
        }
    }
}

/// Runs a user callback; a panic in it is logged instead of taking down the
/// task that runs the node's machinery.
fn guard(callback: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(callback, "callback panicked");
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The node's open connections, for [`Node::stats`].
#[derive(Default)]
pub(crate) struct Connections {
    live: Mutex<HashMap<u64, Weak<Connection>>>,
}

impl Connections {
    pub(crate) fn insert(&self, conn: &Arc<Connection>) {
        lock(&self.live).insert(conn.id, Arc::downgrade(conn));
    }

    pub(crate) fn remove(&self, id: u64) {
        lock(&self.live).remove(&id);
    }

    fn stats(&self) -> NodeStats {
        let live: Vec<_> = lock(&self.live)
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        NodeStats {
            connections: live.len(),
            pending_calls: live.iter().map(|c| c.sessions.len()).sum(),
            queued_bytes: live.iter().map(|c| c.writes.queued()).sum(),
        }
    }
}
