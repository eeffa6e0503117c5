//! A fixed amount of RPC work, for counting instructions: 128 tasks make N
//! requests (default 200,000) over loopback to a handler that finishes at
//! once; one process, one current_thread runtime. Its figures are
//! whole-program instructions divided by N:
//!
//! ```text
//! cargo build --release --example rpc_count
//! valgrind --tool=callgrind target/release/examples/rpc_count 200000 [send|call] [bytes|bincode|zproto] [SIZE]
//! ```
//!
//! The defaults are one-way sends (`send`) of 16 bytes (`SIZE`) through the
//! byte API (`bytes`); `call` waits for an echo of the body, `bincode` and
//! `zproto` go through a `#[cluster::service]` with that codec.
//! (`target/` is `$CARGO_TARGET_DIR` when that is set.) BENCHMARKS.md,
//! "One-way requests in instructions" and "The typed layer in
//! instructions", has what it measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cluster::{Limits, Node, Peer, Request};

const SENDERS: usize = 128;

static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// The protocol over bincode.
#[cluster::service]
pub trait BincodeCount {
    #[cmd(1)]
    async fn echo(&self, body: Bytes) -> Bytes;
    #[cmd(2)]
    #[oneway]
    async fn note(&self, body: Bytes);
}

mod proto {
    cluster::zproto!("benches/rpc/bench.zproto");
}

/// The protocol over zproto (command ids are the request tags: 1 and 2).
#[cluster::service(codec = zproto)]
pub trait ZprotoCount {
    async fn echo(&self, req: proto::Echo) -> proto::Payload;
    #[oneway]
    async fn note(&self, req: proto::Note);
}

struct Server;

impl BincodeCount for Server {
    async fn echo(&self, body: Bytes) -> Bytes {
        body
    }
    async fn note(&self, _body: Bytes) {
        RECEIVED.fetch_add(1, Ordering::Relaxed);
    }
}

impl ZprotoCount for Server {
    async fn echo(&self, req: proto::Echo) -> proto::Payload {
        proto::Payload { body: req.body }
    }
    async fn note(&self, _req: proto::Note) {
        RECEIVED.fetch_add(1, Ordering::Relaxed);
    }
}

/// What each task does, `n` times.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    Bytes,
    Bincode,
    Zproto,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: rpc_count [REQUESTS] [send|call] [bytes|bincode|zproto] [SIZE]";
    let requests: usize = args.next().map_or(200_000, |n| n.parse().expect(usage));
    let call = match args.next().as_deref() {
        None | Some("send") => false,
        Some("call") => true,
        Some(_) => panic!("{usage}"),
    };
    let api = match args.next().as_deref() {
        None | Some("bytes") => Api::Bytes,
        Some("bincode") => Api::Bincode,
        Some("zproto") => Api::Zproto,
        Some(_) => panic!("{usage}"),
    };
    let size: usize = args.next().map_or(16, |n| n.parse().expect(usage));
    let per_task = requests / SENDERS;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut limits = Limits::default();
        limits.max_concurrent_requests = 1 << 20;
        let server = Node::builder().limits(limits);
        let server = match api {
            Api::Bytes => server.handler(|req: Request| async move {
                if req.cmd == 2 {
                    RECEIVED.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Some(req.body)
            }),
            Api::Bincode => server.handler(BincodeCountServer::new(Server)),
            Api::Zproto => server.handler(ZprotoCountServer::new(Server)),
        }
        .build();
        let listener = server.listen("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().to_string();
        let peer = Node::builder().build().connect(&addr).await;
        let body = Bytes::from(vec![7; size]);
        run(peer.clone(), api, true, body.clone(), 1).await;
        let tasks: Vec<_> = (0..SENDERS)
            .map(|_| tokio::spawn(run(peer.clone(), api, call, body.clone(), per_task)))
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        let expected = if call { 0 } else { per_task * SENDERS };
        while RECEIVED.load(Ordering::Relaxed) < expected {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!("{} requests done", per_task * SENDERS);
    });
}

/// Makes `n` requests with `body` through `api`.
async fn run(peer: Peer, api: Api, call: bool, body: Bytes, n: usize) {
    let bincode = BincodeCountClient::new(peer.clone());
    let zproto = ZprotoCountClient::new(peer.clone());
    for _ in 0..n {
        // A full write queue refuses a request: try again later.
        loop {
            let done = match (api, call) {
                (Api::Bytes, false) => peer.send(2, body.clone()).await.is_ok(),
                (Api::Bytes, true) => peer.call(1, body.clone()).await.is_ok_and(|b| b == body),
                (Api::Bincode, false) => bincode.note(body.clone()).await.is_ok(),
                (Api::Bincode, true) => bincode.echo(body.clone()).await.is_ok_and(|b| b == body),
                (Api::Zproto, false) => {
                    let note = proto::Note {
                        body: Some(body.to_vec()),
                    };
                    zproto.note(note).await.is_ok()
                }
                (Api::Zproto, true) => {
                    let echo = proto::Echo {
                        body: Some(body.to_vec()),
                    };
                    zproto
                        .echo(echo)
                        .await
                        .is_ok_and(|p| p.body.as_deref() == Some(&body[..]))
                }
            };
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
