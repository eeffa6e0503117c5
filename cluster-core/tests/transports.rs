//! The same scenarios over every transport: TCP, Unix domain sockets and
//! in-memory pipes behave alike for calls in both wire versions, timeouts,
//! closes, node limits and a paused reader whose peer leaves; and what is
//! particular to each (socket files, names) is cleaned up. Any byte stream
//! (`Node::serve_stream`) carries a connection too.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Error, Limits, Node, Request, WireFormat};
use support::{PATIENCE, addr, echo, events, wait_until};
use tokio::sync::Semaphore;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Unix,
    Memory,
}

const ALL: [Transport; 3] = [Transport::Tcp, Transport::Unix, Transport::Memory];

/// Where a test's server listens; holds the Unix socket's directory.
struct Place {
    addr: String,
    _dir: Option<tempfile::TempDir>,
}

impl Transport {
    fn place(self) -> Place {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        match self {
            Transport::Tcp => Place {
                addr: "127.0.0.1:0".into(),
                _dir: None,
            },
            Transport::Unix => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("node.sock");
                Place {
                    addr: format!("unix:{}", path.display()),
                    _dir: Some(dir),
                }
            }
            Transport::Memory => Place {
                addr: format!(
                    "memory:transports-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ),
                _dir: None,
            },
        }
    }
}

#[tokio::test]
async fn calls_round_trip_over_every_transport_in_both_wire_versions() {
    for transport in ALL {
        for wire in [WireFormat::V1, WireFormat::V2] {
            let place = transport.place();
            let server = Node::builder().wire(wire).handler(echo).build();
            let listener = server.listen(&place.addr).expect("bind");
            let peer = Node::builder()
                .wire(wire)
                .build()
                .connect(&addr(&listener))
                .await;
            for size in [0, 16, 60_000] {
                let body = Bytes::from(vec![7u8; size]);
                let answer = peer.call(1, body.clone()).await;
                assert_eq!(answer.expect("call"), body, "{transport:?} {wire:?} {size}");
            }
            peer.send(2, "one way").await.expect("send");
        }
    }
}

#[tokio::test]
async fn a_call_without_answer_times_out_over_every_transport() {
    for transport in ALL {
        let place = transport.place();
        let server = Node::builder()
            .handler(|_req: Request| async { std::future::pending::<Option<Bytes>>().await })
            .build();
        let listener = server.listen(&place.addr).expect("bind");
        let peer = Node::builder().build().connect(&addr(&listener)).await;
        let result = peer
            .call_timeout(1, "never answered", Duration::from_millis(50))
            .await;
        assert!(
            matches!(result, Err(Error::Timeout)),
            "{transport:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_server_closing_fails_pending_calls_and_tells_the_client_over_every_transport() {
    for transport in ALL {
        let place = transport.place();
        let (entered, mut handlers) = events();
        let server = Node::builder()
            .handler(move |_req: Request| {
                let _ = entered.send(());
                async { std::future::pending::<Option<Bytes>>().await }
            })
            .build();
        let listener = server.listen(&place.addr).expect("bind");
        let (closes, mut closed) = events();
        let client = Node::builder()
            .timeout(PATIENCE)
            .on_close(move |_, reason| {
                let _ = closes.send(reason.clone());
            })
            .build();
        let peer = client.connect(&addr(&listener)).await;
        let call = tokio::spawn({
            let peer = peer.clone();
            async move { peer.call(1, "pending").await }
        });
        handlers.next().await;
        server.shutdown(Duration::ZERO).await;
        let result = call.await.expect("task");
        assert!(
            matches!(result, Err(Error::Closed)),
            "{transport:?}: {result:?}"
        );
        closed.next().await;
    }
}

#[tokio::test]
async fn a_paused_reader_notices_a_client_that_left_over_every_transport() {
    for transport in ALL {
        let place = transport.place();
        let gate = Arc::new(Semaphore::new(0));
        let mut limits = Limits::default();
        limits.max_concurrent_requests = 1;
        let held = gate.clone();
        let server = Node::builder()
            .limits(limits)
            .handler(move |req: Request| {
                let gate = held.clone();
                async move {
                    let _permit = gate.acquire().await;
                    echo(req).await
                }
            })
            .build();
        let listener = server.listen(&place.addr).expect("bind");
        let client = Node::builder().timeout(PATIENCE).build();
        let peer = client.connect(&addr(&listener)).await;
        // Just over the 1 MiB that may queue behind the one running
        // handler, all of it read before the server pauses (so the close
        // is not stuck behind unread bytes).
        let body = Bytes::from(vec![1u8; 60 * 1024]);
        for _ in 0..19 {
            let (peer, body) = (peer.clone(), body.clone());
            tokio::spawn(async move { peer.call(1, body).await });
        }
        wait_until("reading paused with requests queued", || {
            server.stats().queued_requests == 18
        })
        .await;
        drop(peer);
        client.shutdown(Duration::ZERO).await;
        wait_until(&format!("{transport:?}: server connection gone"), || {
            server.stats().connections == 0
        })
        .await;
        assert_eq!(server.stats().handlers, 0, "{transport:?}");
    }
}

#[tokio::test]
async fn a_unix_socket_file_is_removed_when_its_listener_closes_and_when_its_node_drops() {
    let place = Transport::Unix.place();
    let path = place.addr.trim_start_matches("unix:").to_owned();
    let server = Node::builder().handler(echo).build();
    let listener = server.listen(&place.addr).expect("bind");
    assert!(std::path::Path::new(&path).exists());
    listener.close();
    assert!(!std::path::Path::new(&path).exists());
    let client = Node::builder().build();
    let result = client.connect(&place.addr).await.call(1, "x").await;
    assert!(matches!(result, Err(Error::Connect { .. })), "{result:?}");

    let listener = server.listen(&place.addr).expect("bound again");
    assert_eq!(listener.addr(), place.addr);
    drop(server);
    wait_until("socket file removed", || {
        !std::path::Path::new(&path).exists()
    })
    .await;
}

#[tokio::test]
async fn a_unix_path_in_use_or_unreachable_is_a_clear_error() {
    let place = Transport::Unix.place();
    let server = Node::builder().handler(echo).build();
    let _listener = server.listen(&place.addr).expect("bind");
    let second = server.listen(&place.addr);
    assert!(matches!(second, Err(Error::Listen { .. })), "{second:?}");
    let missing = format!("{}.missing", place.addr);
    let result = Node::builder()
        .build()
        .connect(&missing)
        .await
        .call(1, "x")
        .await;
    assert!(matches!(result, Err(Error::Connect { .. })), "{result:?}");
}

#[tokio::test]
async fn a_memory_name_is_refused_once_its_listener_closes_and_may_be_bound_again() {
    let place = Transport::Memory.place();
    let server = Node::builder().handler(echo).build();
    let listener = server.listen(&place.addr).expect("bind");
    let second = server.listen(&place.addr);
    assert!(matches!(second, Err(Error::Listen { .. })), "{second:?}");
    listener.close();
    let client = Node::builder().build();
    let result = client.connect(&place.addr).await.call(1, "x").await;
    assert!(matches!(result, Err(Error::Connect { .. })), "{result:?}");

    let _again = server.listen(&place.addr).expect("bound again");
    let peer = Node::builder().build().connect(&place.addr).await;
    assert_eq!(peer.call(1, "back").await.expect("call"), "back");
}

#[tokio::test]
async fn inbound_peers_over_unix_and_memory_are_named_by_their_listener() {
    for transport in [Transport::Unix, Transport::Memory] {
        let place = transport.place();
        let (remotes, mut accepted) = events();
        let server = Node::builder()
            .on_accept(move |peer, remote| {
                let _ = remotes.send((peer.addr(), remote.to_owned()));
            })
            .build();
        let _listener = server.listen(&place.addr).expect("bind");
        let _peer = Node::builder().build().connect(&place.addr).await;
        let (peer_addr, remote) = accepted.next().await;
        assert_eq!(peer_addr, place.addr);
        assert_eq!(remote, place.addr);
    }
}

#[tokio::test]
async fn node_limits_hold_over_every_transport() {
    for transport in ALL {
        let place = transport.place();
        let gate = Arc::new(Semaphore::new(0));
        let mut limits = Limits::default();
        limits.max_connections = 1;
        limits.max_concurrent_requests = 1;
        let server = Node::builder()
            .limits(limits)
            .handler({
                let gate = gate.clone();
                move |req: Request| {
                    let gate = gate.clone();
                    async move {
                        let _permit = gate.acquire().await.ok()?;
                        Some(req.body)
                    }
                }
            })
            .build();
        let listener = server.listen(&place.addr).expect("bind");
        let client = Node::builder().build();
        let peer = client.connect(&addr(&listener)).await;
        let calls: Vec<_> = (0..2)
            .map(|i| {
                let peer = peer.clone();
                tokio::spawn(async move { peer.call(1, format!("call {i}")).await })
            })
            .collect();
        wait_until("one runs, one queues", || {
            let stats = server.stats();
            stats.handlers == 1 && stats.queued_requests == 1
        })
        .await;

        let refused = Node::builder().build().connect(&addr(&listener)).await;
        let result = refused.call(1, "beyond max_connections").await;
        assert!(result.is_err(), "{transport:?}: {result:?}");
        assert_eq!(server.stats().refused_connections, 1, "{transport:?}");

        gate.add_permits(2);
        for (i, call) in calls.into_iter().enumerate() {
            let answer = call.await.expect("task").expect("call");
            assert_eq!(answer, format!("call {i}"), "{transport:?}");
        }
    }
}

#[tokio::test]
async fn any_byte_stream_carries_a_connection_both_ways_in_both_wire_versions() {
    for wire in [WireFormat::V1, WireFormat::V2] {
        let (left, right) = tokio::io::duplex(64 * 1024);
        let server = Node::builder().wire(wire).handler(echo).build();
        let client = Node::builder().wire(wire).handler(echo).build();
        let served = server.serve_stream(left, "duplex:server").expect("served");
        let peer = client.serve_stream(right, "duplex:client").expect("served");
        assert_eq!(peer.addr(), "duplex:client");
        for size in [0, 16, 60_000] {
            let body = Bytes::from(vec![7u8; size]);
            let answer = peer.call(1, body.clone()).await.expect("call");
            assert_eq!(answer, body, "{wire:?} {size}");
        }
        let back = served.call(1, "called back").await.expect("call back");
        assert_eq!(back, "called back", "{wire:?}");
        assert_eq!(server.stats().connections, 1);

        served.close();
        let after = peer.call(1, "after close").await;
        assert!(
            matches!(after, Err(Error::Closed | Error::PeerClosed)),
            "{wire:?}: {after:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_beyond_max_connections_is_not_served() {
    let mut limits = Limits::default();
    limits.max_connections = 1;
    let node = Node::builder().limits(limits).handler(echo).build();
    let (first, _first_end) = tokio::io::duplex(1024);
    let (second, _second_end) = tokio::io::duplex(1024);
    assert!(node.serve_stream(first, "first").is_some());
    assert!(node.serve_stream(second, "second").is_none());
    assert_eq!(node.stats().connections, 1);
}
