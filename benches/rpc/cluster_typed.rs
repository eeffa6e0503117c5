//! This framework's typed API: `#[cluster::service]` services, one with the
//! bincode codec and one with zproto, serving the benchmark protocol with
//! the same node settings as the byte API.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use cluster::{Error, Handler, Limits, Node, NodeBuilder, Peer};

use crate::system::{CallResult, Cmd, Sent, System, serve};

/// Held calls wait for the whole memory measurement.
const HOLD_TIMEOUT: Duration = Duration::from_secs(120);

/// The protocol with bincode: arguments and results are serde types.
#[cluster::service]
pub trait BincodeBench {
    #[cmd(1)]
    async fn echo(&self, body: Bytes) -> Bytes;
    #[cmd(2)]
    #[oneway]
    async fn note(&self, body: Bytes);
    #[cmd(3)]
    async fn count(&self) -> u64;
    #[cmd(4)]
    async fn hold(&self, body: Bytes) -> Bytes;
    #[cmd(5)]
    async fn release(&self) -> ();
}

mod proto {
    cluster::zproto!("benches/rpc/bench.zproto");
}

/// The protocol with zproto: command ids are the request messages' tags.
#[cluster::service(codec = zproto)]
pub trait ZprotoBench {
    async fn echo(&self, req: proto::Echo) -> proto::Payload;
    #[oneway]
    async fn note(&self, req: proto::Note);
    async fn count(&self, req: proto::Count) -> proto::Counted;
    async fn hold(&self, req: proto::Hold) -> proto::Payload;
    async fn release(&self, req: proto::Release) -> proto::Payload;
}

/// Serves both protocols with [`serve`].
pub struct Server;

impl BincodeBench for Server {
    async fn echo(&self, body: Bytes) -> Bytes {
        body
    }
    async fn note(&self, _body: Bytes) {
        serve::note();
    }
    async fn count(&self) -> u64 {
        u64::from_le_bytes(serve::count()[..].try_into().unwrap_or_default())
    }
    async fn hold(&self, body: Bytes) -> Bytes {
        serve::hold(body).await
    }
    async fn release(&self) {
        serve::release();
    }
}

impl ZprotoBench for Server {
    async fn echo(&self, req: proto::Echo) -> proto::Payload {
        proto::Payload { body: req.body }
    }
    async fn note(&self, _req: proto::Note) {
        serve::note();
    }
    async fn count(&self, _req: proto::Count) -> proto::Counted {
        let count = BincodeBench::count(self).await;
        proto::Counted { count: Some(count) }
    }
    async fn hold(&self, req: proto::Hold) -> proto::Payload {
        let body = serve::hold(Bytes::from(req.body.unwrap_or_default())).await;
        proto::Payload {
            body: Some(body.into()),
        }
    }
    async fn release(&self, _req: proto::Release) -> proto::Payload {
        serve::release();
        proto::Payload::default()
    }
}

/// A node serving `handler`, with the limits the measurements need, for
/// the rest of the server process (a node stops when its last handle goes).
pub fn listen(handler: impl Handler) -> io::Result<String> {
    listen_on("127.0.0.1:0", Node::builder(), handler)
}

/// The nodes that serve until the server process ends.
static SERVING: Mutex<Vec<Node>> = Mutex::new(Vec::new());

/// Serves with `handler` on `addr`, with `builder`'s settings and the
/// benchmark's limits; returns the address to connect to.
pub fn listen_on(addr: &str, builder: NodeBuilder, handler: impl Handler) -> io::Result<String> {
    let mut limits = Limits::default();
    // The in-flight memory measurement holds 100,000 calls on one
    // connection, and its probe calls must still find a handler slot.
    limits.max_concurrent_requests = 1 << 20;
    limits.max_handlers = 1 << 20;
    let node = builder.limits(limits).handler(handler).build();
    let listener = node.listen(addr).map_err(io::Error::other)?;
    serving().push(node);
    Ok(listener.addr().to_owned())
}

/// Drops the serving nodes, which removes a Unix socket's file.
pub fn stop() {
    serving().clear();
}

fn serving() -> std::sync::MutexGuard<'static, Vec<Node>> {
    SERVING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One node per connection: a node keeps one connection per address.
async fn peer(addr: &str) -> Peer {
    Node::builder().build().connect(addr).await
}

fn sent(result: Result<(), Error>) -> CallResult<Sent> {
    match result {
        Ok(()) => Ok(Sent::Queued),
        Err(Error::Overloaded { .. }) => Ok(Sent::Full),
        Err(e) => Err(e.to_string()),
    }
}

pub struct ClusterBincode;

impl System for ClusterBincode {
    type Client = BincodeBenchClient;

    async fn serve() -> io::Result<String> {
        listen(BincodeBenchServer::new(Server))
    }

    async fn connect(addr: &str) -> io::Result<Self::Client> {
        let client = BincodeBenchClient::new(peer(addr).await);
        client.count().await.map_err(io::Error::other)?;
        Ok(client)
    }

    async fn call(client: &Self::Client, cmd: Cmd, body: Bytes) -> CallResult<Bytes> {
        let answer = match cmd {
            Cmd::Echo => client.echo(body).await,
            Cmd::Count => client
                .count()
                .await
                .map(|n| Bytes::copy_from_slice(&n.to_le_bytes())),
            Cmd::Hold => client.clone().with_timeout(HOLD_TIMEOUT).hold(body).await,
            Cmd::Release => client.release().await.map(|()| Bytes::new()),
            Cmd::Note => return Err("a note is sent, not called".into()),
        };
        answer.map_err(|e| e.to_string())
    }

    async fn send(client: &Self::Client, body: Bytes) -> CallResult<Sent> {
        sent(client.note(body).await)
    }
}

pub struct ClusterZproto;

impl System for ClusterZproto {
    type Client = ZprotoBenchClient;

    async fn serve() -> io::Result<String> {
        listen(ZprotoBenchServer::new(Server))
    }

    async fn connect(addr: &str) -> io::Result<Self::Client> {
        let client = ZprotoBenchClient::new(peer(addr).await);
        client
            .count(proto::Count {})
            .await
            .map_err(io::Error::other)?;
        Ok(client)
    }

    async fn call(client: &Self::Client, cmd: Cmd, body: Bytes) -> CallResult<Bytes> {
        let body = Some(body.to_vec());
        let answer = match cmd {
            Cmd::Echo => client.echo(proto::Echo { body }).await,
            Cmd::Count => {
                let counted = client.count(proto::Count {}).await;
                let count = counted.map(|c| c.count.unwrap_or(0));
                return count
                    .map(|n| Bytes::copy_from_slice(&n.to_le_bytes()))
                    .map_err(|e| e.to_string());
            }
            Cmd::Hold => {
                client
                    .clone()
                    .with_timeout(HOLD_TIMEOUT)
                    .hold(proto::Hold { body })
                    .await
            }
            Cmd::Release => client.release(proto::Release {}).await,
            Cmd::Note => return Err("a note is sent, not called".into()),
        };
        answer
            .map(|payload| Bytes::from(payload.body.unwrap_or_default()))
            .map_err(|e| e.to_string())
    }

    async fn send(client: &Self::Client, body: Bytes) -> CallResult<Sent> {
        sent(
            client
                .note(proto::Note {
                    body: Some(body.to_vec()),
                })
                .await,
        )
    }
}
