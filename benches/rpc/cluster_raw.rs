//! This framework's byte API: a handler on command ids, `Peer::call` and
//! `Peer::send`, with default settings except the limits the memory
//! measurement needs; over TCP, a Unix socket or (feature `tls`) TLS.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use cluster::{DEFAULT_TIMEOUT, Error, Node, NodeBuilder, Peer, Request};
use futures::TryFutureExt;

use crate::system::{CallResult, Cmd, Sent, System, serve};

/// The byte API over the transport `T`.
pub struct ClusterRaw<T = Tcp>(PhantomData<T>);

/// What a transport sets on the server's and the clients' nodes.
pub trait Transport: Send + Sync + 'static {
    /// Where the server listens.
    fn listen_addr() -> String;

    fn server(builder: NodeBuilder) -> io::Result<NodeBuilder> {
        Ok(builder)
    }

    fn client(builder: NodeBuilder) -> io::Result<NodeBuilder> {
        Ok(builder)
    }
}

pub struct Tcp;

impl Transport for Tcp {
    fn listen_addr() -> String {
        "127.0.0.1:0".into()
    }
}

pub struct Unix;

impl Transport for Unix {
    fn listen_addr() -> String {
        // The server process's own path: it removes the file when it ends.
        let path = std::env::temp_dir().join(format!("cluster-bench-{}.sock", std::process::id()));
        format!("unix:{}", path.display())
    }
}

#[cfg(feature = "tls")]
pub use crate::tls::Tls;

/// Held calls wait for the whole memory measurement.
const HOLD_TIMEOUT: Duration = Duration::from_secs(120);

impl<T: Transport> System for ClusterRaw<T> {
    type Client = Peer;

    async fn serve() -> io::Result<String> {
        crate::cluster_typed::listen_on(
            &T::listen_addr(),
            T::server(Node::builder())?,
            |req: Request| async move {
                match Cmd::from_id(req.cmd)? {
                    Cmd::Echo => Some(req.body),
                    Cmd::Note => {
                        serve::note();
                        None
                    }
                    Cmd::Count => Some(serve::count()),
                    Cmd::Hold => Some(serve::hold(req.body).await),
                    Cmd::Release => Some(serve::release()),
                }
            },
        )
    }

    async fn connect(addr: &str) -> io::Result<Peer> {
        // One node per connection: a node keeps one connection per address.
        let peer = T::client(Node::builder())?.build().connect(addr).await;
        peer.call(Cmd::Count.id(), Bytes::new())
            .await
            .map_err(io::Error::other)?;
        Ok(peer)
    }

    // Not an `async fn`, which would add its own state to the call's future
    // that the in-flight memory measurement weighs.
    fn call(peer: &Peer, cmd: Cmd, body: Bytes) -> impl Future<Output = CallResult<Bytes>> + Send {
        let timeout = match cmd {
            Cmd::Hold => HOLD_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        };
        peer.call_timeout(cmd.id(), body, timeout)
            .map_err(|e| e.to_string())
    }

    async fn send(peer: &Peer, body: Bytes) -> CallResult<Sent> {
        match peer.send(Cmd::Note.id(), body).await {
            Ok(()) => Ok(Sent::Queued),
            Err(Error::Overloaded { .. }) => Ok(Sent::Full),
            Err(e) => Err(e.to_string()),
        }
    }
}
