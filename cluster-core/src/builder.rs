//! The node builder.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::{Config, DEFAULT_BACKLOG, DEFAULT_TIMEOUT, Dialing, Limits};
use crate::error::Error;
use crate::handler::{Handler, Request};
use crate::node::{AcceptFn, CloseFn, Node};
use crate::peer::{Peer, Serve};
use crate::wire::WireFormat;

/// Configures a [`Node`]. Every setting has a default: a node built with
/// none serves no requests (it only calls), times calls out after 5000 ms,
/// speaks wire v1, has id 0, gives a connect attempt 3 s, backs off from
/// 50 ms to 5 s after failed ones, listens with a backlog of 1024 and
/// cancels the handlers of a connection that closes.
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
    handler: Option<Arc<dyn Serve>>,
    on_accept: Option<AcceptFn>,
    on_close: Option<CloseFn>,
    timeout: Duration,
    wire: WireFormat,
    limits: Limits,
    node_id: u16,
    first_session: u32,
    dialing: Dialing,
    backlog: u32,
    cancel_on_close: bool,
    extension: Extension,
}

/// The builder's extension settings, applied to [`Config`] once.
#[derive(Clone, Copy)]
struct Extension {
    answer: bool,
    dial: bool,
    cancel: bool,
}

impl Node {
    /// Starts configuring a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }
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
            dialing: Dialing::default(),
            backlog: DEFAULT_BACKLOG,
            cancel_on_close: true,
            extension: Extension {
                answer: true,
                dial: false,
                cancel: true,
            },
        }
    }
}

impl NodeBuilder {
    /// Serves incoming requests with `handler`.
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Calls `f` with each accepted peer and its address ([`Peer::addr`]), before any
    /// of its requests is served. It runs on the accept loop: spawn anything
    /// slow.
    pub fn on_accept(mut self, f: impl Fn(&Peer, &str) + Send + Sync + 'static) -> Self {
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

    /// Per-connection and node-wide limits; see [`Limits`] for the
    /// defaults.
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

    /// How long one connect attempt may take before it fails with
    /// [`Error::Connect`] (a host that does not answer would otherwise take
    /// the kernel's SYN timeout, about two minutes). The default is 3 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.dialing.connect_timeout = timeout;
        self
    }

    /// After a failed connect, an outbound peer waits `min`, doubling per
    /// failure up to `max` (each pause between half and all of that,
    /// at random), before it dials again; meanwhile its calls fail at once
    /// with the last failure. A success resets it. The default is 50 ms to
    /// 5 s.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.dialing.backoff_min = min;
        self.dialing.backoff_max = max.max(min);
        self
    }

    /// The listen backlog of the node's listeners: connections the kernel
    /// completes before they are accepted. The default is 1024.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Whether the handlers still running for a connection that closes are
    /// cancelled (the default: their responses cannot be delivered) or run
    /// to their end, as silly's do (`false`; their responses are dropped).
    /// Either way they count in [`crate::NodeStats::handlers`] and against
    /// [`Limits::max_handlers`]. One-way commands
    /// ([`Handler::is_oneway`]) always run to their end.
    pub fn cancel_on_close(mut self, cancel: bool) -> Self {
        self.cancel_on_close = cancel;
        self
    }

    /// Whether the node answers a hello, agreeing on the extension (status
    /// replies, deadlines, cancel notices; see PROTOCOL.md) with a peer that
    /// asks. A silly node never asks, so nothing changes for it. The
    /// default is `true`.
    pub fn extension(mut self, answer: bool) -> Self {
        self.extension.answer = answer;
        self
    }

    /// Whether connections this node dials open with a hello. Only for a
    /// node whose every dialed peer is a `cluster` node with the extension
    /// on: a silly node would log the hello as a request it cannot decode,
    /// and a node with it off would not read the frames after it. The
    /// default is `false`.
    pub fn extension_peers(mut self, dial: bool) -> Self {
        self.extension.dial = dial;
        self
    }

    /// Whether a handler is cancelled when its caller's deadline passes or
    /// its caller drops the call (a cancel notice), on connections with the
    /// extension. The default is `true`.
    pub fn cancel_abandoned(mut self, cancel: bool) -> Self {
        self.extension.cancel = cancel;
        self
    }

    /// Builds the node. Nothing runs until it listens or connects.
    pub fn build(self) -> Node {
        let mut config = Config::new(self.timeout, self.wire, self.limits, self.node_id);
        config.first_session = self.first_session;
        config.dialing = self.dialing;
        config.backlog = self.backlog;
        config.cancel_on_close = self.cancel_on_close;
        config.extension = self.extension.answer;
        config.extension_peers = self.extension.dial;
        config.cancel_abandoned = self.extension.cancel;
        let handler = self.handler.unwrap_or_else(|| Arc::new(no_handler));
        Node::from_parts(config, handler, self.on_accept, self.on_close)
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
