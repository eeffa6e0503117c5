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
    /// A TLS handshake failed, the remote end broke TLS, or the TLS
    /// settings are unusable: an untrusted, expired or misnamed
    /// certificate, a client certificate missing where one is required, a
    /// peer that does not speak TLS, or a `tls:` address on a node without
    /// TLS settings. The source says which: a `rustls::Error` where rustls
    /// found the fault (the crate re-exports rustls with the feature
    /// `tls`). Under TLS 1.3 a server refuses a client's certificate only
    /// after the client's handshake ended: the client's calls then fail
    /// with [`Error::Closed`], and its close callback gets this error.
    #[error("tls: {0}")]
    Tls(BoxError),
    /// The remote node answered with a status instead of a value. Only
    /// between nodes that agreed on the extension (see PROTOCOL.md).
    #[error("remote: {status}: {message}")]
    Remote {
        /// What went wrong.
        status: Status,
        /// The remote node's words for it.
        message: String,
    },
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        // Only failures pay for the look: rustls reports through I/O errors.
        #[cfg(feature = "tls")]
        if let Some(tls) = crate::transport::tls::rustls_cause(&e) {
            return tls;
        }
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
    /// An extension body was shorter than its fixed part.
    #[error("extension body of {len} bytes is too short")]
    ShortExtension {
        /// The body length.
        len: usize,
    },
    /// A frame was started but not completed within the read timeout.
    #[error("incomplete frame not finished within {0:?}")]
    ReadTimeout(Duration),
}

/// Why a remote node answered a call with no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// No handler knows the command.
    UnknownCommand,
    /// The request body did not decode.
    BadRequest,
    /// The handler panicked.
    Panicked,
    /// A limit of the remote node refused the request.
    Overloaded,
    /// The remote node is shutting down.
    ShuttingDown,
    /// The handler returned an application error.
    Application,
    /// A status this node does not know (a newer peer's).
    Other(u8),
}

impl Status {
    /// The status byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Status::UnknownCommand => 1,
            Status::BadRequest => 2,
            Status::Panicked => 3,
            Status::Overloaded => 4,
            Status::ShuttingDown => 5,
            Status::Application => 6,
            Status::Other(code) => code,
        }
    }

    /// The status of a status byte other than 0.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Status::UnknownCommand,
            2 => Status::BadRequest,
            3 => Status::Panicked,
            4 => Status::Overloaded,
            5 => Status::ShuttingDown,
            6 => Status::Application,
            other => Status::Other(other),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::UnknownCommand => f.write_str("unknown command"),
            Status::BadRequest => f.write_str("bad request"),
            Status::Panicked => f.write_str("handler panicked"),
            Status::Overloaded => f.write_str("overloaded"),
            Status::ShuttingDown => f.write_str("shutting down"),
            Status::Application => f.write_str("application error"),
            Status::Other(code) => write!(f, "status {code}"),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
