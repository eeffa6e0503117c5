//! A node's lifecycle and its node-wide accounting: handlers that end with
//! their connection, half-closed peers, peers that leave while reading is
//! paused, node-wide budgets, shutdown, and connecting with a timeout and a
//! backoff.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use cluster_core::wire::{Frame, FrameCodec, WireFormat};
use cluster_core::{Body, Error, Handler, Limits, Node, NodeStats, Request};
use support::{PATIENCE, addr, echo, frames, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Counts handler futures dropped before they finished: the cancelled ones.
struct Cancelled(Arc<AtomicUsize>);

impl Drop for Cancelled {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A handler that waits on `gate` (one permit per request it lets end) and
/// counts in `cancelled` the requests whose wait was cut short.
#[derive(Clone)]
struct Waiter {
    gate: Arc<Semaphore>,
    cancelled: Arc<AtomicUsize>,
    oneway: Option<u32>,
}

impl Waiter {
    fn new() -> Self {
        Self {
            gate: Arc::new(Semaphore::new(0)),
            cancelled: Arc::new(AtomicUsize::new(0)),
            oneway: None,
        }
    }
}

impl Handler for Waiter {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        let (gate, cancelled) = (self.gate.clone(), self.cancelled.clone());
        async move {
            let guard = Cancelled(cancelled);
            let _ = gate.acquire().await.map(|p| p.forget());
            std::mem::forget(guard);
            Some(req.body)
        }
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        self.oneway == Some(cmd)
    }
}

fn v1() -> FrameCodec {
    frames::default_codec(WireFormat::V1)
}

/// `n` request frames of `cmd` with `body`, sessions from 0.
fn requests(codec: &FrameCodec, n: u32, cmd: u32, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    for session in 0..n {
        codec
            .encode_request(&mut out, session, cmd, 0, body)
            .expect("encode");
    }
    out
}

/// Reads response frames until `n` arrived or the stream ends.
async fn responses(stream: &mut TcpStream, codec: &FrameCodec, n: usize) -> Vec<Frame> {
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    while got.len() < n {
        while let Some(frame) = codec.decode(&mut buf).expect("decodes") {
            got.push(frame);
        }
        if got.len() >= n {
            break;
        }
        match tokio::time::timeout(PATIENCE, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("read: {e}"),
        }
    }
    got
}

/// Resets `stream` (RST, no FIN) when dropped.
fn reset_on_close(stream: &TcpStream) {
    // A zero linger never blocks: the close resets at once.
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
}

fn serve(builder: cluster_core::NodeBuilder) -> (Node, String) {
    let node = builder.build();
    let listener = node.listen("127.0.0.1:0").expect("bind");
    (node, addr(&listener))
}

async fn settled(node: &Node, what: &str) -> NodeStats {
    wait_until(what, || {
        let stats = node.stats();
        stats.handlers == 0 && stats.queued_requests == 0 && stats.connections == 0
    })
    .await;
    node.stats()
}

// 1. Handlers outlive their connection.

#[tokio::test]
async fn handlers_of_a_connection_that_closes_are_cancelled_and_counted_until_then() {
    let handler = Waiter::new();
    let (node, addr) = serve(Node::builder().handler(handler.clone()));
    let baseline = node.stats().tasks;
    for _round in 0..5 {
        let mut client = TcpStream::connect(&addr).await.expect("connect");
        client
            .write_all(&requests(&v1(), 1000, 1, b"wait"))
            .await
            .expect("write");
        wait_until("every request waits in a handler", || {
            node.stats().handlers == 1000
        })
        .await;
        reset_on_close(&client);
        drop(client);
        settled(&node, "handlers cancelled, connection gone").await;
    }
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 5000);
    let stats = node.stats();
    assert_eq!(stats.memory, 0, "nothing held: {stats:?}");
    assert_eq!(stats.tasks, baseline, "only the accept loop is left");
}

#[tokio::test]
async fn with_cancel_on_close_off_handlers_run_to_the_end_and_still_count() {
    let handler = Waiter::new();
    let (node, addr) = serve(
        Node::builder()
            .handler(handler.clone())
            .cancel_on_close(false),
    );
    let mut client = TcpStream::connect(&addr).await.expect("connect");
    client
        .write_all(&requests(&v1(), 10, 1, b"wait"))
        .await
        .expect("write");
    wait_until("handlers wait", || node.stats().handlers == 10).await;
    reset_on_close(&client);
    drop(client);
    wait_until("the connection is gone", || node.stats().connections == 0).await;
    assert_eq!(node.stats().handlers, 10, "they still run, and count");
    handler.gate.add_permits(10);
    wait_until("they finish", || node.stats().handlers == 0).await;
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn one_way_handlers_run_to_the_end_when_their_connection_closes() {
    let mut handler = Waiter::new();
    handler.oneway = Some(7);
    let (node, addr) = serve(Node::builder().handler(handler.clone()));
    let mut client = TcpStream::connect(&addr).await.expect("connect");
    let mut frames = requests(&v1(), 3, 7, b"notify");
    frames.extend_from_slice(&requests(&v1(), 2, 1, b"call"));
    client.write_all(&frames).await.expect("write");
    wait_until("handlers wait", || node.stats().handlers == 5).await;
    reset_on_close(&client);
    drop(client);
    wait_until("the calls are cancelled", || node.stats().handlers == 3).await;
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 2);
    handler.gate.add_permits(3);
    wait_until("the notifications finish", || node.stats().handlers == 0).await;
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 2);
}

// 3. Half-close.

#[tokio::test]
async fn after_a_fin_requests_already_read_are_answered_then_the_connection_closes() {
    let node = Node::builder()
        .handler(|req: Request| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some(req.body)
        })
        .build();
    let addr = addr(&node.listen("127.0.0.1:0").expect("bind"));
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut client = TcpStream::connect(&addr).await.expect("connect");
                client
                    .write_all(&requests(&v1(), 10, 1, b"half"))
                    .await
                    .expect("write");
                client.shutdown().await.expect("FIN");
                let got = responses(&mut client, &v1(), 11).await;
                let mut rest = [0u8; 1];
                let eof = client.read(&mut rest).await.expect("read");
                (got, eof)
            })
        })
        .collect();
    for client in clients {
        let (got, eof) = client.await.expect("client");
        assert_eq!(got.len(), 10, "every request answered: {got:?}");
        assert!(
            got.iter()
                .all(|f| matches!(f, Frame::Response { body, .. } if body == "half"))
        );
        assert_eq!(eof, 0, "then the server closed");
    }
    settled(&node, "the half-closed connections are gone").await;
}

#[tokio::test]
async fn after_a_fin_handlers_get_at_most_the_call_timeout() {
    let handler = Waiter::new();
    let (node, addr) = serve(
        Node::builder()
            .handler(handler.clone())
            .timeout(Duration::from_millis(300)),
    );
    let mut client = TcpStream::connect(&addr).await.expect("connect");
    client
        .write_all(&requests(&v1(), 4, 1, b"slow"))
        .await
        .expect("write");
    client.shutdown().await.expect("FIN");
    wait_until("handlers wait", || node.stats().handlers == 4).await;
    settled(&node, "cancelled after the call timeout").await;
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 4);
    assert!(responses(&mut client, &v1(), 1).await.is_empty());
}

// 4. A peer leaving while reading is paused.

/// Fills a connection's request queue until its reader pauses, then has
/// the client leave (`reset`: with an RST); returns how long the server
/// took to let go of the connection.
async fn leave_while_paused(reset: bool) -> Duration {
    let handler = Waiter::new();
    let mut limits = Limits::default();
    limits.max_concurrent_requests = 1;
    let (node, addr) = serve(Node::builder().handler(handler.clone()).limits(limits));
    let mut client = TcpStream::connect(&addr).await.expect("connect");
    // Just over the 1 MiB that may queue behind the one running handler,
    // all of it read by the server before it pauses (so the FIN is not
    // stuck behind unread bytes).
    client
        .write_all(&requests(&v1(), 19, 1, &[7; 60 * 1024]))
        .await
        .expect("write");
    wait_until("reading paused with requests queued", || {
        node.stats().queued_requests == 18
    })
    .await;
    if reset {
        reset_on_close(&client);
    }
    drop(client);
    let left = Instant::now();
    settled(&node, "the connection is closed").await;
    assert_eq!(node.stats().memory, 0);
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 1);
    left.elapsed()
}

#[tokio::test]
async fn a_peer_that_leaves_while_reading_is_paused_is_noticed_within_a_second() {
    for reset in [false, true] {
        let noticed = leave_while_paused(reset).await;
        assert!(
            noticed < Duration::from_secs(2),
            "noticed after {noticed:?} (reset: {reset})"
        );
    }
}

// 5. Node-wide budgets.

#[tokio::test]
async fn accepts_beyond_max_connections_are_closed_at_once_and_counted() {
    let mut limits = Limits::default();
    limits.max_connections = 3;
    let (node, addr) = serve(Node::builder().handler(echo).limits(limits));
    let mut held = Vec::new();
    for _ in 0..3 {
        let peer = Node::builder().build().connect(&addr).await;
        assert_eq!(peer.call(1, "in").await.expect("call"), "in");
        held.push(peer);
    }
    let mut refused = TcpStream::connect(&addr).await.expect("the kernel accepts");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, refused.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed at once: {read:?}"
    );
    assert_eq!(node.stats().refused_connections, 1);
    assert_eq!(node.stats().connections, 3);
    drop(held);
    wait_until("slots given back", || node.stats().connections == 0).await;
    let peer = Node::builder().build().connect(&addr).await;
    assert_eq!(peer.call(1, "again").await.expect("call"), "again");
}

#[tokio::test]
async fn max_handlers_bounds_the_handlers_of_all_connections_together() {
    let handler = Waiter::new();
    let mut limits = Limits::default();
    limits.max_handlers = 4;
    let (node, addr) = serve(Node::builder().handler(handler.clone()).limits(limits));
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut client = TcpStream::connect(&addr).await.expect("connect");
        client
            .write_all(&requests(&v1(), 10, 1, b"x"))
            .await
            .expect("write");
        clients.push(client);
    }
    wait_until("4 run, 16 queue", || {
        let s = node.stats();
        s.handlers == 4 && s.queued_requests == 16
    })
    .await;
    handler.gate.add_permits(20);
    for client in &mut clients {
        assert_eq!(responses(client, &v1(), 10).await.len(), 10);
    }
    assert_eq!(node.stats().handlers, 0);
}

#[tokio::test]
async fn the_memory_budget_reads_one_large_frame_at_a_time() {
    const FRAME: usize = 8 * 1024 * 1024;
    let mut limits = Limits::default();
    limits.memory_budget = 4 * 1024 * 1024;
    let (node, addr) = serve(
        Node::builder()
            .handler(|req: Request| async move { Some(Bytes::from(req.body.len().to_string())) })
            .wire(WireFormat::V2)
            .limits(limits),
    );
    let codec = frames::default_codec(WireFormat::V2);
    let body = vec![1u8; FRAME];
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, body) = (addr.clone(), body.clone());
            tokio::spawn(async move {
                let mut client = TcpStream::connect(&addr).await.expect("connect");
                let frame = requests(&codec, 1, 1, &body);
                client.write_all(&frame).await.expect("write");
                responses(&mut client, &codec, 1).await
            })
        })
        .collect();
    let most = Arc::new(AtomicUsize::new(0));
    let watch = tokio::spawn({
        let (node, most) = (node.clone(), most.clone());
        async move {
            loop {
                most.fetch_max(node.stats().memory, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    for client in clients {
        let got = client.await.expect("client");
        assert!(
            matches!(&got[..], [Frame::Response { body, .. }] if body == &FRAME.to_string()),
            "{got:?}"
        );
    }
    watch.abort();
    let most = most.load(Ordering::SeqCst);
    assert!(most >= FRAME / 2, "a frame was counted: {most}");
    assert!(
        most <= FRAME + 1024 * 1024,
        "one large frame at a time, not four: {most} bytes held at most"
    );
    wait_until("nothing held", || node.stats().memory == 0).await;
    // Frames that waited for the budget are counted as its hits, and as
    // nothing else.
    let hits = node.stats().limit_hits;
    assert!(hits.memory_budget >= 1, "{hits:?}");
    assert_eq!(
        (
            hits.max_concurrent_requests,
            hits.max_handlers,
            hits.write_queue
        ),
        (0, 0, 0)
    );
}

// 6. Shutdown and dropping.

#[tokio::test]
async fn shutdown_lets_running_handlers_finish_within_the_grace_and_refuses_new_calls() {
    let (server, addr) = serve(Node::builder().handler(|req: Request| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some(req.body)
    }));
    let client = Node::builder().build();
    let peer = client.connect(&addr).await;
    let call = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call(1, "in time").await }
    });
    wait_until("the handler runs", || server.stats().handlers == 1).await;
    let closed = tokio::spawn({
        let server = server.clone();
        async move { server.closed().await }
    });
    let report = server.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.handlers_finished, 1);
    assert_eq!(report.handlers_cancelled, 0);
    assert_eq!(call.await.expect("task").expect("answered"), "in time");
    assert_eq!(closed.await.expect("task"), report, "closed() saw it");
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no longer listening"
    );
    assert!(matches!(server.listen("127.0.0.1:0"), Err(Error::Shutdown)));
    assert_eq!(server.stats().tasks, 0, "nothing left running");
}

#[tokio::test]
async fn shutdown_cancels_what_outlasts_the_grace_and_fails_pending_calls() {
    let handler = Waiter::new();
    let (server, addr) = serve(Node::builder().handler(handler.clone()));
    let client = Node::builder().build();
    let peer = client.connect(&addr).await;
    let pending = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call(1, "never").await }
    });
    wait_until("the handler waits", || server.stats().handlers == 1).await;
    let started = Instant::now();
    let report = client.shutdown(Duration::from_millis(200)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(report.calls_failed, 1);
    assert!(matches!(pending.await.expect("task"), Err(Error::Shutdown)));
    assert!(matches!(peer.call(1, "after").await, Err(Error::Shutdown)));
    assert!(matches!(peer.send(1, "after").await, Err(Error::Shutdown)));
    let report = server.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report.handlers_cancelled, 1);
    assert_eq!(handler.cancelled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dropping_every_handle_closes_connections_and_ends_tasks() {
    let (server, addr) = serve(Node::builder().handler(echo));
    for _ in 0..1000 {
        let client = Node::builder().build();
        let peer = client.connect(&addr).await;
        assert_eq!(peer.call(1, "cycle").await.expect("call"), "cycle");
        drop((client, peer));
    }
    wait_until("the server let go of every connection", || {
        server.stats().connections == 0
    })
    .await;
    // The temporary node lives as long as its peer.
    let peer = Node::builder().build().connect(&addr).await;
    assert_eq!(peer.call(1, "kept").await.expect("call"), "kept");
    drop(peer);
    wait_until("and closes with it", || server.stats().connections == 0).await;
}

// 7. Connecting.

#[tokio::test]
async fn a_connect_that_gets_no_answer_fails_after_the_connect_timeout() {
    // A listener that never accepts, with its queue filled: the kernel
    // drops further SYNs, and a connect waits.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .expect("addr")
                .into(),
        )
        .expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet")
        .to_string();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(&addr)).await
        {
            fillers.push(s);
        }
    }
    let node = Node::builder()
        .connect_timeout(Duration::from_millis(300))
        .build();
    let started = Instant::now();
    let peer = node.connect(&addr).await;
    let error = peer.call(1, "x").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&error, Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::TimedOut),
        "{error}"
    );
}

#[tokio::test]
async fn while_backing_off_calls_fail_at_once_with_the_last_cause() {
    let port = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = port.local_addr().expect("addr").to_string();
    drop(port);
    let node = Node::builder()
        .reconnect_backoff(Duration::from_secs(2), Duration::from_secs(4))
        .build();
    let peer = node.connect(&addr).await;
    // The server comes up, but the peer is backing off: it does not dial.
    let (server, _listener) = {
        let server = Node::builder().handler(echo).build();
        let listener = server.listen(&addr).expect("the port is free again");
        (server, listener)
    };
    let started = Instant::now();
    let error = peer.call(1, "x").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        matches!(&error, Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused),
        "{error}"
    );
    assert_eq!(server.stats().connections, 0, "no dial while backing off");
    let body = support::call_once_reachable(&peer, 1, "back").await;
    assert_eq!(body, "back");
}

#[tokio::test]
async fn a_thousand_simultaneous_connects_are_all_accepted() {
    support::raise_fd_limit(2 * 1000 + 256);
    let (server, addr) = serve(Node::builder().handler(echo).backlog(1024));
    let connects: Vec<_> = (0..1000)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { TcpStream::connect(&addr).await })
        })
        .collect();
    let mut streams = Vec::new();
    for connect in connects {
        streams.push(connect.await.expect("task").expect("connect"));
    }
    let codec = v1();
    for stream in streams.iter_mut().step_by(50) {
        stream
            .write_all(&requests(&codec, 1, 1, b"hi"))
            .await
            .expect("write");
        assert_eq!(responses(stream, &codec, 1).await.len(), 1, "not reset");
    }
    wait_until("all accepted", || server.stats().connections == 1000).await;
}

#[tokio::test]
async fn shutdown_runs_its_hooks_first_and_a_second_call_waits_for_the_first() {
    let (server, addr) = serve(Node::builder().handler(echo));
    let peer = Node::builder().build().connect(&addr).await;
    let (hooked, mut hook_ran) = tokio::sync::oneshot::channel();
    let served_during_hook = {
        let peer = peer.clone();
        async move { peer.call(1, "during the hook").await }
    };
    server.on_shutdown(move || async move {
        // The node still serves while its hooks run.
        let _ = hooked.send(served_during_hook.await);
    });
    let first = tokio::spawn({
        let server = server.clone();
        async move { server.shutdown(Duration::from_secs(1)).await }
    });
    tokio::task::yield_now().await;
    let second = server.shutdown(Duration::from_secs(1)).await;
    let during = hook_ran
        .try_recv()
        .expect("the hook ran before the second call returned");
    assert_eq!(during.expect("served during the hook"), "during the hook");
    assert_eq!(first.await.expect("first"), second);
    assert!(matches!(server.listen("127.0.0.1:0"), Err(Error::Shutdown)));
    assert_eq!(server.stats().tasks, 0);
}
