//! A fixed amount of one-way work, for counting instructions: 128 tasks send
//! N one-way 16-byte requests (default 200,000) over loopback to a handler
//! that counts them and finishes at once; one process, one current_thread
//! runtime. Its figures are whole-program instructions divided by N:
//!
//! ```text
//! cargo build --release --example oneway_count
//! valgrind --tool=callgrind target/release/examples/oneway_count 200000
//! ```
//!
//! (`target/` is `$CARGO_TARGET_DIR` when that is set.) BENCHMARKS.md,
//! "One-way requests in instructions", has what it measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cluster::{Limits, Node, Request};

/// The command the senders use; any other is answered, for the warm-up call.
const NOTE: u32 = 2;
const SENDERS: usize = 128;

static RECEIVED: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let requests: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().expect("usage: oneway_count [REQUESTS]"),
        None => 200_000,
    };
    let per_sender = requests / SENDERS;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut limits = Limits::default();
        limits.max_concurrent_requests = 1 << 20;
        let server = Node::builder()
            .limits(limits)
            .handler(|req: Request| async move {
                if req.cmd != NOTE {
                    return Some(Bytes::new());
                }
                RECEIVED.fetch_add(1, Ordering::Relaxed);
                None
            })
            .build();
        let listener = server.listen("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().to_string();
        let peer = Node::builder().build().connect(&addr).await;
        peer.call(1, Bytes::new()).await.expect("warm-up call");
        let body = Bytes::from_static(&[7; 16]);
        for _ in 0..SENDERS {
            let (peer, body) = (peer.clone(), body.clone());
            tokio::spawn(async move {
                for _ in 0..per_sender {
                    // A full write queue refuses a send: try again later.
                    while peer.send(NOTE, body.clone()).await.is_err() {
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
        while RECEIVED.load(Ordering::Relaxed) < per_sender * SENDERS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!("{} one-way requests received", per_sender * SENDERS);
    });
}
