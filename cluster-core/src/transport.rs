//! Transports: the byte streams a connection runs over, and the addresses
//! that name them.
//!
//! An address is `host:port` (TCP), `tls:host:port` (TLS over TCP, with the
//! feature `tls`: `transport/tls.rs`), `unix:/path` (a Unix domain socket)
//! or `memory:name` (an in-process pipe to a listener of this process, for
//! tests). A connection takes its stream as a closed set of kinds rather
//! than as a generic: one monomorphic reader and writer, and TCP reads and
//! writes go straight to its own split halves as before.
//!
//! What differs between kinds: TCP and TLS alone have kernel dead-peer
//! detection ([`crate::Limits::dead_peer_timeout`]); a Unix socket's peer
//! is on the same host, whose kernel sees it go. A paused reader notices a
//! peer that left from the socket's readiness on TCP and Unix, from the
//! pipe's close flag in memory; a TLS stream is split in user space, out of
//! reach of its socket's readiness, so there only dead-peer detection and
//! the next read tell.

pub(crate) mod memory;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream, tcp, unix};
use tokio::time::Instant;

use crate::config::Dialing;
use crate::error::{Error, Result};

/// What an address names.
pub(crate) enum Address<'a> {
    Tcp(&'a str),
    Unix(&'a str),
    Memory(&'a str),
    /// `host:port`, over TLS.
    Tls(&'a str),
}

impl<'a> Address<'a> {
    pub(crate) fn parse(addr: &'a str) -> Self {
        if let Some(path) = addr.strip_prefix("unix:") {
            Address::Unix(path)
        } else if let Some(name) = addr.strip_prefix("memory:") {
            Address::Memory(name)
        } else if let Some(target) = addr.strip_prefix("tls:") {
            Address::Tls(target)
        } else {
            Address::Tcp(addr)
        }
    }
}

/// A connected byte stream of one of the transports.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Memory(memory::Pipe),
    /// Boxed: a TLS session is kilobytes, and the other kinds are words.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// A stream the user brought ([`crate::Node::serve_stream`]).
    Other(Box<dyn Io>),
}

/// Any byte stream a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Io for T {}

/// The receiving half of a [`Stream`].
pub(crate) enum ReadHalf {
    Tcp(tcp::OwnedReadHalf),
    Unix(unix::OwnedReadHalf),
    Memory(tokio::io::ReadHalf<memory::Pipe>, memory::Closed),
    #[cfg(feature = "tls")]
    Tls(tokio::io::ReadHalf<Box<tokio_rustls::TlsStream<TcpStream>>>),
    Other(tokio::io::ReadHalf<Box<dyn Io>>),
}

/// The sending half of a [`Stream`].
pub(crate) enum WriteHalf {
    Tcp(tcp::OwnedWriteHalf),
    Unix(unix::OwnedWriteHalf),
    Memory(tokio::io::WriteHalf<memory::Pipe>),
    #[cfg(feature = "tls")]
    Tls(tokio::io::WriteHalf<Box<tokio_rustls::TlsStream<TcpStream>>>),
    Other(tokio::io::WriteHalf<Box<dyn Io>>),
}

/// Who the remote end of a connection proved to be: the certificate chain
/// of a mutual-TLS client; nothing on other kinds.
#[derive(Clone, Default)]
pub(crate) struct Identity {
    #[cfg(feature = "tls")]
    certificates: Option<tls::Certificates>,
}

impl Identity {
    /// The chain the remote end presented, its own certificate first.
    #[cfg(feature = "tls")]
    pub(crate) fn certificates(
        &self,
    ) -> Option<&[tokio_rustls::rustls::pki_types::CertificateDer<'static>]> {
        self.certificates.as_deref()
    }
}

impl Stream {
    /// Splits the stream so that reading and writing run in separate tasks.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Tcp(s) => {
                let (rd, wr) = s.into_split();
                (ReadHalf::Tcp(rd), WriteHalf::Tcp(wr))
            }
            Stream::Unix(s) => {
                let (rd, wr) = s.into_split();
                (ReadHalf::Unix(rd), WriteHalf::Unix(wr))
            }
            Stream::Memory(s) => {
                let closed = s.peer_closed();
                let (rd, wr) = tokio::io::split(s);
                (ReadHalf::Memory(rd, closed), WriteHalf::Memory(wr))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let (rd, wr) = tokio::io::split(s);
                (ReadHalf::Tls(rd), WriteHalf::Tls(wr))
            }
            Stream::Other(s) => {
                let (rd, wr) = tokio::io::split(s);
                (ReadHalf::Other(rd), WriteHalf::Other(wr))
            }
        }
    }

    /// Who the remote end proved to be.
    pub(crate) fn identity(&self) -> Identity {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Identity {
                certificates: tls::peer_certificates(s),
            },
            _ => Identity::default(),
        }
    }

    /// Has the kernel close a TCP stream once its peer leaves probes or
    /// data unacknowledged for `timeout`; other kinds have no such setting.
    pub(crate) fn detect_dead_peer(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => detect_dead_peer(s, timeout),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => detect_dead_peer(s.get_ref().0, timeout),
            Stream::Unix(_) | Stream::Memory(_) | Stream::Other(_) => Ok(()),
        }
    }
}

impl ReadHalf {
    /// Whether the peer closed its side (FIN or RST) of a stream that is not
    /// being read: the readiness flags tell even with unread data queued.
    pub(crate) fn peer_left(&self) -> Option<Error> {
        match self {
            ReadHalf::Tcp(rd) => readiness(rd.ready(tokio::io::Interest::READABLE)),
            ReadHalf::Unix(rd) => readiness(rd.ready(tokio::io::Interest::READABLE)),
            ReadHalf::Memory(_, closed) => closed.is_set().then_some(Error::Closed),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(_) => None,
            ReadHalf::Other(_) => None,
        }
    }
}

/// A readiness future polled once, without waiting.
fn readiness(ready: impl Future<Output = io::Result<tokio::io::Ready>>) -> Option<Error> {
    let ready = std::pin::pin!(ready);
    match ready.poll(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(Ok(ready)) if ready.is_read_closed() => Some(Error::Closed),
        Poll::Ready(Err(error)) => Some(error.into()),
        _ => None,
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(rd) => Pin::new(rd).poll_read(cx, buf),
            ReadHalf::Unix(rd) => Pin::new(rd).poll_read(cx, buf),
            ReadHalf::Memory(rd, _) => Pin::new(rd).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(rd) => Pin::new(rd).poll_read(cx, buf),
            ReadHalf::Other(rd) => Pin::new(rd).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(wr) => Pin::new(wr).poll_write(cx, buf),
            WriteHalf::Unix(wr) => Pin::new(wr).poll_write(cx, buf),
            WriteHalf::Memory(wr) => Pin::new(wr).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(wr) => Pin::new(wr).poll_write(cx, buf),
            WriteHalf::Other(wr) => Pin::new(wr).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(wr) => Pin::new(wr).poll_flush(cx),
            WriteHalf::Unix(wr) => Pin::new(wr).poll_flush(cx),
            WriteHalf::Memory(wr) => Pin::new(wr).poll_flush(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(wr) => Pin::new(wr).poll_flush(cx),
            WriteHalf::Other(wr) => Pin::new(wr).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(wr) => Pin::new(wr).poll_shutdown(cx),
            WriteHalf::Unix(wr) => Pin::new(wr).poll_shutdown(cx),
            WriteHalf::Memory(wr) => Pin::new(wr).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(wr) => Pin::new(wr).poll_shutdown(cx),
            WriteHalf::Other(wr) => Pin::new(wr).poll_shutdown(cx),
        }
    }
}

impl WriteHalf {
    /// Writes all of `buf` to the transport. A TLS stream is flushed too:
    /// it may hold records that the socket did not take at once, which
    /// nothing else would write before the next batch.
    pub(crate) async fn write_batch(&mut self, buf: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write_all(buf).await?;
        match self {
            #[cfg(feature = "tls")]
            WriteHalf::Tls(wr) => wr.flush().await,
            // A user's stream may buffer too.
            WriteHalf::Other(wr) => wr.flush().await,
            _ => Ok(()),
        }
    }
}

/// Connects to `addr` (see the module docs for its forms) as `dialing`
/// says; a TLS handshake gives up at `deadline`.
pub(crate) async fn dial(addr: &str, dialing: &Dialing, deadline: Instant) -> Result<Stream> {
    let fail = |source: io::Error| Error::Connect {
        addr: addr.to_owned(),
        source: Arc::new(source),
    };
    match Address::parse(addr) {
        Address::Tcp(target) => dial_tcp(target).await.map(Stream::Tcp),
        Address::Unix(path) => UnixStream::connect(path)
            .await
            .map(Stream::Unix)
            .map_err(fail),
        Address::Memory(name) => memory::connect(name).map(Stream::Memory).map_err(fail),
        Address::Tls(target) => dial_tls(target, dialing, deadline).await,
    }
}

#[cfg(feature = "tls")]
async fn dial_tls(target: &str, dialing: &Dialing, deadline: Instant) -> Result<Stream> {
    let Some(client) = &dialing.tls else {
        return Err(no_tls(
            "the node has no TLS client settings (NodeBuilder::tls_client)",
        ));
    };
    let tcp = dial_tcp(target).await?;
    let stream = tls::connect(tcp, target, client, deadline, dialing.connect_timeout).await?;
    Ok(Stream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn dial_tls(_: &str, _: &Dialing, _: Instant) -> Result<Stream> {
    Err(no_tls("this build has no TLS (the feature `tls`)"))
}

/// A `tls:` address that the node cannot serve or dial.
pub(crate) fn no_tls(why: &str) -> Error {
    Error::Tls(Arc::new(io::Error::new(io::ErrorKind::Unsupported, why)))
}

/// Resolves `addr` and connects to the first address that accepts.
async fn dial_tcp(addr: &str) -> Result<TcpStream> {
    let resolved = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| Error::Resolve {
            addr: addr.to_owned(),
            source: Arc::new(e),
        })?;
    let mut last = None;
    for target in resolved {
        match TcpStream::connect(target).await {
            Ok(stream) => {
                // Frames are coalesced by the writer; Nagle would only delay them.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let source =
        last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "resolved to no address"));
    Err(Error::Connect {
        addr: addr.to_owned(),
        source: Arc::new(source),
    })
}

/// See [`Stream::detect_dead_peer`] and [`crate::Limits::dead_peer_timeout`].
fn detect_dead_peer(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    // Keepalive counts in whole seconds; probing four times per timeout
    // bounds detection at about 1.25 times it.
    let probe = (timeout / 4).max(Duration::from_secs(1));
    let retries = u32::try_from(timeout.as_secs() / probe.as_secs()).unwrap_or(u32::MAX);
    socket.set_tcp_keepalive(
        &socket2::TcpKeepalive::new()
            .with_time(probe)
            .with_interval(probe)
            .with_retries(retries.max(1)),
    )?;
    // Also bounds unacknowledged data, and makes keepalive give up after
    // `timeout` rather than after a count of probes.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(Some(timeout))?;
    Ok(())
}
