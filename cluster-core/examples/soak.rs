//! Soak: mixed calls and sends from many workers against a server that is
//! disconnected and restarted at random, for a given time. Prints the calls
//! done, the errors by kind, and the calls lost, which must be none: a call
//! is lost when it neither returns nor fails (it outlives its own timeout
//! by far) or returns another call's answer. Exits non-zero if any was
//! lost, a request was handled twice, or anything is left behind.
//!
//! ```text
//! cargo run --release -p cluster-core --example soak -- --duration 600 --concurrency 64
//! ```
//!
//! A progress line (the same counts so far) is printed every `--progress`
//! seconds, 10 by default.
//!
//! Not run by `cargo test`; see RELIABILITY.md for recorded runs.

#[path = "../tests/support/remote.rs"]
#[allow(dead_code)] // the tests use the rest
mod remote;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_core::{Error, Node, Peer, Request};
use remote::RemoteNode;

/// Commands the server knows.
const ECHO: u32 = 1;
const NOTE: u32 = 2;
const SLOW_ECHO: u32 = 3;
/// Makes the server close the connection the request came on.
const HANG_UP: u32 = 4;

const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// A call still running this long after its timeout is lost.
const LOST_AFTER: Duration = Duration::from_secs(5);
const CLIENTS: usize = 4;

/// The command line; unknown flags are an error.
#[derive(clap::Parser)]
#[command(
    about = "mixed calls and sends against a server that is disconnected and restarted at random"
)]
struct Options {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent workers, spread over the client nodes.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// Seed of the chaos (which server event, when, which worker op).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds between progress lines; 0 for none.
    #[arg(long, default_value_t = 10)]
    progress: u64,
}

/// xorshift: reproducible chaos without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Request ids the servers handled, one bit each, over every server life:
/// a bit set twice is a request handled twice.
#[derive(Default)]
struct Ledger {
    bits: Mutex<Vec<u64>>,
    twice: AtomicU64,
}

impl Ledger {
    fn handled(&self, id: u64) {
        let mut bits = self.bits.lock().unwrap_or_else(PoisonError::into_inner);
        let (word, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & bit != 0 {
            self.twice.fetch_add(1, Ordering::Relaxed);
        }
        bits[word] |= bit;
    }
}

/// What the workers saw.
#[derive(Default)]
struct Tally {
    calls_ok: AtomicU64,
    sends_ok: AtomicU64,
    lost: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Tally {
    fn error(&self, error: &Error) {
        let kind = match error {
            Error::Timeout => "timeout",
            Error::Closed => "closed",
            Error::PeerClosed => "peer closed",
            Error::Connect { .. } => "connect",
            Error::Overloaded { .. } => "overloaded",
            Error::Io(_) => "io",
            _ => "other",
        };
        *self
            .errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }

    fn summary(&self) -> String {
        let errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        let errors: Vec<String> = errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        format!(
            "calls ok {}, sends ok {}, errors by kind: {}, lost {}",
            self.calls_ok.load(Ordering::Relaxed),
            self.sends_ok.load(Ordering::Relaxed),
            if errors.is_empty() {
                "none".into()
            } else {
                errors.join(", ")
            },
            self.lost.load(Ordering::Relaxed),
        )
    }
}

fn server(addr: &str, ledger: &Arc<Ledger>) -> RemoteNode {
    let ledger = ledger.clone();
    RemoteNode::start(addr, move || {
        Node::builder()
            .handler(move |req: Request| {
                let id = req.body.get(..8).map_or(u64::MAX, |b| {
                    u64::from_le_bytes(b.try_into().unwrap_or_default())
                });
                ledger.handled(id);
                async move {
                    match req.cmd {
                        ECHO => Some(req.body),
                        SLOW_ECHO => {
                            tokio::time::sleep(Duration::from_millis(id % 50)).await;
                            Some(req.body)
                        }
                        HANG_UP => {
                            req.peer.close();
                            None
                        }
                        _ => None,
                    }
                }
            })
            .build()
    })
}

/// One worker: calls and sends with fresh ids until `stop`.
async fn work(
    peer: Peer,
    seed: u64,
    ids: Arc<AtomicU64>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(seed | 1);
    while !stop.load(Ordering::Relaxed) {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let body = Bytes::copy_from_slice(&id.to_le_bytes());
        let op = rng.below(10);
        if op < 2 {
            match peer.send(NOTE, body).await {
                Ok(()) => tally.sends_ok.fetch_add(1, Ordering::Relaxed),
                Err(error) => {
                    tally.error(&error);
                    0
                }
            };
            continue;
        }
        let cmd = if op < 8 { ECHO } else { SLOW_ECHO };
        let call = peer.call_timeout(cmd, body.clone(), CALL_TIMEOUT);
        match tokio::time::timeout(CALL_TIMEOUT + LOST_AFTER, call).await {
            Err(_) => {
                eprintln!("lost: call {id} neither returned nor failed");
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(reply)) if reply == body => {
                tally.calls_ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ok(reply)) => {
                eprintln!("lost: call {id} got {reply:?}");
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(error)) => {
                tally.error(&error);
                // The server is down: do not spin on refused connects.
                tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    let duration = Duration::from_secs(options.duration);
    println!(
        "soak: {} s, {} workers on {CLIENTS} client nodes, seed {}",
        options.duration, options.concurrency, options.seed
    );
    let ledger = Arc::new(Ledger::default());
    let mut server_node = server("127.0.0.1:0", &ledger);
    let addr = server_node.addr().to_owned();
    let clients: Vec<(Node, Peer)> = {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let node = Node::builder().build();
            let peer = node.connect(&addr).await;
            clients.push((node, peer));
        }
        clients
    };

    let ids: Arc<AtomicU64> = Arc::default();
    let tally = Arc::new(Tally::default());
    let stop: Arc<AtomicBool> = Arc::default();
    let workers: Vec<_> = (0..options.concurrency as usize)
        .map(|w| {
            let peer = clients[w % CLIENTS].1.clone();
            let seed = options.seed.wrapping_mul(1000) + w as u64;
            tokio::spawn(work(peer, seed, ids.clone(), tally.clone(), stop.clone()))
        })
        .collect();

    let mut rng = Rng(options.seed | 1);
    let (mut restarts, mut disconnects) = (0u64, 0u64);
    let started = Instant::now();
    let mut report = started;
    let progress = Duration::from_secs(options.progress);
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(900))).await;
        if rng.below(10) == 0 {
            // The server dies with everything in flight and comes back.
            server_node.kill();
            server_node = server(&addr, &ledger);
            restarts += 1;
        } else {
            // The server hangs up on one client, with its calls in flight.
            let (_, peer) = &clients[rng.below(CLIENTS as u64) as usize];
            let id = ids.fetch_add(1, Ordering::Relaxed);
            if peer.send(HANG_UP, id.to_le_bytes().to_vec()).await.is_ok() {
                disconnects += 1;
            }
        }
        if !progress.is_zero() && report.elapsed() >= progress {
            report = Instant::now();
            println!(
                "[{:>4} s] {}; restarts {restarts}, disconnects {disconnects}",
                started.elapsed().as_secs(),
                tally.summary()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }

    let pending: usize = clients.iter().map(|(n, _)| n.stats().pending_calls).sum();
    for (_, peer) in &clients {
        peer.close();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while server_node.node().stats().connections > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = server_node.node().stats().connections;
    let twice = ledger.twice.load(Ordering::Relaxed);
    println!(
        "done after {} s: {}; restarts {restarts}, disconnects {disconnects}; \
         handled twice {twice}; pending calls after the run {pending}; \
         server connections after close {left}",
        started.elapsed().as_secs(),
        tally.summary()
    );
    if tally.lost.load(Ordering::Relaxed) > 0 || twice > 0 || pending > 0 || left > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
