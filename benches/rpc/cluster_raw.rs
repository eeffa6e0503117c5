//! This framework's byte API: a handler on command ids, `Peer::call` and
//! `Peer::send`, with default settings except the limits the memory
//! measurement needs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use cluster::{DEFAULT_TIMEOUT, Error, Node, Peer, Request};
use futures::TryFutureExt;

use crate::system::{CallResult, Cmd, Sent, System, serve};

pub struct ClusterRaw;

/// Held calls wait for the whole memory measurement.
const HOLD_TIMEOUT: Duration = Duration::from_secs(120);

impl System for ClusterRaw {
    type Client = Peer;

    async fn serve() -> io::Result<u16> {
        crate::cluster_typed::listen(|req: Request| async move {
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
        })
    }

    async fn connect(addr: SocketAddr) -> io::Result<Peer> {
        // One node per connection: a node keeps one connection per address.
        let peer = Node::builder().build().connect(&addr.to_string()).await;
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
