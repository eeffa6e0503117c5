//! Listeners: accept loops that hand incoming connections to their node.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::budget::TaskGuard;
use crate::error::{Error, Result};

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
    local_addr: SocketAddr,
    socket: Arc<TcpListener>,
    /// Set by [`Listener::close`]: the accept loop's error is then its end.
    closed: Arc<AtomicBool>,
    accept: AbortHandle,
}

impl Listener {
    /// Binds `addr` with a listen queue of `backlog` and hands every
    /// accepted connection to `accept`, in a task counted by `task`.
    pub(crate) fn bind(
        addr: &str,
        backlog: u32,
        task: TaskGuard,
        accept: impl Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
    ) -> Result<Self> {
        let fail = |source: io::Error| Error::Listen {
            addr: addr.to_owned(),
            source: Arc::new(source),
        };
        let runtime = Handle::try_current()
            .map_err(|_| fail(io::Error::other("must be called inside a tokio runtime")))?;
        let target = addr
            .to_socket_addrs()
            .map_err(fail)?
            .next()
            .ok_or_else(|| {
                fail(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "resolves to no address",
                ))
            })?;
        let socket = match target {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(fail)?;
        // A restarted node can take its port back while old connections linger.
        socket.set_reuseaddr(true).map_err(fail)?;
        socket.bind(target).map_err(fail)?;
        let socket = Arc::new(socket.listen(backlog).map_err(fail)?);
        let local_addr = socket.local_addr().map_err(fail)?;
        let closed = Arc::new(AtomicBool::new(false));
        let accept = runtime
            .spawn(accept_loop(socket.clone(), closed.clone(), task, accept))
            .abort_handle();
        tracing::debug!(%local_addr, backlog, "listening");
        Ok(Self {
            inner: Arc::new(Inner {
                local_addr,
                socket,
                closed,
                accept,
            }),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Stops accepting at once: from its return, connection attempts to the
    /// port are refused and the port can be bound again. Connections
    /// already accepted stay up. No close callback fires.
    pub fn close(&self) {
        // Aborting the accept task drops the socket only when the runtime
        // next gets to it; shutting the socket down takes it out of the
        // listening state right now.
        self.inner.closed.store(true, Ordering::Release);
        if let Err(error) =
            socket2::SockRef::from(&*self.inner.socket).shutdown(std::net::Shutdown::Read)
        {
            tracing::debug!(local_addr = %self.inner.local_addr, %error, "listener shutdown failed");
        }
        self.inner.accept.abort();
    }

    /// Whether the listener was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.accept.is_finished()
    }
}

async fn accept_loop(
    listener: Arc<TcpListener>,
    closed: Arc<AtomicBool>,
    _task: TaskGuard,
    accept: impl Fn(TcpStream, SocketAddr),
) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%remote, %error, "set_nodelay failed");
                }
                accept(stream, remote);
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
