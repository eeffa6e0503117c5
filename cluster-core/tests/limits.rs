//! Per-connection limits hold whatever the other side does: a peer that
//! never reads cannot make a node queue without bound, and a flood of
//! requests cannot make it run more handlers at once than allowed.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use cluster_core::wire::{FrameCodec, WireFormat};
use cluster_core::{Error, Limits, Node, Request};
use support::remote::RemoteNode;
use support::{Bystander, Events, PATIENCE, addr, echo, events, logs, spawn_calls, wait_until};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// A write-queue limit small enough to reach quickly.
const QUEUE: usize = 256 * 1024;
/// The body of every frame these tests send.
const BODY: usize = 16 * 1024;
/// The most a frame of [`BODY`] adds to a queue.
const FRAME: usize = BODY + 32;

fn small_queue() -> Limits {
    let mut limits = Limits::default();
    limits.write_queue = QUEUE;
    limits
}

#[tokio::test]
async fn writes_to_a_peer_that_never_reads_fail_with_overloaded_and_stay_bounded() {
    // Accepts, then reads nothing until told to.
    let stalled = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = stalled.local_addr().expect("addr").to_string();
    let client = Node::builder().limits(small_queue()).build();
    let peer = client.connect(&target).await;
    let (mut sock, _) = stalled.accept().await.expect("accept");

    let body = Bytes::from(vec![1u8; BODY]);
    let mut sent = 0usize;
    let error = loop {
        if let Err(error) = peer.send(1, body.clone()).await {
            break error;
        }
        sent += 1;
        let queued = client.stats().queued_bytes;
        assert!(queued <= QUEUE + FRAME, "{queued} bytes queued");
        assert!(sent < 100_000, "the queue never filled");
        // Let the writer move what it can into the socket, so the queue
        // fills only once the kernel's buffers are full too.
        tokio::task::yield_now().await;
    };
    assert!(
        matches!(error, Error::Overloaded { limit: QUEUE }),
        "{error}"
    );
    assert!(error.to_string().contains("not reading"), "{error}");
    assert!(sent * BODY > QUEUE, "the socket took some before the queue");
    let call = peer.call(2, "x").await;
    assert!(
        matches!(call, Err(Error::Overloaded { .. })),
        "a call fails at once too: {call:?}"
    );

    // Once the peer reads again, the queue drains and writes go through.
    let drain = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut sock, &mut sink).await;
    });
    wait_until("the queue drains", || client.stats().queued_bytes == 0).await;
    peer.send(1, body).await.expect("send after the drain");
    peer.close();
    drain.await.expect("drain");
}

#[tokio::test]
async fn responses_to_a_client_that_never_reads_are_dropped_not_queued_without_bound() {
    let logs = logs::capture();
    let server = Node::builder().limits(small_queue()).handler(echo).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let bystander = Bystander::start(&addr(&listener), WireFormat::V1).await;

    // Requests whose echoes add up to far more than the kernel's buffers
    // and the queue hold; the client never reads one.
    let codec = FrameCodec::new(WireFormat::V1, 0, 0);
    let mut raw = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    for session in 0..1000 {
        let mut frame = BytesMut::new();
        codec
            .encode_request(&mut frame, session, 1, 0, &[2; BODY])
            .expect("fits");
        raw.write_all(&frame).await.expect("write");
        let queued = server.stats().queued_bytes;
        // The bystander's connection has a queue of its own.
        assert!(queued <= 2 * (QUEUE + FRAME), "{queued} bytes queued");
    }
    let line = logs
        .line_with(&["response dropped", "write queue full"])
        .await;
    assert!(line.contains("session="), "{line}");
    bystander.calls_more(3).await;
    bystander.finish().await;
    assert_eq!(
        server.stats().connections,
        2,
        "a slow reader is not disconnected"
    );
}

/// A server whose handlers count how many run at once and wait at a gate
/// that the test opens.
struct Gated {
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    starts: Events<()>,
}

impl Gated {
    /// The gate, and a builder for a node that echoes through it with at
    /// most `limit` requests handled at once per connection.
    fn new(limit: usize) -> (Self, impl FnOnce() -> Node + Send + 'static) {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let (started, starts) = events();
        let (r, m, g) = (running.clone(), most.clone(), gate.clone());
        let build = move || {
            let mut limits = Limits::default();
            limits.max_concurrent_requests = limit;
            Node::builder()
                .limits(limits)
                .handler(move |req: Request| {
                    let (running, most, gate) = (r.clone(), m.clone(), g.clone());
                    let _ = started.send(());
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        gate.acquire().await.expect("open").forget();
                        running.fetch_sub(1, Ordering::SeqCst);
                        echo(req).await
                    }
                })
                .build()
        };
        let gated = Self {
            running,
            most,
            gate,
            starts,
        };
        (gated, build)
    }

    /// Waits for `n` handlers to start.
    async fn started(&mut self, n: usize) {
        for _ in 0..n {
            self.starts.next().await;
        }
    }

    /// Lets every handler through, then checks that every call got its
    /// answer and that `limit` handlers, never more, ran at once.
    async fn open(self, calls: Vec<JoinHandle<Result<Bytes, Error>>>, body: &Bytes, limit: usize) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
        for call in calls {
            assert_eq!(&call.await.expect("task").expect("call"), body);
        }
        assert_eq!(self.most.load(Ordering::SeqCst), limit);
        assert_eq!(self.running.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn at_most_max_concurrent_requests_handlers_run_and_the_rest_wait_their_turn() {
    const LIMIT: usize = 8;
    let (mut gated, build) = Gated::new(LIMIT);
    let server = RemoteNode::start("127.0.0.1:0", build);
    let peer = Node::builder()
        .timeout(PATIENCE)
        .build()
        .connect(server.addr())
        .await;
    let body = Bytes::from_static(b"in turn");
    let calls = spawn_calls(&peer, 2000, 1, body.clone());

    gated.started(LIMIT).await;
    // The accept loop, the connection's reader, writer and call timeouts,
    // and one task per handler: the flood waiting behind them has no task
    // of its own.
    let tasks = server.runtime().metrics().num_alive_tasks();
    assert!(tasks <= 4 + LIMIT, "{tasks} tasks on the server");

    assert!(
        gated.starts.try_next().is_none(),
        "a handler started past the limit"
    );
    gated.open(calls, &body, LIMIT).await;
}

#[tokio::test]
async fn a_flood_beyond_what_may_wait_pauses_reading_until_a_handler_ends() {
    const LIMIT: usize = 2;
    let logs = logs::capture();
    let (mut gated, build) = Gated::new(LIMIT);
    let server = build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let mut limits = Limits::default();
    limits.write_queue = 64 << 20;
    let peer = Node::builder()
        .limits(limits)
        .timeout(PATIENCE)
        .build()
        .connect(&addr(&listener))
        .await;
    // Far more than the requests that may wait while reading goes on.
    let body = Bytes::from(vec![3u8; 32 * 1024]);
    let calls = spawn_calls(&peer, 256, 1, body.clone());

    gated.started(LIMIT).await;
    logs.line_with(&["request limit reached: pausing reads"])
        .await;
    gated.open(calls, &body, LIMIT).await;
}

#[tokio::test]
async fn responses_are_read_while_the_request_limit_holds_requests_back() {
    const LIMIT: usize = 4;
    const REQUESTS: usize = 64;
    // Each request is served by calling the client back over the same
    // connection: its handler needs a response read on that connection.
    let mut limits = Limits::default();
    limits.max_concurrent_requests = LIMIT;
    let server = Node::builder()
        .limits(limits)
        .handler(|req: Request| async move { req.peer.call(2, req.body).await.ok() })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder().handler(echo).build();
    let peer = client.connect(&addr(&listener)).await;

    let calls: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let peer = peer.clone();
            tokio::spawn(async move { peer.call(1, i.to_string()).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.expect("task").expect("call"), i.to_string());
    }
}
