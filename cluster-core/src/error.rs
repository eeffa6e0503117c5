//! The one error type of the crate.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// A boxed error from a codec or other layer that `cluster-core` does not know.
pub type BoxError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a call, a send, a listen or a connection.
///
/// `Error` is `Clone` so that one failure (a connect attempt shared by many
/// callers, a dropped connection) can be handed to every caller it affects.
/// Display strings use silly's words where silly has one.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No response arrived within the call's timeout.
    #[error("timeout")]
    Timeout,
    /// The connection carrying the call went away before its response came.
    #[error("connection closed")]
    Closed,
    /// The peer was closed locally, or it was an accepted peer whose
    /// connection is gone (accepted peers never reconnect).
    #[error("peer closed")]
    PeerClosed,
    /// The node is shutting down ([`crate::Node::shutdown`]) or was dropped:
    /// it makes no new calls, and calls still pending when its grace ran out
    /// fail with this.
    #[error("node shutting down")]
    Shutdown,
    /// A host name could not be resolved.
    #[error("resolve {addr}: {source}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// What the resolver said.
        source: Arc<io::Error>,
    },
    /// A TCP connection could not be established: the last attempt failed
    /// with `source`. While an outbound peer backs off after such a failure,
    /// its calls fail with the same error at once instead of dialing again.
    #[error("connect {addr}: {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// The last connect error.
        source: Arc<io::Error>,
    },
    /// A listener could not be created.
    #[error("listen {addr}: {source}")]
    Listen {
        /// The address as given.
        addr: String,
        /// Why binding failed.
        source: Arc<io::Error>,
    },
    /// A body does not fit in one frame of the node's wire format. Nothing
    /// was written.
    #[error("body of {size} bytes exceeds the frame limit of {limit} bytes")]
    TooLarge {
        /// The body size.
        size: usize,
        /// The largest body the frame can carry.
        limit: usize,
    },
    /// The connection's write queue is full: the peer does not read fast
    /// enough. Nothing was written. (Node-wide budgets never fail a call:
    /// they slow reading instead.)
    #[error("write queue full ({limit} bytes queued): peer is not reading")]
    Overloaded {
        /// The configured write-queue limit.
        limit: usize,
    },
    /// A value could not be encoded.
    #[error("encode: {0}")]
    Encode(BoxError),
    /// A body could not be decoded.
    #[error("decode: {0}")]
    Decode(BoxError),
    /// The remote side broke the wire protocol; the connection was closed.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// Reading or writing the socket failed.
    #[error("io: {0}")]
    Io(Arc<io::Error>),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

/// A violation of the wire protocol by the remote side. Each one closes the
/// connection it happened on, and only that one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Every payload ends (v1) or starts (v2) with a 4-byte session word.
    #[error("payload of {len} bytes is shorter than the 4-byte session word")]
    ShortPayload {
        /// The payload length.
        len: usize,
    },
    /// A request needs session, command and trace id: 16 bytes.
    #[error("request payload of {len} bytes is shorter than 16 bytes")]
    ShortRequest {
        /// The payload length.
        len: usize,
    },
    /// A frame header announced more than the hard limit.
    #[error("frame of {len} bytes exceeds the hard limit of {limit} bytes")]
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured hard limit.
        limit: usize,
    },
    /// A frame was started but not completed within the read timeout.
    #[error("incomplete frame not finished within {0:?}")]
    ReadTimeout(Duration),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
