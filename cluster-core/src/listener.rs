//! Listeners: accept loops that turn incoming connections into inbound peers.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::node::NodeShared;
use crate::peer::Peer;

/// silly's listen backlog.
const BACKLOG: u32 = 128;
/// Pause after a failed accept (out of file descriptors, say), so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A bound, accepting listener. It keeps accepting until [`Listener::close`];
/// dropping the handle does not stop it, as in silly.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    socket: Arc<TcpListener>,
    accept: AbortHandle,
}

impl Listener {
    pub(crate) fn bind(node: &Arc<NodeShared>, addr: &str) -> Result<Self> {
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
        let socket = Arc::new(socket.listen(BACKLOG).map_err(fail)?);
        let local_addr = socket.local_addr().map_err(fail)?;
        let accept = runtime
            .spawn(accept_loop(node.clone(), socket.clone()))
            .abort_handle();
        tracing::debug!(%local_addr, "listening");
        Ok(Self {
            local_addr,
            socket,
            accept,
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting at once: from its return, connection attempts to the
    /// port are refused and the port can be bound again. Connections
    /// already accepted stay up. No close callback fires.
    pub fn close(&self) {
        // Aborting the accept task drops the socket only when the runtime
        // next gets to it; shutting the socket down takes it out of the
        // listening state right now.
        if let Err(error) = socket2::SockRef::from(&*self.socket).shutdown(std::net::Shutdown::Read)
        {
            tracing::debug!(local_addr = %self.local_addr, %error, "listener shutdown failed");
        }
        self.accept.abort();
    }
}

async fn accept_loop(node: Arc<NodeShared>, listener: Arc<TcpListener>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => accept(&node, stream, remote),
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn accept(node: &Arc<NodeShared>, stream: TcpStream, remote: SocketAddr) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%remote, %error, "set_nodelay failed");
    }
    let peer = Peer::inbound(node, remote);
    let conn = Connection::new(node, &peer);
    peer.attach(&conn);
    node.accepted(&peer, remote);
    conn.start(stream, peer);
}
