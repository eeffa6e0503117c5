//! Node configuration: defaults and limits.

use std::time::Duration;

use crate::wire::{FrameCodec, WireFormat, v2};

/// The default call timeout: 5000 ms, as silly's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Bounds that keep a connection from taking more than its share, and a
/// node from taking more than its host can give. The per-connection limits
/// apply to each connection separately; the node-wide ones (`max_*` and
/// `memory_budget`) to all of a node's connections together. The defaults
/// suit a node of about 1 GiB of memory.
///
/// ```
/// let mut limits = cluster_core::Limits::default();
/// limits.write_queue = 1 << 20;
/// limits.max_connections = 1_000;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Wire v2's hard limit on a frame's payload: larger frames are refused
    /// on send ([`crate::Error::TooLarge`]) and close the connection on
    /// receive. v1's 16-bit length is its own limit.
    ///
    /// The default value for this parameter is 128 MiB.
    pub max_frame: usize,
    /// Wire v2's soft limit: larger frames are logged as a warning.
    ///
    /// The default value for this parameter is 65535.
    pub warn_frame: usize,
    /// Bytes that may wait in a connection's write queue. When it is full,
    /// calls and sends fail with [`crate::Error::Overloaded`] and responses
    /// are dropped (logged) instead of growing memory without bound. A single
    /// frame is always accepted into an empty queue.
    ///
    /// The default value for this parameter is 16 MiB.
    pub write_queue: usize,
    /// Requests of one connection whose handlers may wait at once (a
    /// handler that finishes without waiting never counts). Requests that
    /// arrive while that many handlers wait queue, in order, with no task of
    /// their own, and start as handlers end. Reading goes on meanwhile, so
    /// that responses to the node's own calls still arrive (a waiting
    /// handler may be waiting for one), until 1 MiB of requests queue: then
    /// the connection is not read until a handler ends, and the sender feels
    /// TCP back-pressure instead of the node buffering without bound.
    ///
    /// The default value for this parameter is 4096.
    pub max_concurrent_requests: usize,
    /// How long a started frame may take to arrive completely before the
    /// connection is closed (a peer trickling bytes holds no resources for
    /// longer). `None` waits forever. An idle connection is never timed out.
    ///
    /// The default value for this parameter is 30 seconds.
    pub frame_read_timeout: Option<Duration>,
    /// How long a peer may leave the node's TCP traffic unacknowledged
    /// before its connection is declared dead. An idle connection is probed
    /// (TCP keepalive, every quarter of this, at least every second); a
    /// connection whose probes, or (on Linux) whose data, go unacknowledged
    /// this long is closed: calls on it fail with [`crate::Error::Closed`]
    /// and an outbound peer reconnects on its next call. This catches a peer
    /// whose host vanished or whose link was cut, which sends no FIN or RST
    /// and would otherwise hold the connection open for ever. A live peer
    /// that only reads slowly still acknowledges, and is not affected.
    /// `None` leaves the system's defaults (no probes of idle connections).
    ///
    /// The default value for this parameter is 60 seconds.
    pub dead_peer_timeout: Option<Duration>,
    /// Open connections of the node, inbound and outbound. A connection
    /// accepted beyond it is closed at once (logged, and counted in
    /// [`crate::NodeStats::refused_connections`]); an outbound connect
    /// beyond it fails with [`crate::Error::Connect`].
    ///
    /// The default value for this parameter is 10,000.
    pub max_connections: usize,
    /// Handlers that may wait at once over the whole node, including those
    /// of connections that have closed and still run. Beyond it requests
    /// queue on their connection as they do beyond
    /// `max_concurrent_requests`.
    ///
    /// The default value for this parameter is 65,536.
    pub max_handlers: usize,
    /// Bytes of input the node may hold across all its connections: read
    /// buffers, requests waiting for or held by a handler, and write
    /// queues (each counted rounded up to a whole 4 KiB). Over it, the node
    /// stops reading from the connections that hold more than their share
    /// until memory is given back, and a frame larger than the read buffer
    /// is read only once its size fits. Nothing is dropped or refused for
    /// it.
    ///
    /// The default value for this parameter is 256 MiB.
    pub memory_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: v2::DEFAULT_MAX_FRAME,
            warn_frame: v2::DEFAULT_WARN_FRAME,
            write_queue: 16 * 1024 * 1024,
            max_concurrent_requests: 4096,
            frame_read_timeout: Some(Duration::from_secs(30)),
            dead_peer_timeout: Some(Duration::from_secs(60)),
            max_connections: 10_000,
            max_handlers: 65_536,
            memory_budget: 256 * 1024 * 1024,
        }
    }
}

/// The listen backlog a node's listeners get unless told otherwise.
pub(crate) const DEFAULT_BACKLOG: u32 = 1024;

/// How an outbound peer dials and backs off.
#[derive(Debug, Clone)]
pub(crate) struct Dialing {
    /// How long one connect attempt may take.
    pub(crate) connect_timeout: Duration,
    /// The first pause after a failed attempt; it doubles per failure.
    pub(crate) backoff_min: Duration,
    /// The longest pause.
    pub(crate) backoff_max: Duration,
    /// What `tls:` connections trust and present.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::tls::TlsClient>,
}

impl Default for Dialing {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// The settled configuration of a node.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) timeout: Duration,
    pub(crate) codec: FrameCodec,
    pub(crate) limits: Limits,
    pub(crate) node_id: u16,
    pub(crate) dialing: Dialing,
    pub(crate) backlog: u32,
    /// Whether the handlers of a connection that closes are cancelled.
    pub(crate) cancel_on_close: bool,
    /// The session every new connection starts counting from.
    pub(crate) first_session: u32,
    /// Whether a hello is answered (the extension, see PROTOCOL.md).
    pub(crate) extension: bool,
    /// Whether connections this node dials send a hello.
    pub(crate) extension_peers: bool,
    /// Whether a handler is cancelled when its caller's deadline passes or
    /// its caller gives up (the extension).
    pub(crate) cancel_abandoned: bool,
    /// What `tls:` listeners present and ask of clients.
    #[cfg(feature = "tls")]
    pub(crate) tls_server: Option<crate::transport::tls::TlsServer>,
}

impl Config {
    pub(crate) fn new(timeout: Duration, wire: WireFormat, limits: Limits, node_id: u16) -> Self {
        Self {
            timeout,
            codec: FrameCodec::new(wire, limits.max_frame, limits.warn_frame),
            limits,
            node_id,
            dialing: Dialing::default(),
            backlog: DEFAULT_BACKLOG,
            cancel_on_close: true,
            first_session: 0,
            extension: true,
            extension_peers: false,
            cancel_abandoned: true,
            #[cfg(feature = "tls")]
            tls_server: None,
        }
    }
}
