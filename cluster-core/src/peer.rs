//! Peers: handles on the other end of a connection, through which calls and
//! sends go.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::node::NodeShared;
use crate::reconnect::Dialer;
use crate::session::Reply;
use crate::trace;

/// A handle on a remote node: from [`crate::Node::connect`] (outbound) or
/// from the accept callback and [`crate::Request::peer`] (inbound). Cheap to
/// clone; clones are the same peer.
///
/// An outbound peer whose connection was lost reconnects on its next call or
/// send; concurrent callers share one connect attempt. An inbound peer cannot
/// reconnect: once its connection is gone, calls fail with
/// [`Error::PeerClosed`].
#[derive(Clone)]
pub struct Peer {
    pub(crate) inner: Arc<PeerShared>,
}

pub(crate) struct PeerShared {
    pub(crate) node: Arc<NodeShared>,
    origin: Origin,
    state: Mutex<State>,
}

enum Origin {
    Outbound(Dialer),
    Inbound(SocketAddr),
}

#[derive(Default)]
struct State {
    conn: Option<Arc<Connection>>,
    closed: bool,
}

impl Peer {
    pub(crate) fn outbound(node: &Arc<NodeShared>, addr: &str) -> Self {
        Self::new(node, Origin::Outbound(Dialer::new(addr)))
    }

    pub(crate) fn inbound(node: &Arc<NodeShared>, remote: SocketAddr) -> Self {
        Self::new(node, Origin::Inbound(remote))
    }

    fn new(node: &Arc<NodeShared>, origin: Origin) -> Self {
        Self {
            inner: Arc::new(PeerShared {
                node: node.clone(),
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
    /// first, [`Error::PeerClosed`] on a closed peer, a connect or resolve
    /// error when an outbound peer could not reconnect, and
    /// [`Error::TooLarge`] or [`Error::Overloaded`] when nothing could be
    /// written.
    pub fn call(&self, cmd: u32, body: impl Into<Bytes>) -> impl Future<Output = Result<Bytes>> {
        // Not an `async fn`: that would wrap the call's future in another.
        self.call_timeout(cmd, body, self.inner.node.config.timeout)
    }

    /// [`Peer::call`] with its own timeout, which also bounds reconnecting.
    pub fn call_timeout(
        &self,
        cmd: u32,
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Bytes>> {
        Call {
            state: CallState::Start {
                peer: self,
                cmd,
                body: body.into(),
                timeout,
            },
        }
    }

    /// Registers a call (which the connection's timeout task fails at
    /// `deadline`) and queues its request.
    fn start_call(
        &self,
        conn: Arc<Connection>,
        cmd: u32,
        body: &[u8],
        deadline: Instant,
    ) -> Result<Reply<Arc<Connection>>> {
        let trace_id = trace::outgoing(self.inner.node.config.node_id);
        let session = conn.sessions.register(deadline)?;
        // Forgets the call if it ends early: a failed write here, a drop later.
        let reply = Reply::new(conn, session);
        reply.owner().write_request(session, cmd, trace_id, body)?;
        Ok(reply)
    }

    /// Sends request `cmd` with `body` and waits for nothing: returns once the
    /// frame is queued for writing. Like silly, it consumes a session; a
    /// response, if the remote handler sends one, is dropped.
    pub async fn send(&self, cmd: u32, body: impl Into<Bytes>) -> Result<()> {
        let body = body.into();
        let conn = match self.current()? {
            Some(conn) => conn,
            // Boxed: reconnecting is rare and its future large.
            None => {
                let deadline = deadline_after(self.inner.node.config.timeout);
                Box::pin(self.reconnect_by(deadline)).await?
            }
        };
        let trace_id = trace::outgoing(self.inner.node.config.node_id);
        let session = conn.sessions.next_unregistered();
        conn.write_request(session, cmd, trace_id, &body)
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
        if let Origin::Outbound(dialer) = &self.inner.origin {
            self.inner.node.forget_peer(dialer.addr(), self);
        }
        if let Some(conn) = conn {
            conn.shutdown(Error::PeerClosed, true);
        }
    }

    /// Whether [`Peer::close`] was called, or this is an inbound peer whose
    /// connection is gone.
    pub fn is_closed(&self) -> bool {
        let state = self.state();
        state.closed || (matches!(self.inner.origin, Origin::Inbound(_)) && state.conn.is_none())
    }

    /// Whether this peer was accepted by a listener (it cannot reconnect).
    pub fn is_inbound(&self) -> bool {
        matches!(self.inner.origin, Origin::Inbound(_))
    }

    /// The address: as given to [`crate::Node::connect`] for an outbound
    /// peer, the remote socket address for an inbound one.
    pub fn addr(&self) -> String {
        match &self.inner.origin {
            Origin::Outbound(dialer) => dialer.addr().to_owned(),
            Origin::Inbound(remote) => remote.to_string(),
        }
    }

    /// Calls waiting for a response on this peer's current connection.
    pub fn pending_calls(&self) -> usize {
        self.state()
            .conn
            .as_ref()
            .map_or(0, |conn| conn.sessions.len())
    }

    /// The open connection, reconnecting an outbound peer if needed.
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>> {
        if let Some(conn) = self.current()? {
            return Ok(conn);
        }
        match &self.inner.origin {
            Origin::Inbound(_) => Err(Error::PeerClosed),
            Origin::Outbound(dialer) => dialer.connect(self).await,
        }
    }

    /// [`Peer::connection`], giving up at `deadline`.
    async fn reconnect_by(&self, deadline: Instant) -> Result<Arc<Connection>> {
        tokio::time::timeout_at(deadline, self.connection())
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// The open connection, if there is one; an error if the peer is closed.
    pub(crate) fn current(&self) -> Result<Option<Arc<Connection>>> {
        let state = self.state();
        if state.closed {
            return Err(Error::PeerClosed);
        }
        Ok(state.conn.as_ref().filter(|conn| conn.is_open()).cloned())
    }

    /// Makes `conn` the peer's connection; false if the peer was closed.
    pub(crate) fn attach(&self, conn: &Arc<Connection>) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        state.conn = Some(conn.clone());
        true
    }

    /// Called once by a connection of this peer when it ends.
    pub(crate) fn connection_lost(&self, conn: &Connection, reason: &Error, local: bool) {
        {
            let mut state = self.state();
            if state.conn.as_ref().is_some_and(|c| c.id == conn.id) {
                state.conn = None;
            }
        }
        if !local {
            self.inner.node.closed(self, reason);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// When a wait of `timeout` from now ends. A timeout too long to be added
/// to the clock (`Duration::MAX` for "never") ends in about 30 years, as
/// tokio's own timeouts do.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// A call: reconnecting if need be, then waiting for its response. Written
/// out rather than an `async fn`, which keeps its arguments for its whole
/// life: every call in flight would hold 176 bytes instead of 64.
struct Call<'a> {
    state: CallState<'a>,
}

enum CallState<'a> {
    Start {
        peer: &'a Peer,
        cmd: u32,
        body: Bytes,
        timeout: Duration,
    },
    /// Rare, and large: boxed.
    Connecting(Box<Connecting<'a>>),
    Waiting(Reply<Arc<Connection>>),
    Done,
}

struct Connecting<'a> {
    peer: &'a Peer,
    cmd: u32,
    body: Bytes,
    deadline: Instant,
    connect: Pin<Box<dyn Future<Output = Result<Arc<Connection>>> + Send + 'a>>,
}

impl Future for Call<'_> {
    type Output = Result<Bytes>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Bytes>> {
        loop {
            match std::mem::replace(&mut self.state, CallState::Done) {
                CallState::Start {
                    peer,
                    cmd,
                    body,
                    timeout,
                } => {
                    let deadline = deadline_after(timeout);
                    self.state = match peer.current() {
                        Err(e) => return Poll::Ready(Err(e)),
                        Ok(Some(conn)) => {
                            CallState::Waiting(peer.start_call(conn, cmd, &body, deadline)?)
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
                        let reply = c.peer.start_call(conn?, c.cmd, &c.body, c.deadline)?;
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
