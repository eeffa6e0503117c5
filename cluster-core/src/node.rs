//! The node: one configured cluster endpoint that listens, connects, serves
//! requests and makes calls (silly's `cluster.serve`), and its lifecycle.
//!
//! A node lives while a handle on it does: a [`Node`] or one of its
//! outbound [`Peer`]s. When the last is dropped, the node closes its
//! listeners and connections and cancels its handlers, as
//! [`Node::shutdown`] with no grace would; its tasks end with them.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::connection::{Connection, End};
use crate::error::{Error, Result};
use crate::listener::Listener;
use crate::peer::{Endpoint, Peer, Serve, WeakPeer};
use crate::shared::Shared;
use crate::sync::lock;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::transport::Stream;

pub(crate) type AcceptFn = Box<dyn Fn(&Peer, &str) + Send + Sync>;
pub(crate) type CloseFn = Box<dyn Fn(&Peer, &Error) + Send + Sync>;
type ShutdownHook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long a shutdown waits, after its grace, for queued frames to be
/// written.
const FLUSH: Duration = Duration::from_secs(1);

/// A cluster node: every node is both a server and a client.
///
/// Built with [`Node::builder`]; cheap to clone (clones are the same node).
/// The node runs until [`Node::shutdown`], or until the last handle on it
/// (this and its outbound peers) is dropped.
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
    handle: Arc<Handle>,
}

/// Closes the node when the last handle goes.
struct Handle {
    inner: Arc<NodeInner>,
}

pub(crate) struct NodeInner {
    shared: Arc<Shared>,
    handler: Arc<dyn Serve>,
    on_accept: Option<AcceptFn>,
    on_close: Option<CloseFn>,
    /// Outbound peers by the address they were connected with: connecting
    /// twice to one address gives one peer while it is open.
    peers: Mutex<HashMap<String, WeakPeer>>,
    connections: Mutex<HashMap<u64, Weak<Connection>>>,
    listeners: Mutex<Vec<Listener>>,
    /// Run first by [`Node::shutdown`]: leaving a membership directory.
    /// `None` once a shutdown has started.
    hooks: Mutex<Option<Vec<ShutdownHook>>>,
    /// Set once the node is closed, with what its shutdown did.
    closed: watch::Sender<Option<ShutdownReport>>,
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
    /// Handlers running as tasks (including those of connections that
    /// closed and still run).
    pub handlers: usize,
    /// Requests read and waiting for a handler slot.
    pub queued_requests: usize,
    /// Bytes counted against [`crate::Limits::memory_budget`].
    pub memory: usize,
    /// Tasks the node runs: readers, writers, timers, accept loops and
    /// handlers.
    pub tasks: usize,
    /// Connections accepted beyond [`crate::Limits::max_connections`] and
    /// closed at once, since the node started.
    pub refused_connections: u64,
    /// Responses that came for no pending call (late after a timeout, or
    /// bogus) and were dropped, since the node started.
    pub dropped_responses: u64,
    /// Connections outbound peers made again after losing one, since the
    /// node started.
    pub reconnects: u64,
    /// Responses and status replies this node's handlers made that could
    /// not be queued for writing (their connection had closed, or its
    /// write queue was full) and were dropped, since the node started.
    pub unsent_responses: u64,
    /// Times each of the node's limits held it back, since it started.
    pub limit_hits: LimitHits,
    /// Bytes read from all connections, frames included or not yet whole,
    /// since the node started.
    pub bytes_in: u64,
    /// Frames read whole, requests and responses, since the node started.
    pub frames_in: u64,
    /// Bytes written to all connections, since the node started.
    pub bytes_out: u64,
    /// Frames written, requests and responses, since the node started.
    pub frames_out: u64,
}

/// How often each of a node's [`crate::Limits`] held it back, in
/// [`NodeStats::limit_hits`]. [`NodeStats::refused_connections`] counts
/// [`crate::Limits::max_connections`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LimitHits {
    /// Requests refused with [`crate::Status::Overloaded`] because their
    /// connection ran [`crate::Limits::max_concurrent_requests`] handlers
    /// and had as many queued as it may (only with the extension: without
    /// it the connection pauses reading instead).
    pub max_concurrent_requests: u64,
    /// The same, because the node ran [`crate::Limits::max_handlers`].
    pub max_handlers: u64,
    /// Times a connection paused reading because the node was over
    /// [`crate::Limits::memory_budget`].
    pub memory_budget: u64,
    /// Frames (calls, sends, responses) refused because their
    /// connection's [`crate::Limits::write_queue`] was full.
    pub write_queue: u64,
}

impl LimitHits {
    /// Each limit's name, as in [`crate::Limits`], and its count.
    pub fn by_name(&self) -> [(&'static str, u64); 4] {
        [
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("max_handlers", self.max_handlers),
            ("memory_budget", self.memory_budget),
            ("write_queue", self.write_queue),
        ]
    }
}

/// What [`Node::shutdown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Handlers (running or queued) that finished within the grace.
    pub handlers_finished: usize,
    /// Handlers still running when the grace ended, and cancelled.
    pub handlers_cancelled: usize,
    /// Outbound calls still pending when the grace ended; they failed with
    /// [`Error::Shutdown`].
    pub calls_failed: usize,
}

impl Node {
    pub(crate) fn from_parts(
        config: Config,
        handler: Arc<dyn Serve>,
        on_accept: Option<AcceptFn>,
        on_close: Option<CloseFn>,
    ) -> Self {
        let inner = NodeInner {
            shared: Arc::new(Shared::new(config)),
            handler,
            on_accept,
            on_close,
            peers: Mutex::default(),
            connections: Mutex::default(),
            listeners: Mutex::default(),
            hooks: Mutex::new(Some(Vec::new())),
            closed: watch::Sender::new(None),
        };
        Self {
            handle: Arc::new(Handle {
                inner: Arc::new(inner),
            }),
        }
    }

    /// Binds a listener on `addr` right away: `host:port` for TCP
    /// (`"127.0.0.1:0"` asks the OS for a port), `unix:/path` for a Unix
    /// domain socket (its file is removed when the listener closes), or
    /// `memory:name` for in-process connections without sockets (tests),
    /// or `tls:host:port` for TLS (feature `tls`, with
    /// `NodeBuilder::tls_server`); [`Listener::addr`] is what to connect to. It and accepts connections in the background until
    /// [`Listener::close`] or the node's shutdown. Fails with
    /// [`Error::Listen`] when the address is malformed or in use, or when
    /// called outside a tokio runtime, and with [`Error::Shutdown`] once the
    /// node shuts down. A node may have several listeners.
    pub fn listen(&self, addr: &str) -> Result<Listener> {
        let inner = self.inner();
        if inner.shared.is_draining() {
            return Err(Error::Shutdown);
        }
        let accepting = inner.clone();
        let listener = Listener::bind(
            addr,
            &inner.shared.config,
            inner.shared.budget.task(),
            move |stream, remote| accepting.accept(stream, remote, |_| {}),
        )?;
        let mut listeners = lock(&inner.listeners);
        listeners.retain(|l| !l.is_closed());
        listeners.push(listener.clone());
        Ok(listener)
    }

    /// Runs a connection over `stream`, any byte stream (a socket of a
    /// kind this crate does not dial, a tunnel), as if it had been
    /// accepted: its peer calls, sends and serves requests like any
    /// other, counts against [`crate::Limits::max_connections`], and
    /// cannot reconnect. `name` is its [`Peer::addr`]. A node at either
    /// end may use it; two nodes joined this way speak as over TCP.
    /// Unlike a socket, a paused reader does not see such a stream's peer
    /// leave until reading resumes. `None` (the stream is dropped) when
    /// the node is shutting down or at its connection limit.
    pub fn serve_stream(
        &self,
        stream: impl AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static,
        name: &str,
    ) -> Option<Peer> {
        let mut served = None;
        self.inner()
            .accept(Stream::Other(Box::new(stream)), name.to_owned(), |peer| {
                served = Some(peer.clone());
            });
        served
    }

    /// Returns the peer for `addr` (`host:port`, names resolved;
    /// `tls:host:port`; `unix:/path`; or `memory:name` of a listener in this process), trying
    /// once to connect if it is not connected (for at most the connect
    /// timeout). Always returns a peer, even when that attempt fails: calls
    /// then retry the connection. While the peer is open, the same address
    /// gives the same peer.
    pub async fn connect(&self, addr: &str) -> Peer {
        let hello = self.inner().shared.config.extension_peers;
        self.connect_as(addr, hello).await
    }

    /// [`Node::connect`] to a node known to speak the extension (see
    /// PROTOCOL.md): a `cluster` node with it on, such as one whose
    /// directory record lists [`crate::EXTENSION_CAPABILITY`]. Its
    /// connections open with a hello, whatever
    /// [`crate::NodeBuilder::extension_peers`] says. A handle already open
    /// for `addr` is returned as it is.
    pub async fn connect_extended(&self, addr: &str) -> Peer {
        self.connect_as(addr, true).await
    }

    async fn connect_as(&self, addr: &str, hello: bool) -> Peer {
        let peer = self.peer_for(addr, hello);
        if let Err(error) = peer.ensure_connected().await {
            tracing::warn!(addr, %error, "connect failed; calls will retry");
        }
        peer
    }

    fn peer_for(&self, addr: &str, hello: bool) -> Peer {
        let inner = self.inner();
        let mut peers = lock(&inner.peers);
        if let Some(peer) = peers.get(addr).and_then(WeakPeer::upgrade) {
            if !peer.is_closed() {
                return peer;
            }
        }
        let peer = Peer::outbound(
            &inner.shared,
            inner.clone(),
            self.handle.clone(),
            addr,
            hello,
        );
        peers.retain(|_, p| !p.is_dead());
        peers.insert(addr.to_owned(), peer.downgrade());
        peer
    }

    /// This node's id, as used in trace ids.
    pub fn id(&self) -> u16 {
        self.inner().shared.config.node_id
    }

    /// Starts a new trace rooted at this node; run work inside it with
    /// [`crate::trace::scope`].
    pub fn new_trace(&self) -> u64 {
        crate::trace::new_trace(self.id())
    }

    /// Counts the node's connections, handlers and what they hold.
    pub fn stats(&self) -> NodeStats {
        self.inner().stats()
    }

    /// Shuts the node down, and returns what became of its work:
    ///
    /// 1. its listeners close, and from now on calls and sends fail at once
    ///    with [`Error::Shutdown`], as does [`Node::listen`]; requests that
    ///    arrive are dropped;
    /// 2. handlers already running, and requests already read and queued,
    ///    get up to `grace` to finish (their responses are sent), and
    ///    outbound calls still pending get as long for their responses;
    /// 3. then the handlers left are cancelled, the calls left fail with
    ///    [`Error::Shutdown`], what is queued is written (for at most a
    ///    second more) and every connection closes. No close callback fires.
    ///
    /// Before all that, the hooks registered with [`Node::on_shutdown`]
    /// run, one after another, while the node still works as usual. A
    /// second call waits for the first to end and returns its report.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let inner = self.inner();
        // Only the first call runs the shutdown; the hooks are its first
        // step, so a second call that comes meanwhile waits for the end.
        let hooks = lock(&inner.hooks).take();
        let hooks = match hooks {
            Some(hooks) if !inner.shared.is_draining() => hooks,
            _ => return self.closed().await,
        };
        for hook in hooks {
            hook().await;
        }
        if !inner.shared.drain() {
            return self.closed().await;
        }
        inner.close_listeners();
        let before = inner.stats();
        let started = before.handlers + before.queued_requests;
        let settled = async {
            inner.shared.budget.handlers_done().await;
            while inner.stats().pending_calls > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(grace, settled).await;
        let report = inner.close(started);
        let flushed = async {
            while inner.shared.budget.counts().tasks > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        if tokio::time::timeout(FLUSH, flushed).await.is_err() {
            tracing::debug!("shutdown: some writes did not finish");
        }
        tracing::info!(
            finished = report.handlers_finished,
            cancelled = report.handlers_cancelled,
            calls_failed = report.calls_failed,
            "node shut down"
        );
        inner.closed.send_replace(Some(report));
        report
    }

    /// Registers `hook` to run first when [`Node::shutdown`] is called,
    /// while the node still serves and calls: for what must happen before
    /// anything stops, such as leaving a membership directory so that no
    /// new calls are routed here. Dropping the node runs no hook; a hook
    /// registered once the shutdown has begun is not run.
    pub fn on_shutdown<F>(&self, hook: impl FnOnce() -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(hooks) = lock(&self.inner().hooks).as_mut() {
            hooks.push(Box::new(move || Box::pin(hook())));
        }
    }

    /// Waits until the node is shut down (by [`Node::shutdown`] from
    /// anywhere), and returns the shutdown's report.
    pub async fn closed(&self) -> ShutdownReport {
        let mut closed = self.inner().closed.subscribe();
        match closed.wait_for(Option::is_some).await {
            Ok(report) => report.unwrap_or_default(),
            Err(_) => ShutdownReport::default(),
        }
    }

    fn inner(&self) -> &Arc<NodeInner> {
        &self.handle.inner
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.inner.shared.drain() {
            self.inner.close_listeners();
            let report = self.inner.close(0);
            self.inner.closed.send_replace(Some(report));
        }
    }
}

impl NodeInner {
    /// Takes `stream` as an accepted connection; `accepted` sees its peer
    /// before it starts.
    fn accept(self: &Arc<Self>, stream: Stream, remote: String, accepted: impl FnOnce(&Peer)) {
        if self.shared.is_draining() {
            return;
        }
        let Some(slot) = self.shared.budget.open_connection(true) else {
            tracing::warn!(
                %remote,
                limit = self.shared.config.limits.max_connections,
                "connection limit reached: accepted connection closed"
            );
            return;
        };
        Peer::inbound(&self.shared, self.clone(), slot, stream, remote, |peer| {
            if let Some(on_accept) = &self.on_accept {
                guard("accept", || on_accept(peer, &peer.addr()));
            }
            accepted(peer);
        });
    }

    fn close_listeners(&self) {
        for listener in lock(&self.listeners).drain(..) {
            listener.close();
        }
    }

    /// Cancels every handler, fails every pending call and closes every
    /// connection; `started` handlers were there when shutting down began.
    fn close(&self, started: usize) -> ShutdownReport {
        let live = self.live();
        let mut report = ShutdownReport {
            handlers_cancelled: self.shared.budget.counts().running,
            ..ShutdownReport::default()
        };
        for conn in &live {
            conn.cancel_handlers();
            report.calls_failed += conn.sessions.len();
            conn.fail_calls(Error::Shutdown);
        }
        for conn in &live {
            conn.shutdown(Error::Shutdown, End::Local);
        }
        report.handlers_finished = started.saturating_sub(report.handlers_cancelled);
        report
    }

    /// The connections that still exist (open, or closed with handlers
    /// still running).
    fn live(&self) -> Vec<Arc<Connection>> {
        let mut connections = lock(&self.connections);
        connections.retain(|_, c| c.strong_count() > 0);
        connections.values().filter_map(Weak::upgrade).collect()
    }

    fn stats(&self) -> NodeStats {
        let live = self.live();
        let counts = self.shared.budget.counts();
        NodeStats {
            connections: counts.connections,
            pending_calls: live.iter().map(|c| c.sessions.len()).sum(),
            queued_bytes: live.iter().map(|c| c.queued_bytes()).sum(),
            handlers: counts.running,
            queued_requests: counts.queued,
            memory: counts.memory,
            tasks: counts.tasks,
            refused_connections: counts.refused,
            dropped_responses: counts.dropped_responses,
            reconnects: counts.reconnects,
            unsent_responses: counts.unsent_responses,
            limit_hits: counts.limit_hits(),
            bytes_in: counts.bytes_in,
            frames_in: counts.frames_in,
            bytes_out: counts.bytes_out,
            frames_out: counts.frames_out,
        }
    }
}

impl Endpoint for NodeInner {
    fn handler(&self) -> Arc<dyn Serve> {
        self.handler.clone()
    }

    fn connected(&self, conn: &Arc<Connection>) {
        let mut connections = lock(&self.connections);
        connections.retain(|_, c| c.strong_count() > 0);
        connections.insert(conn.id, Arc::downgrade(conn));
    }

    fn closed(&self, peer: &Peer, reason: &Error) {
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
