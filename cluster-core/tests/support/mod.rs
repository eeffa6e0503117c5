//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod alloc;
pub mod frames;
pub mod hosts;
pub mod logs;
pub mod remote;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Error, Listener, Node, Peer, Request, WireFormat};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How long a test waits for an event before declaring it lost. Far above
/// anything the events need; only a broken test waits this long.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The address of a listener, as a `connect` argument.
pub fn addr(listener: &Listener) -> String {
    listener.addr().to_owned()
}

/// A server node that echoes every request body, listening on 127.0.0.1.
pub fn echo_server() -> (Node, Listener) {
    let node = Node::builder().handler(echo).build();
    let listener = node.listen("127.0.0.1:0").expect("bind");
    (node, listener)
}

/// The handler that answers every request with its own body.
pub async fn echo(req: Request) -> Option<Bytes> {
    Some(req.body)
}

/// Waits until `condition` holds, checking every few milliseconds: for
/// states that no event announces (counters, stats). Panics after
/// [`PATIENCE`], naming `what` it waited for.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    if poll(|| condition().then_some(())).await.is_none() {
        panic!("not within {PATIENCE:?}: {what}");
    }
}

/// The first `Some` that `probe` returns, checking every few milliseconds;
/// `None` if none comes within [`PATIENCE`].
pub async fn poll<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `n` calls of `cmd` with `body` through `peer`, each in its own task, so
/// that all are in flight at once.
pub fn spawn_calls(
    peer: &Peer,
    n: usize,
    cmd: u32,
    body: impl Into<Bytes>,
) -> Vec<JoinHandle<Result<Bytes, Error>>> {
    let body = body.into();
    (0..n)
        .map(|_| {
            let (peer, body) = (peer.clone(), body.clone());
            tokio::spawn(async move { peer.call(cmd, body).await })
        })
        .collect()
}

/// Events reported by callbacks and handlers, awaited in order.
pub struct Events<T> {
    rx: mpsc::UnboundedReceiver<T>,
}

pub fn events<T>() -> (mpsc::UnboundedSender<T>, Events<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Events { rx })
}

impl<T> Events<T> {
    /// The next event; panics if none comes within [`PATIENCE`].
    pub async fn next(&mut self) -> T {
        match tokio::time::timeout(PATIENCE, self.rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("event source dropped"),
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// An event that has already arrived, if any.
    pub fn try_next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// A node whose accept and close callbacks report to the returned streams.
pub fn observed_node(
    builder: cluster_core::NodeBuilder,
) -> (Node, Events<Peer>, Events<(Peer, Error)>) {
    let (accepted, accepts) = events();
    let (closed, closes) = events();
    let node = builder
        .on_accept(move |peer, _| {
            let _ = accepted.send(peer.clone());
        })
        .on_close(move |peer, error| {
            let _ = closed.send((peer.clone(), error.clone()));
        })
        .build();
    (node, accepts, closes)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, max_len: usize) -> Bytes {
        let len = (self.next_u64() % (max_len as u64 + 1)) as usize;
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A well-behaved client that calls a node over and over from its own
/// connection while something else happens to the node, and reports every
/// call that failed or came back wrong.
pub struct Bystander {
    calls: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<String>>,
}

impl Bystander {
    /// Connects to the echo node at `addr` and starts calling once a first
    /// call has succeeded.
    pub async fn start(addr: &str, wire: WireFormat) -> Self {
        let peer = Node::builder().wire(wire).build().connect(addr).await;
        assert_eq!(peer.call(1, "hello").await.expect("first call"), "hello");
        let calls = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let counter = calls.clone();
        let task = tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(2));
            let mut failures = Vec::new();
            loop {
                tokio::select! {
                    _ = stopped.changed() => return failures,
                    _ = pace.tick() => {}
                }
                let n = counter.load(Ordering::SeqCst);
                let body = Bytes::from(n.to_string());
                match peer.call(1, body.clone()).await {
                    Ok(reply) if reply == body => {}
                    Ok(reply) => failures.push(format!("call {n} got {reply:?}")),
                    Err(error) => failures.push(format!("call {n}: {error}")),
                }
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { calls, stop, task }
    }

    /// Waits until `n` more calls have been made.
    pub async fn calls_more(&self, n: u64) {
        let target = self.calls.load(Ordering::SeqCst) + n;
        wait_until("bystander calls", || {
            self.calls.load(Ordering::SeqCst) >= target
        })
        .await;
    }

    /// Stops calling; panics unless every call succeeded.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let failures = self.task.await.expect("bystander task");
        assert!(
            failures.is_empty(),
            "the bystander saw errors: {failures:?}"
        );
    }
}

/// Raises this process's open-file limit to at least `needed`, as far as the
/// hard limit allows; panics with what to do if that is not enough.
pub fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < needed {
            limit.rlim_cur = needed.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= needed,
        "this test needs {needed} open files; the hard limit is {} (raise it with ulimit -Hn)",
        limit.rlim_max
    );
}

/// Calls `cmd` with `body` on an outbound peer that may be backing off
/// after a failed connect: retries while the call fails with
/// [`Error::Connect`], for at most [`PATIENCE`].
pub async fn call_once_reachable(peer: &Peer, cmd: u32, body: &'static str) -> Bytes {
    let answered = async {
        loop {
            match peer.call(cmd, body).await {
                Ok(reply) => return reply,
                Err(Error::Connect { .. }) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(error) => panic!("call to {}: {error}", peer.addr()),
            }
        }
    };
    tokio::time::timeout(PATIENCE, answered)
        .await
        .unwrap_or_else(|_| panic!("{} not reachable within {PATIENCE:?}", peer.addr()))
}
