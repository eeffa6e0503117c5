//! The extension between two nodes that agreed on it: status replies,
//! deadlines, cancellation; and, without the agreement, the plain wire
//! byte for byte.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Error, Listener, Node, Peer, Request, Status, WireFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use support::{PATIENCE, addr};

/// A listening server with `handler`, and a client peer that agreed on the
/// extension with it.
async fn agreed<H: cluster_core::Handler>(handler: H) -> (Node, Listener, Node, Peer) {
    let server = Node::builder().handler(handler).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder()
        .extension_peers(true)
        .timeout(PATIENCE)
        .build();
    let peer = client.connect(&addr(&listener)).await;
    (server, listener, client, peer)
}

/// The plain frames of silly's wire, as a silly node writes them.
fn plain_request(wire: WireFormat, session: u32, cmd: u32, trace: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match wire {
        WireFormat::V2 => {
            out.extend(((16 + body.len()) as u32).to_le_bytes());
            out.extend(session.to_le_bytes());
            out.extend(cmd.to_le_bytes());
            out.extend(trace.to_le_bytes());
            out.extend(body);
        }
        _ => {
            out.extend(((16 + body.len()) as u16).to_be_bytes());
            out.extend(body);
            out.extend(trace.to_le_bytes());
            out.extend(cmd.to_le_bytes());
            out.extend(session.to_le_bytes());
        }
    }
    out
}

fn plain_response(wire: WireFormat, session: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let word = (session | 0x8000_0000).to_le_bytes();
    match wire {
        WireFormat::V2 => {
            out.extend(((4 + body.len()) as u32).to_le_bytes());
            out.extend(word);
            out.extend(body);
        }
        _ => {
            out.extend(((4 + body.len()) as u16).to_be_bytes());
            out.extend(body);
            out.extend(word);
        }
    }
    out
}

async fn plain_server_answers_as_before(wire: WireFormat) {
    let server = Node::builder()
        .wire(wire)
        .handler(|req: Request| async move {
            match req.cmd {
                2 => panic!("boom"),
                3 => {
                    req.refuse(Status::UnknownCommand, "command 3");
                    None
                }
                _ => Some(req.body),
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let mut silly = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let mut sent = plain_request(wire, 1, 2, 7, b"panics");
    sent.extend(plain_request(wire, 2, 3, 7, b"unknown"));
    // The hello's command id with any other body is an ordinary request:
    // the handler echoes it.
    sent.extend(plain_request(wire, 3, 0xFFFF_FF00, 7, b"hello"));
    sent.extend(plain_request(wire, 4, 1, 7, b"echo"));
    silly.write_all(&sent).await.expect("write");
    let mut expected = plain_response(wire, 3, b"hello");
    expected.extend(plain_response(wire, 4, b"echo"));
    let mut got = vec![0; expected.len()];
    tokio::time::timeout(PATIENCE, silly.read_exact(&mut got))
        .await
        .expect("responses in time")
        .expect("read");
    assert_eq!(got, expected, "only the plain responses, byte for byte");
}

#[tokio::test]
async fn a_silly_client_sees_the_plain_wire_v1() {
    plain_server_answers_as_before(WireFormat::V1).await;
}

#[tokio::test]
async fn a_silly_client_sees_the_plain_wire_v2() {
    plain_server_answers_as_before(WireFormat::V2).await;
}

async fn plain_client_calls_as_before(wire: WireFormat) {
    let silly = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let client = Node::builder().wire(wire).build();
    let peer = client
        .connect(&silly.local_addr().expect("addr").to_string())
        .await;
    let call = tokio::spawn(async move {
        peer.call_timeout(5, "ping", Duration::from_millis(300))
            .await
    });
    let (mut conn, _) = silly.accept().await.expect("accept");
    let want = plain_request(wire, 0, 5, 0, b"ping");
    let mut got = vec![0; want.len()];
    conn.read_exact(&mut got).await.expect("read");
    // The trace id is the client's own: compare the rest.
    let trace = match wire {
        WireFormat::V2 => 12..20,
        _ => 6..14,
    };
    assert_eq!(got[..trace.start], want[..trace.start], "no hello first");
    assert_eq!(got[trace.end..], want[trace.end..]);
    // The call times out: no cancel notice follows it.
    assert!(matches!(call.await.expect("join"), Err(Error::Timeout)));
    let mut more = [0u8; 1];
    let extra = tokio::time::timeout(Duration::from_millis(200), conn.read(&mut more)).await;
    // Only the end of the connection (the peer was dropped) or nothing.
    assert!(
        matches!(extra, Err(_) | Ok(Ok(0))),
        "nothing more was written: {extra:?}"
    );
}

#[tokio::test]
async fn a_silly_server_sees_the_plain_wire_v1() {
    plain_client_calls_as_before(WireFormat::V1).await;
}

#[tokio::test]
async fn a_silly_server_sees_the_plain_wire_v2() {
    plain_client_calls_as_before(WireFormat::V2).await;
}

/// A server whose handler of cmd 1 never ends, and reports its start and
/// its cancellation.
async fn hanging() -> (Node, Listener, mpsc::UnboundedReceiver<&'static str>) {
    hanging_with(cluster_core::Limits::default()).await
}

async fn hanging_with(
    limits: cluster_core::Limits,
) -> (Node, Listener, mpsc::UnboundedReceiver<&'static str>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Node::builder()
        .limits(limits)
        .handler(move |_req: Request| {
            let tx = tx.clone();
            async move {
                struct Dropped(mpsc::UnboundedSender<&'static str>);
                impl Drop for Dropped {
                    fn drop(&mut self) {
                        let _ = self.0.send("cancelled");
                    }
                }
                let _ = tx.send("started");
                let _guard = Dropped(tx);
                std::future::pending::<()>().await;
                None
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    (server, listener, rx)
}

#[tokio::test]
async fn a_caller_timeout_cancels_the_handler() {
    let (_server, listener, mut events) = hanging().await;
    let client = Node::builder().extension_peers(true).build();
    let peer = client.connect(&addr(&listener)).await;
    let result = peer.call_timeout(1, "x", Duration::from_millis(200)).await;
    assert!(matches!(result, Err(Error::Timeout)));
    assert_eq!(events.recv().await, Some("started"));
    let cancelled = tokio::time::timeout(PATIENCE, events.recv()).await;
    assert_eq!(cancelled.expect("in time"), Some("cancelled"));
}

#[tokio::test]
async fn a_dropped_call_cancels_the_handler() {
    let (_server, listener, mut events) = hanging().await;
    let client = Node::builder().extension_peers(true).build();
    let peer = client.connect(&addr(&listener)).await;
    let call = tokio::spawn(async move { peer.call_timeout(1, "x", PATIENCE * 6).await });
    assert_eq!(events.recv().await, Some("started"));
    call.abort();
    let cancelled = tokio::time::timeout(PATIENCE, events.recv()).await;
    assert_eq!(cancelled.expect("in time"), Some("cancelled"));
}

#[tokio::test]
async fn values_still_arrive_with_the_extension() {
    let (_s, _l, _c, peer) = agreed(support::echo).await;
    assert_eq!(peer.call(1, "hi").await.expect("call"), "hi");
}

#[tokio::test]
async fn a_panicking_handler_answers_panicked() {
    let (_s, _l, _c, peer) = agreed(|req: Request| async move {
        if req.cmd == 2 {
            panic!("boom");
        }
        Some(req.body)
    })
    .await;
    let started = Instant::now();
    let result = peer.call(2, "x").await;
    match result {
        Err(Error::Remote { status, message }) => {
            assert_eq!(status, Status::Panicked);
            assert_eq!(message, "boom");
        }
        other => panic!("expected panicked, got {other:?}"),
    }
    assert!(
        started.elapsed() < PATIENCE / 2,
        "the status came, not the timeout"
    );
    // The connection carries on.
    assert_eq!(peer.call(1, "ok").await.expect("call"), "ok");
}

#[tokio::test]
async fn a_refused_request_answers_with_its_status() {
    let (_s, _l, _c, peer) = agreed(|req: Request| async move {
        req.refuse(Status::Application, "no such player");
        None
    })
    .await;
    match peer.call(3, "x").await {
        Err(Error::Remote { status, message }) => {
            assert_eq!(status, Status::Application);
            assert_eq!(message, "no such player");
        }
        other => panic!("expected an application error, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_during_shutdown_answer_shutting_down() {
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let (release_tx, release) = oneshot::channel::<()>();
    let release = Arc::new(tokio::sync::Mutex::new(Some(release)));
    let (server, _l, _c, peer) = agreed(move |req: Request| {
        let (entered_tx, release) = (entered_tx.clone(), release.clone());
        async move {
            let _ = entered_tx.send(());
            if let Some(release) = release.lock().await.take() {
                let _ = release.await;
            }
            Some(req.body)
        }
    })
    .await;
    let slow = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call(1, "slow").await }
    });
    entered.recv().await.expect("handler entered");
    let shutdown = tokio::spawn(async move { server.shutdown(PATIENCE).await });
    let mut status = None;
    for _ in 0..100 {
        match peer.call(1, "late").await {
            Err(Error::Remote { status: s, .. }) => {
                status = Some(s);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(status, Some(Status::ShuttingDown));
    let _ = release_tx.send(());
    assert_eq!(slow.await.expect("join").expect("slow call"), "slow");
    shutdown.await.expect("join");
}

/// A node that forwards every request to `next` with a call timeout of
/// an hour of its own, and the listener it serves on.
async fn forwarder(next: &Listener) -> (Node, Listener) {
    let to_next = Arc::new(std::sync::OnceLock::<Peer>::new());
    let node = Node::builder()
        .extension_peers(true)
        .timeout(Duration::from_secs(3600))
        .handler({
            let to_next = to_next.clone();
            move |req: Request| {
                let to_next = to_next.get().cloned();
                async move { to_next?.call(req.cmd, req.body).await.ok() }
            }
        })
        .build();
    let _ = to_next.set(node.connect(&addr(next)).await);
    let listener = node.listen("127.0.0.1:0").expect("bind");
    (node, listener)
}

#[tokio::test]
async fn a_deadline_is_inherited_across_three_hops() {
    // caller → b → c → last: last reports the time it has left; b and c
    // would each give it an hour of their own.
    let last = Node::builder()
        .handler(|_req: Request| async move {
            let left = cluster_core::deadline()?.saturating_duration_since(Instant::now());
            Some(Bytes::from(left.as_millis().to_string()))
        })
        .build();
    let last_listener = last.listen("127.0.0.1:0").expect("bind");
    let (_c, c_listener) = forwarder(&last_listener).await;
    let (_b, b_listener) = forwarder(&c_listener).await;
    let caller = Node::builder().extension_peers(true).build();
    let to_b = caller.connect(&addr(&b_listener)).await;
    let seen = to_b
        .call_timeout(1, "x", Duration::from_secs(8))
        .await
        .expect("call");
    let ms: u64 = std::str::from_utf8(&seen)
        .expect("utf8")
        .parse()
        .expect("number");
    assert!(
        ms > 0 && ms <= 8000,
        "the last hop saw {ms} ms left, not an hour"
    );
}

#[tokio::test]
async fn requests_beyond_the_queue_answer_overloaded() {
    let mut limits = cluster_core::Limits::default();
    limits.max_concurrent_requests = 1;
    let (server, listener, mut events) = hanging_with(limits).await;
    let client = Node::builder()
        .extension_peers(true)
        .timeout(PATIENCE)
        .build();
    let peer = client.connect(&addr(&listener)).await;
    let first = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call(1, "holds the slot").await }
    });
    assert_eq!(events.recv().await, Some("started"));
    // 1 MiB of requests may wait; 60,000-byte ones fill it after 18.
    let body = Bytes::from(vec![0u8; 60_000]);
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let (peer, body) = (peer.clone(), body.clone());
            tokio::spawn(async move { peer.call(1, body).await })
        })
        .collect();
    let mut overloaded = 0;
    for call in calls.into_iter().rev().take(4) {
        match call.await.expect("join") {
            Err(Error::Remote { status, message }) => {
                assert_eq!(status, Status::Overloaded);
                assert_eq!(message, "max_concurrent_requests");
                overloaded += 1;
            }
            other => panic!("expected overloaded, got {other:?}"),
        }
    }
    assert_eq!(overloaded, 4);
    first.abort();
    drop(server);
}
