//! The node builder.

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::config::{Config, DEFAULT_TIMEOUT, Limits};
use crate::error::Error;
use crate::handler::{DynHandler, Handler, Request};
use crate::node::{AcceptFn, CloseFn, Node};
use crate::peer::Peer;
use crate::wire::WireFormat;

/// Configures a [`Node`]. Every setting has a default: a node built with
/// none serves no requests (it only calls), times calls out after 5000 ms,
/// speaks wire v1 and has id 0.
///
/// ```
/// use std::time::Duration;
/// use cluster_core::{Node, Request, WireFormat};
///
/// let node = Node::builder()
///     .handler(|req: Request| async move { Some(req.body) })
///     .on_accept(|peer, addr| println!("{addr} connected as {peer:?}"))
///     .on_close(|peer, error| println!("{peer:?} lost: {error}"))
///     .timeout(Duration::from_secs(2))
///     .wire(WireFormat::V2)
///     .node_id(7)
///     .build();
/// ```
#[must_use]
pub struct NodeBuilder {
    handler: Option<Box<dyn DynHandler>>,
    on_accept: Option<AcceptFn>,
    on_close: Option<CloseFn>,
    timeout: Duration,
    wire: WireFormat,
    limits: Limits,
    node_id: u16,
    first_session: u32,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self {
            handler: None,
            on_accept: None,
            on_close: None,
            timeout: DEFAULT_TIMEOUT,
            wire: WireFormat::default(),
            limits: Limits::default(),
            node_id: 0,
            first_session: 0,
        }
    }
}

impl NodeBuilder {
    /// Serves incoming requests with `handler`.
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Box::new(handler));
        self
    }

    /// Calls `f` with each accepted peer and its remote address, before any
    /// of its requests is served. It runs on the accept loop: spawn anything
    /// slow.
    pub fn on_accept(mut self, f: impl Fn(&Peer, SocketAddr) + Send + Sync + 'static) -> Self {
        self.on_accept = Some(Box::new(f));
        self
    }

    /// Calls `f` once for every connection that the remote side closed or
    /// that failed, with its peer and the reason. Never for a local
    /// [`Peer::close`].
    pub fn on_close(mut self, f: impl Fn(&Peer, &Error) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Box::new(f));
        self
    }

    /// The default call timeout. The default value is 5000 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The wire format of every connection of the node. The default is
    /// [`WireFormat::V1`].
    pub fn wire(mut self, wire: WireFormat) -> Self {
        self.wire = wire;
        self
    }

    /// Per-connection limits; see [`Limits`] for the defaults.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The node id that trace ids carry. The default is 0.
    pub fn node_id(mut self, id: u16) -> Self {
        self.node_id = id;
        self
    }

    /// The session every new connection starts counting from (masked to 31
    /// bits). For testing session wrap-around; the default is 0, as silly's.
    #[doc(hidden)]
    pub fn first_session(mut self, session: u32) -> Self {
        self.first_session = session;
        self
    }

    /// Builds the node. Nothing runs until it listens or connects.
    pub fn build(self) -> Node {
        let config = Config::new(self.timeout, self.wire, self.limits, self.node_id);
        let handler = self.handler.unwrap_or_else(|| Box::new(no_handler));
        Node::from_parts(
            config,
            handler,
            self.on_accept,
            self.on_close,
            self.first_session,
        )
    }
}

fn no_handler(req: Request) -> Ready<Option<Bytes>> {
    tracing::debug!(
        cmd = req.cmd,
        session = req.session,
        "no handler: request dropped"
    );
    ready(None)
}
