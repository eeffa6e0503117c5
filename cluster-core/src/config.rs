//! Node configuration: defaults and limits.

use std::time::Duration;

use crate::wire::{FrameCodec, WireFormat, v2};

/// The default call timeout: 5000 ms, as silly's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Bounds that keep one connection from taking more than its share. Every
/// limit applies to each connection separately.
///
/// ```
/// let mut limits = cluster_core::Limits::default();
/// limits.write_queue = 1 << 20;
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
    /// Requests of one connection that may be handled at once. When that
    /// many handlers are waiting, the connection is not read until one ends:
    /// the sender feels TCP back-pressure instead of the node spawning
    /// without bound. A handler that finishes without waiting never counts.
    ///
    /// The default value for this parameter is 4096.
    pub max_concurrent_requests: usize,
    /// How long a started frame may take to arrive completely before the
    /// connection is closed (a peer trickling bytes holds no resources for
    /// longer). `None` waits forever. An idle connection is never timed out.
    ///
    /// The default value for this parameter is 30 seconds.
    pub frame_read_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: v2::DEFAULT_MAX_FRAME,
            warn_frame: v2::DEFAULT_WARN_FRAME,
            write_queue: 16 * 1024 * 1024,
            max_concurrent_requests: 4096,
            frame_read_timeout: Some(Duration::from_secs(30)),
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
}

impl Config {
    pub(crate) fn new(timeout: Duration, wire: WireFormat, limits: Limits, node_id: u16) -> Self {
        Self {
            timeout,
            codec: FrameCodec::new(wire, limits.max_frame, limits.warn_frame),
            limits,
            node_id,
        }
    }
}
