//! Listeners: accept loops that hand incoming connections to their node,
//! on a TCP port (plain or TLS), a Unix socket path or a `memory:` name.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::budget::TaskGuard;
use crate::config::Config;
use crate::error::{Error, Result};
#[cfg(feature = "tls")]
use crate::transport::tls;
use crate::transport::{Address, Stream, memory};

/// Pause after a failed accept (out of file descriptors, say), so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A bound, accepting listener. It keeps accepting until [`Listener::close`],
/// [`crate::Node::shutdown`] or the node being dropped; dropping the handle
/// does not stop it, as in silly.
#[derive(Debug, Clone)]
pub struct Listener {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The address to connect to, with the real port for a TCP one.
    addr: String,
    local_addr: SocketAddr,
    socket: Socket,
    /// Set by [`Listener::close`]: the accept loop's error is then its end.
    closed: Arc<AtomicBool>,
    accept: AbortHandle,
}

/// What a listener accepts on.
enum Socket {
    Tcp(Arc<TcpListener>),
    /// The path is removed when the listener closes.
    Unix(Arc<UnixListener>, PathBuf),
    Memory(Arc<memory::Incoming>),
    #[cfg(feature = "tls")]
    Tls(Arc<TcpListener>, Arc<tls::Acceptor>),
}

/// What an accept gives: a connection ready to serve, or one that must
/// pass a TLS handshake first.
enum Incoming {
    Ready(Stream, String),
    #[cfg(feature = "tls")]
    Handshake(TcpStream, String, tokio::sync::OwnedSemaphorePermit),
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Socket::Tcp(_) => "Tcp",
            Socket::Unix(..) => "Unix",
            Socket::Memory(_) => "Memory",
            #[cfg(feature = "tls")]
            Socket::Tls(..) => "Tls",
        })
    }
}

impl Listener {
    /// Binds `addr` with the listen queue and TLS settings of `config` and
    /// hands every accepted connection, with the address it came from, to
    /// `accept`, in a task counted by `task`.
    pub(crate) fn bind(
        addr: &str,
        config: &Config,
        task: TaskGuard,
        accept: impl Fn(Stream, String) + Send + Sync + 'static,
    ) -> Result<Self> {
        let fail = |source: io::Error| Error::Listen {
            addr: addr.to_owned(),
            source: Arc::new(source),
        };
        let runtime = Handle::try_current()
            .map_err(|_| fail(io::Error::other("must be called inside a tokio runtime")))?;
        let _entered = runtime.enter();
        let backlog = config.backlog;
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let (socket, local_addr) = match Address::parse(addr) {
            Address::Tcp(target) => {
                let socket = bind_tcp(target, backlog).map_err(fail)?;
                let local_addr = socket.local_addr().map_err(fail)?;
                (Socket::Tcp(Arc::new(socket)), local_addr)
            }
            Address::Unix(path) => {
                let socket = UnixListener::bind(path).map_err(fail)?;
                (Socket::Unix(Arc::new(socket), path.into()), unspecified)
            }
            Address::Memory(name) => {
                let incoming = memory::bind(name).map_err(fail)?;
                (Socket::Memory(Arc::new(incoming)), unspecified)
            }
            Address::Tls(target) => bind_tls(target, config, fail)?,
        };
        let addr = match socket {
            Socket::Tcp(_) => local_addr.to_string(),
            #[cfg(feature = "tls")]
            Socket::Tls(..) => format!("tls:{local_addr}"),
            Socket::Unix(..) | Socket::Memory(_) => addr.to_owned(),
        };
        let closed = Arc::new(AtomicBool::new(false));
        let accept = runtime
            .spawn(accept_loop(
                socket.clone_handle(),
                addr.clone(),
                closed.clone(),
                task,
                Arc::new(accept),
            ))
            .abort_handle();
        tracing::debug!(%addr, backlog, "listening");
        Ok(Self {
            inner: Arc::new(Inner {
                addr,
                local_addr,
                socket,
                closed,
                accept,
            }),
        })
    }

    /// The bound TCP address (with the real port when bound to port 0), for
    /// plain and TLS listeners; `0.0.0.0:0` for a Unix or memory listener,
    /// which has none (see [`Listener::addr`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address to connect to: `host:port` with the real port for TCP,
    /// `tls:host:port` likewise for TLS, the address as given for `unix:`
    /// and `memory:`.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Stops accepting at once: from its return, connection attempts to the
    /// address are refused and it can be bound again (a Unix socket's file
    /// is removed). Connections already accepted stay up. No close
    /// callback fires.
    pub fn close(&self) {
        // Aborting the accept task drops the socket only when the runtime
        // next gets to it; shutting the socket down takes it out of the
        // listening state right now.
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let shutdown = match &self.inner.socket {
            Socket::Tcp(socket) => {
                socket2::SockRef::from(&**socket).shutdown(std::net::Shutdown::Read)
            }
            #[cfg(feature = "tls")]
            Socket::Tls(socket, _) => {
                socket2::SockRef::from(&**socket).shutdown(std::net::Shutdown::Read)
            }
            Socket::Unix(_, path) => std::fs::remove_file(path),
            Socket::Memory(incoming) => {
                incoming.close();
                Ok(())
            }
        };
        if let Err(error) = shutdown {
            tracing::debug!(addr = %self.inner.addr, %error, "listener shutdown failed");
        }
        self.inner.accept.abort();
    }

    /// Whether the listener was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.accept.is_finished()
    }
}

impl Socket {
    fn clone_handle(&self) -> Socket {
        match self {
            Socket::Tcp(s) => Socket::Tcp(s.clone()),
            Socket::Unix(s, path) => Socket::Unix(s.clone(), path.clone()),
            Socket::Memory(s) => Socket::Memory(s.clone()),
            #[cfg(feature = "tls")]
            Socket::Tls(s, tls) => Socket::Tls(s.clone(), tls.clone()),
        }
    }

    /// The next connection and where it came from; for Unix and memory
    /// ones, the listener's own address.
    async fn accept(&self, addr: &str) -> io::Result<Incoming> {
        match self {
            Socket::Tcp(socket) => {
                let (stream, remote) = accept_tcp(socket).await?;
                Ok(Incoming::Ready(Stream::Tcp(stream), remote))
            }
            #[cfg(feature = "tls")]
            Socket::Tls(socket, tls) => {
                let slot = tls.slot().await?;
                let (stream, remote) = accept_tcp(socket).await?;
                Ok(Incoming::Handshake(stream, remote, slot))
            }
            Socket::Unix(socket, _) => {
                let (stream, _) = socket.accept().await?;
                Ok(Incoming::Ready(Stream::Unix(stream), addr.to_owned()))
            }
            Socket::Memory(incoming) => match incoming.accept().await {
                Some(pipe) => Ok(Incoming::Ready(Stream::Memory(pipe), addr.to_owned())),
                None => Err(io::Error::from(io::ErrorKind::NotConnected)),
            },
        }
    }
}

async fn accept_tcp(socket: &TcpListener) -> io::Result<(TcpStream, String)> {
    let (stream, remote) = socket.accept().await?;
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%remote, %error, "set_nodelay failed");
    }
    Ok((stream, remote.to_string()))
}

/// A TLS listener on `addr` with the node's server settings; `fail` makes
/// a socket's error the listen's.
#[cfg(feature = "tls")]
fn bind_tls(
    addr: &str,
    config: &Config,
    fail: impl Fn(io::Error) -> Error,
) -> Result<(Socket, SocketAddr)> {
    let Some(server) = &config.tls_server else {
        return Err(crate::transport::no_tls(
            "the node has no TLS server settings (NodeBuilder::tls_server)",
        ));
    };
    let socket = bind_tcp(addr, config.backlog).map_err(&fail)?;
    let local_addr = socket.local_addr().map_err(fail)?;
    let acceptor = tls::Acceptor::new(server, config.dialing.connect_timeout, config.backlog);
    Ok((
        Socket::Tls(Arc::new(socket), Arc::new(acceptor)),
        local_addr,
    ))
}

#[cfg(not(feature = "tls"))]
fn bind_tls(_: &str, _: &Config, _: impl Fn(io::Error) -> Error) -> Result<(Socket, SocketAddr)> {
    Err(crate::transport::no_tls(
        "this build has no TLS (the feature `tls`)",
    ))
}

/// A listening TCP socket on `addr`.
fn bind_tcp(addr: &str, backlog: u32) -> io::Result<TcpListener> {
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "resolves to no address"))?;
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }?;
    // A restarted node can take its port back while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(target)?;
    socket.listen(backlog)
}

async fn accept_loop(
    listener: Socket,
    addr: String,
    closed: Arc<AtomicBool>,
    _task: TaskGuard,
    accept: Arc<impl Fn(Stream, String) + Send + Sync + 'static>,
) {
    loop {
        match listener.accept(&addr).await {
            Ok(Incoming::Ready(stream, remote)) => accept(stream, remote),
            #[cfg(feature = "tls")]
            Ok(Incoming::Handshake(tcp, remote, slot)) => {
                if let Socket::Tls(_, tls) = &listener {
                    let (tls, accept) = (tls.clone(), accept.clone());
                    tokio::spawn(async move {
                        if let Some(stream) = tls.handshake(tcp, &remote, slot).await {
                            accept(Stream::Tls(Box::new(stream)), remote);
                        }
                    });
                }
            }
            // A closed listener's socket fails its accept before the
            // task is aborted: that is its end, not a failure.
            Err(_) if closed.load(Ordering::Acquire) => return,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}
