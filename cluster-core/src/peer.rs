//! Peers: handles on the other end of a connection, through which calls and
//! sends go, and which own the connection's lifetime.
//!
//! An outbound peer (from [`crate::Node::connect`]) keeps its node alive and
//! is kept alive by its users alone: when the last handle is dropped, its
//! connection closes. An inbound peer (accepted) is kept alive by its
//! connection, which the node keeps until it closes.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::body::Body;
use crate::connection::{Connection, End, Owner, RequestHead, Run, Waiting};
use crate::error::{Error, Result, Status};
use crate::observe::ClientSpan;
use crate::reconnect::Dialer;
use crate::session::Reply;
use crate::shared::Shared;
use crate::sync::lock;
use crate::trace::{self, Caller};
use crate::transport::{Identity, Stream};

/// What serves the requests a peer receives: the node's handler, which the
/// peer holds, so that a request reaches it in one dynamic call.
pub(crate) trait Serve: Send + Sync {
    /// Handles a request `peer` sent as far as it goes at once (with
    /// [`Run::start`]); what must wait comes back.
    fn serve(&self, peer: Peer, run: &mut Run<'_>) -> Option<Waiting>;
}

/// What a peer needs of its node: its handler, and hearing of connections
/// that come and go.
pub(crate) trait Endpoint: Send + Sync {
    /// What serves the requests of the node's peers.
    fn handler(&self) -> Arc<dyn Serve>;
    /// A connection of `peer` was made.
    fn connected(&self, conn: &Arc<Connection>);
    /// The remote side closed a connection of `peer`, or it failed.
    fn closed(&self, peer: &Peer, reason: &Error);
}

/// A handle on a remote node: from [`crate::Node::connect`] (outbound) or
/// from the accept callback and [`crate::Request::peer`] (inbound). Cheap to
/// clone; clones are the same peer.
///
/// An outbound peer whose connection was lost reconnects on its next call or
/// send; concurrent callers share one connect attempt, and after a failed
/// one calls fail at once with its error while the peer backs off. An
/// inbound peer cannot reconnect: once its connection is gone, calls fail
/// with [`Error::PeerClosed`].
///
/// Dropping the last handle on an outbound peer closes its connection, as
/// [`Peer::close`] would. An outbound peer keeps its node alive.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<PeerShared>,
}

/// A peer that does not keep it alive.
#[derive(Clone)]
pub(crate) struct WeakPeer(Weak<PeerShared>);

struct PeerShared {
    /// Names the peer as the caller in the context of the requests it
    /// sends (see [`CALLERS`]).
    id: Caller,
    /// This peer, for the requests it serves to name it without the
    /// connection counting a reference per request.
    me: Weak<PeerShared>,
    shared: Arc<Shared>,
    node: Arc<dyn Endpoint>,
    handler: Arc<dyn Serve>,
    origin: Origin,
    state: Mutex<State>,
}

enum Origin {
    Outbound {
        dialer: Dialer,
        /// One connect attempt at a time.
        connecting: tokio::sync::Mutex<()>,
        /// Keeps the node alive while the peer is.
        _node: Arc<dyn Any + Send + Sync>,
        /// Whether its connections open with a hello (the extension).
        hello: bool,
    },
    /// Where the connection came from, and who it proved to be.
    Inbound(String, Identity),
}

#[derive(Default)]
struct State {
    conn: Option<Arc<Connection>>,
    closed: bool,
    /// Whether a connection was ever made: the next one is a reconnect.
    connected: bool,
}

impl Peer {
    /// A peer for `addr`, not connected yet. `keep` keeps the node alive.
    pub(crate) fn outbound(
        shared: &Arc<Shared>,
        node: Arc<dyn Endpoint>,
        keep: Arc<dyn Any + Send + Sync>,
        addr: &str,
        hello: bool,
    ) -> Self {
        Self::new(
            shared,
            node,
            Origin::Outbound {
                dialer: Dialer::new(addr, shared.config.dialing.clone()),
                connecting: tokio::sync::Mutex::new(()),
                _node: keep,
                hello,
            },
        )
    }

    /// The peer of an accepted connection over `stream`, which holds one of
    /// the node's connection slots. `accepted` runs before the connection
    /// starts.
    pub(crate) fn inbound(
        shared: &Arc<Shared>,
        node: Arc<dyn Endpoint>,
        slot: crate::budget::ConnectionSlot,
        stream: Stream,
        remote: String,
        accepted: impl FnOnce(&Peer),
    ) {
        let peer = Self::new(shared, node, Origin::Inbound(remote, stream.identity()));
        let conn = peer.attach(slot, true);
        accepted(&peer);
        conn.start(stream);
    }

    fn new(shared: &Arc<Shared>, node: Arc<dyn Endpoint>, origin: Origin) -> Self {
        Self {
            inner: Arc::new_cyclic(|me| PeerShared {
                id: register(me),
                me: me.clone(),
                shared: shared.clone(),
                handler: node.handler(),
                node,
                origin,
                state: Mutex::default(),
            }),
        }
    }

    /// Sends request `cmd` with `body` and waits for its response, for at
    /// most the node's default timeout.
    ///
    /// Fails with [`Error::Timeout`] when no response came in time (a late
    /// one is dropped), [`Error::Closed`] when the connection went away
    /// first, [`Error::PeerClosed`] on a closed peer, [`Error::Shutdown`]
    /// once the node shuts down, a connect or resolve error when an outbound
    /// peer could not reconnect (at once while it backs off), and
    /// [`Error::TooLarge`] or [`Error::Overloaded`] when nothing could be
    /// written.
    pub fn call<B: Body>(&self, cmd: u32, body: B) -> impl Future<Output = Result<Bytes>> {
        // Not an `async fn`: that would wrap the call's future in another.
        self.call_timeout(cmd, body, self.inner.shared.config.timeout)
    }

    /// [`Peer::call`] with its own timeout, which also bounds reconnecting.
    pub fn call_timeout<B: Body>(
        &self,
        cmd: u32,
        body: B,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes>> {
        Call {
            state: CallState::Start {
                peer: self,
                cmd,
                body,
                timeout,
            },
            span: None,
        }
    }

    /// Registers a call (which the connection's timeout task fails at
    /// `deadline`) and queues its request.
    fn start_call<B: Body + ?Sized>(
        &self,
        conn: Arc<Connection>,
        cmd: u32,
        body: &B,
        deadline: Instant,
        span: Option<&ClientSpan>,
    ) -> Result<Reply<Arc<Connection>>> {
        let trace_id = trace::outgoing(self.inner.shared.config.node_id);
        let session = conn.sessions.register(deadline)?;
        if let Some(span) = span {
            span.sent(session, trace_id);
        }
        // Forgets the call if it ends early: a failed write here, a drop later.
        let reply = Reply::new(conn, session);
        let head = RequestHead {
            cmd,
            session,
            trace_id,
        };
        reply.owner().write_request(head, Some(deadline), body)?;
        Ok(reply)
    }

    /// Sends request `cmd` with `body` and waits for nothing: returns once the
    /// frame is queued for writing. Like silly, it consumes a session; a
    /// response, if the remote handler sends one, is dropped.
    pub async fn send<B: Body>(&self, cmd: u32, body: B) -> Result<()> {
        let span = ClientSpan::new(cmd, || self.addr());
        // The connected case is written out rather than awaited as a nested
        // future: sends are small and many, and each nesting copies the
        // future's state once more.
        let sent = match self.current() {
            Ok(Some(conn)) => self.send_on(&conn, cmd, &body, span.as_deref()),
            // Boxed: reconnecting is rare and its future large.
            Ok(None) => Box::pin(self.send_reconnecting(cmd, body, span.as_deref())).await,
            Err(error) => Err(error),
        };
        if let Some(span) = span {
            span.finish(&sent);
        }
        sent
    }

    /// [`Peer::send`] on a peer that must connect first.
    async fn send_reconnecting<B: Body>(
        &self,
        cmd: u32,
        body: B,
        span: Option<&ClientSpan>,
    ) -> Result<()> {
        let deadline = deadline_after(self.inner.shared.config.timeout);
        let conn = self.reconnect_by(deadline).await?;
        self.send_on(&conn, cmd, &body, span)
    }

    /// Queues a one-way request on `conn`, recording what went out in `span`.
    fn send_on<B: Body + ?Sized>(
        &self,
        conn: &Connection,
        cmd: u32,
        body: &B,
        span: Option<&ClientSpan>,
    ) -> Result<()> {
        let head = RequestHead {
            cmd,
            session: conn.sessions.next_unregistered(),
            trace_id: trace::outgoing(self.inner.shared.config.node_id),
        };
        if let Some(span) = span {
            span.sent(head.session, head.trace_id);
        }
        conn.write_request(head, None, body)
    }

    /// The timeout of [`Peer::call`]: its node's default.
    pub fn timeout(&self) -> Duration {
        self.inner.shared.config.timeout
    }

    /// Closes the peer: its connection is shut down (queued frames are still
    /// flushed), no close callback fires, an outbound peer does not reconnect,
    /// and every later call or send fails with [`Error::PeerClosed`]. Calls
    /// in flight fail with [`Error::Closed`].
    pub fn close(&self) {
        let conn = {
            let mut state = self.state();
            state.closed = true;
            state.conn.take()
        };
        if let Some(conn) = conn {
            conn.shutdown(Error::PeerClosed, End::Local);
        }
    }

    /// Whether [`Peer::close`] was called, or this is an inbound peer whose
    /// connection is gone.
    pub fn is_closed(&self) -> bool {
        let state = self.state();
        state.closed || (self.is_inbound() && state.conn.is_none())
    }

    /// Whether this peer was accepted by a listener (it cannot reconnect).
    pub fn is_inbound(&self) -> bool {
        matches!(self.inner.origin, Origin::Inbound(..))
    }

    /// The address: as given to [`crate::Node::connect`] for an outbound
    /// peer; for an inbound one the remote socket address over TCP, the
    /// listener's address (`unix:/path`, `memory:name`) otherwise.
    pub fn addr(&self) -> String {
        match &self.inner.origin {
            Origin::Outbound { dialer, .. } => dialer.addr().to_owned(),
            Origin::Inbound(remote, _) => remote.clone(),
        }
    }

    /// The certificate chain an inbound peer presented in a mutual-TLS
    /// handshake and the node verified (see
    /// [`crate::TlsServer::with_client_ca_pem`]), its own certificate
    /// first, as DER: the client's identity, to be parsed by an X.509
    /// library for its names. `None` for outbound peers and peers that
    /// presented no certificate. Feature `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_identity(&self) -> Option<&[crate::rustls::pki_types::CertificateDer<'static>]> {
        match &self.inner.origin {
            Origin::Inbound(_, identity) => identity.certificates(),
            Origin::Outbound { .. } => None,
        }
    }

    /// Calls waiting for a response on this peer's current connection.
    pub fn pending_calls(&self) -> usize {
        self.state()
            .conn
            .as_ref()
            .map_or(0, |conn| conn.sessions.len())
    }

    /// Connects an outbound peer if it is not connected; the error of the
    /// attempt, if it failed.
    pub(crate) async fn ensure_connected(&self) -> Result<()> {
        self.connection().await.map(drop)
    }

    /// The open connection, reconnecting an outbound peer if needed.
    async fn connection(&self) -> Result<Arc<Connection>> {
        if let Some(conn) = self.current()? {
            return Ok(conn);
        }
        let Origin::Outbound {
            dialer, connecting, ..
        } = &self.inner.origin
        else {
            return Err(Error::PeerClosed);
        };
        if let Some(error) = dialer.backing_off() {
            return Err(error);
        }
        // Callers that arrive during an attempt share its outcome: the
        // connection it made, or its failure through the backoff.
        let _attempt = connecting.lock().await;
        if let Some(conn) = self.current()? {
            return Ok(conn);
        }
        let stream = dialer.dial().await?;
        let Some(slot) = self.inner.shared.budget.open_connection(false) else {
            return Err(Error::Connect {
                addr: dialer.addr().to_owned(),
                source: Arc::new(std::io::Error::other(format!(
                    "the node has {} connections open, its limit",
                    self.inner.shared.config.limits.max_connections
                ))),
            });
        };
        if self.state().closed || self.inner.shared.is_draining() {
            return Err(self.current().err().unwrap_or(Error::Shutdown));
        }
        let conn = self.attach(slot, false);
        conn.start(stream);
        tracing::debug!(addr = %dialer.addr(), conn = conn.id, "connected");
        Ok(conn)
    }

    /// [`Peer::connection`], giving up at `deadline`.
    async fn reconnect_by(&self, deadline: Instant) -> Result<Arc<Connection>> {
        tokio::time::timeout_at(deadline, self.connection())
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// The open connection, if there is one; an error if the peer or its
    /// node is closed.
    fn current(&self) -> Result<Option<Arc<Connection>>> {
        if self.inner.shared.is_draining() {
            return Err(Error::Shutdown);
        }
        let state = self.state();
        if state.closed {
            return Err(Error::PeerClosed);
        }
        Ok(state.conn.as_ref().filter(|conn| conn.is_open()).cloned())
    }

    /// Makes a new connection the peer's own. `hold`: the connection keeps
    /// the peer alive (inbound).
    fn attach(&self, slot: crate::budget::ConnectionSlot, hold: bool) -> Arc<Connection> {
        let owner: Arc<dyn Owner> = self.inner.clone();
        let conn = Connection::new(
            &self.inner.shared,
            slot,
            owner,
            hold,
            self.inner.shared.config.first_session,
        );
        // Before anyone can use it: the hello must be its first frame.
        if let Origin::Outbound { hello: true, .. } = self.inner.origin {
            if let Err(error) = conn.send_hello() {
                tracing::debug!(conn = conn.id, %error, "hello not sent");
            }
        }
        {
            let mut state = self.state();
            if state.connected {
                self.inner.shared.budget.reconnected();
            }
            state.connected = true;
            state.conn = Some(conn.clone());
        }
        self.inner.node.connected(&conn);
        conn
    }

    /// Answers the request of `session` read from this peer with `status`,
    /// if its connection agreed on the extension.
    pub(crate) fn refuse(&self, session: u32, status: Status, message: &str) {
        if let Ok(Some(conn)) = self.current() {
            conn.write_status(session, status, message);
        }
    }

    /// This peer, as the caller of the requests it sends.
    pub(crate) fn caller(&self) -> Caller {
        self.inner.id
    }

    /// The peer behind a [`Caller`], while it lives.
    pub(crate) fn from_caller(caller: Caller) -> Option<Peer> {
        let inner = lock(&CALLERS).get(&caller)?.upgrade()?;
        Some(Peer { inner })
    }

    pub(crate) fn downgrade(&self) -> WeakPeer {
        WeakPeer(Arc::downgrade(&self.inner))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }
}

impl WeakPeer {
    pub(crate) fn upgrade(&self) -> Option<Peer> {
        self.0.upgrade().map(|inner| Peer { inner })
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl PeerShared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Owner for PeerShared {
    fn serve(&self, run: &mut Run<'_>) -> Option<Waiting> {
        let peer = Peer {
            inner: self.me.upgrade()?,
        };
        self.handler.serve(peer, run)
    }

    fn lost(self: Arc<Self>, conn: &Connection, reason: &Error, local: bool) {
        {
            let mut state = self.state();
            if state.conn.as_ref().is_some_and(|c| c.id == conn.id) {
                state.conn = None;
            }
        }
        if !local {
            let node = self.node.clone();
            node.closed(&Peer { inner: self }, reason);
        }
    }
}

impl Drop for PeerShared {
    fn drop(&mut self) {
        lock(&CALLERS).remove(&self.id);
        if let Some(conn) = self.state().conn.take() {
            conn.shutdown(Error::PeerClosed, End::Local);
        }
    }
}

/// Live peers by id: a handler's context names its caller by id, so that
/// entering it counts no reference, and the rare [`crate::context::peer`]
/// looks the peer up here.
static CALLERS: Mutex<BTreeMap<Caller, Weak<PeerShared>>> = Mutex::new(BTreeMap::new());

/// Gives a new peer its id, and makes it findable by it.
fn register(peer: &Weak<PeerShared>) -> Caller {
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let id = NonZeroU64::MIN.saturating_add(ISSUED.fetch_add(1, Ordering::Relaxed));
    lock(&CALLERS).insert(id, peer.clone());
    id
}

/// When a wait of `timeout` from now ends. A timeout too long to be added
/// to the clock (`Duration::MAX` for "never") ends in about 30 years, as
/// tokio's own timeouts do.
#[inline]
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// A call: reconnecting if need be, then waiting for its response. Written
/// out rather than an `async fn`, which keeps its arguments for its whole
/// life: every call in flight would hold 176 bytes instead of 64.
struct Call<'a, B> {
    state: CallState<'a, B>,
    /// Made at the first poll, if a subscriber wants it.
    span: Option<Box<ClientSpan>>,
}

enum CallState<'a, B> {
    Start {
        peer: &'a Peer,
        cmd: u32,
        body: B,
        timeout: Duration,
    },
    /// Rare, and large: boxed.
    Connecting(Box<Connecting<'a, B>>),
    Waiting(Reply<Arc<Connection>>),
    Done,
}

struct Connecting<'a, B> {
    peer: &'a Peer,
    cmd: u32,
    body: B,
    deadline: Instant,
    connect: Pin<Box<dyn Future<Output = Result<Arc<Connection>>> + Send + 'a>>,
}

// Nothing in a call is pinned but its reply, which is `Unpin`.
impl<B> Unpin for Call<'_, B> {}

impl<B: Body> Future for Call<'_, B> {
    type Output = Result<Bytes>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Bytes>> {
        let polled = self.step(cx);
        if let (Poll::Ready(result), Some(span)) = (&polled, &self.span) {
            span.finish(result);
        }
        polled
    }
}

impl<B: Body> Call<'_, B> {
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<Result<Bytes>> {
        loop {
            match std::mem::replace(&mut self.state, CallState::Done) {
                CallState::Start {
                    peer,
                    cmd,
                    body,
                    timeout,
                } => {
                    // A call made for a caller gives up when its caller does.
                    let own = deadline_after(timeout);
                    let deadline = trace::deadline().map_or(own, |inherited| own.min(inherited));
                    self.span = ClientSpan::new(cmd, || peer.addr());
                    let span = self.span.as_deref();
                    self.state = match peer.current() {
                        Err(e) => return Poll::Ready(Err(e)),
                        Ok(Some(conn)) => {
                            CallState::Waiting(peer.start_call(conn, cmd, &body, deadline, span)?)
                        }
                        Ok(None) => CallState::Connecting(Box::new(Connecting {
                            peer,
                            cmd,
                            body,
                            deadline,
                            connect: Box::pin(peer.reconnect_by(deadline)),
                        })),
                    };
                }
                CallState::Connecting(mut c) => match c.connect.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = CallState::Connecting(c);
                        return Poll::Pending;
                    }
                    Poll::Ready(conn) => {
                        let span = self.span.as_deref();
                        let reply = c.peer.start_call(conn?, c.cmd, &c.body, c.deadline, span)?;
                        self.state = CallState::Waiting(reply);
                    }
                },
                CallState::Waiting(mut reply) => {
                    let polled = Pin::new(&mut reply).poll(cx);
                    if polled.is_pending() {
                        self.state = CallState::Waiting(reply);
                    }
                    return polled;
                }
                CallState::Done => return Poll::Ready(Err(Error::Closed)),
            }
        }
    }
}

impl PartialEq for Peer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Peer {}

impl std::hash::Hash for Peer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.inner).hash(state);
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("addr", &self.addr())
            .field("inbound", &self.is_inbound())
            .finish()
    }
}
