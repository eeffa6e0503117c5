//! Calls, sends, timeouts and trace ids between nodes.

mod support;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use cluster_core::{Body, Error, Handler, Node, NodeBuilder, Peer, Request, WireFormat, trace};
use support::{Noise, addr, echo_server, events, observed_node};
use tokio::sync::Semaphore;

/// Tags a body with the command that handled it.
fn tagged(cmd: u32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 4);
    out.put_u32(cmd);
    out.put_slice(body);
    out.freeze()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_is_matched_to_its_own_request() {
    let server = Node::builder()
        .handler(|req: Request| async move {
            if req.cmd == 3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(tagged(req.cmd, &req.body))
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    // Two tasks, five calls each, alternating two commands.
    let mut tasks = Vec::new();
    for t in 0..2u64 {
        let peer = peer.clone();
        tasks.push(tokio::spawn(async move {
            let mut noise = Noise::new(t + 1);
            for i in 0..5 {
                let cmd = 1 + (i % 2);
                let body = noise.bytes(64);
                let reply = peer.call(cmd, body.clone()).await.expect("call");
                assert_eq!(reply, tagged(cmd, &body));
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }

    // Twenty tasks, fifty calls each, against a handler that sleeps 100 ms.
    let mut tasks = Vec::new();
    for t in 0..20u64 {
        let peer = peer.clone();
        tasks.push(tokio::spawn(async move {
            let mut noise = Noise::new(100 + t);
            for _ in 0..50 {
                let body = noise.bytes(200);
                let reply = peer.call(3, body.clone()).await.expect("call");
                assert_eq!(reply, tagged(3, &body));
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(peer.pending_calls(), 0);
}

#[tokio::test]
async fn late_responses_after_timeout_reach_nobody() {
    let (answered, mut answers) = events();
    let server = Node::builder()
        .handler(move |req: Request| {
            let answered = answered.clone();
            async move {
                if req.cmd == 1 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let _ = answered.send(());
                }
                Some(tagged(req.cmd, &req.body))
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    let slow: Vec<_> = (0..10u8)
        .map(|i| {
            let peer = peer.clone();
            tokio::spawn(async move {
                peer.call_timeout(1, vec![i], Duration::from_millis(20))
                    .await
            })
        })
        .collect();
    for call in slow {
        let result = call.await.expect("task");
        assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    }
    assert_eq!(peer.pending_calls(), 0, "timed-out calls leave no entry");

    // While the late responses arrive, fresh calls get their own answers.
    for i in 0..10u8 {
        answers.next().await;
        let reply = peer.call(2, vec![i]).await.expect("fast call");
        assert_eq!(reply, tagged(2, &[i]));
    }
}

#[tokio::test]
async fn send_delivers_one_way_and_a_response_to_it_is_harmless() {
    let (delivered, mut deliveries) = events();
    let server = Node::builder()
        .handler(move |req: Request| {
            let delivered = delivered.clone();
            async move {
                let _ = delivered.send((req.cmd, req.body.clone()));
                // Answers even one-way requests: the sender must not care.
                Some(req.body)
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    peer.send(7, "notify").await.expect("send");
    assert_eq!(deliveries.next().await, (7, Bytes::from_static(b"notify")));
    assert_eq!(peer.pending_calls(), 0, "a send waits for nothing");

    let reply = peer.call(8, "after").await.expect("call after send");
    assert_eq!(reply, "after");
    assert_eq!(deliveries.next().await.0, 8);
}

/// A handler whose future finishes at once yet holds a token until it is
/// dropped.
struct Holding(Arc<()>);

/// Ready at its first poll; `_token` lives as long as the future.
struct HoldingFuture {
    _token: Arc<()>,
    body: Bytes,
}

impl Future for HoldingFuture {
    type Output = Option<Bytes>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Some(self.body.clone()))
    }
}

impl Handler for Holding {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        HoldingFuture {
            _token: self.0.clone(),
            body: req.body,
        }
    }
}

// The reader keeps the box of a handler future that finished at once for
// the next request; the future itself must still go when it finishes.
#[tokio::test]
async fn a_finished_handler_future_is_dropped_at_once() {
    let token = Arc::new(());
    let server = Node::builder().handler(Holding(token.clone())).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;
    // This one and the handler's.
    let idle = Arc::strong_count(&token);
    assert_eq!(idle, 2);
    for i in 0..5u8 {
        let reply = peer.call(1, vec![i]).await.expect("call");
        assert_eq!(reply, [i][..]);
        // One runtime thread: the server's reader finished with the
        // request before the client's reader could see its response.
        assert_eq!(
            Arc::strong_count(&token),
            idle,
            "call {i}: the future is gone"
        );
    }
}

#[tokio::test]
async fn handler_sees_callers_trace_and_nested_calls_keep_it() {
    let (seen, mut seen_by) = events();
    let leaf_seen = seen.clone();
    let leaf = Node::builder()
        .node_id(3)
        .handler(move |req: Request| {
            let _ = leaf_seen.send(("leaf", req.trace_id, trace::current()));
            async { Some(Bytes::from_static(b"leaf")) }
        })
        .build();
    let leaf_listener = leaf.listen("127.0.0.1:0").expect("bind");

    let middle_client = Node::builder().node_id(2).build();
    let to_leaf = middle_client.connect(&addr(&leaf_listener)).await;
    let middle = Node::builder()
        .node_id(2)
        .handler(move |req: Request| {
            let seen = seen.clone();
            let to_leaf = to_leaf.clone();
            async move {
                let _ = seen.send(("middle", req.trace_id, trace::current()));
                to_leaf.call(1, "nested").await.ok()
            }
        })
        .build();
    let middle_listener = middle.listen("127.0.0.1:0").expect("bind");

    let root = Node::builder().node_id(1).build();
    let to_middle = root.connect(&addr(&middle_listener)).await;

    // Outside any trace: the request carries just the sender's node id.
    to_middle.call(1, "untraced").await.expect("call");
    assert_eq!(seen_by.next().await, ("middle", 1, Some(1)));
    assert_eq!(seen_by.next().await, ("leaf", 2, Some(2)));

    let id = root.new_trace();
    assert_eq!(id & 0xffff, 1);
    trace::scope(id, to_middle.call(1, "traced"))
        .await
        .expect("call");
    assert_eq!(seen_by.next().await, ("middle", id, Some(id)));
    let nested = (id & !0xffff) | 2;
    assert_eq!(seen_by.next().await, ("leaf", nested, Some(nested)));
}

/// A task spawned from a handler inside `trace::scope` keeps the trace and
/// the caller: it can call back over the same connection.
#[tokio::test]
async fn a_task_spawned_in_a_scope_keeps_the_trace_and_the_caller() {
    let server = Node::builder()
        .handler(|_: Request| async move {
            let trace_id = trace::current().expect("a handler runs in a trace");
            let spawned = tokio::spawn(trace::scope(trace_id, async {
                let caller = cluster_core::context::peer().expect("the caller");
                caller.call(2, "back").await.expect("call back");
                trace::current()
            }));
            let seen = spawned.await.expect("task");
            Some(Bytes::from(format!("{seen:?}")))
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let (calls_back, mut back) = tokio::sync::mpsc::unbounded_channel();
    let client = Node::builder()
        .node_id(5)
        .handler(move |req: Request| {
            let _ = calls_back.send(req.body.clone());
            async move { Some(req.body) }
        })
        .build();
    let peer = client.connect(&addr(&listener)).await;
    let id = client.new_trace();
    let reply = trace::scope(id, peer.call(1, "go")).await.expect("call");
    assert_eq!(back.recv().await, Some(Bytes::from("back")));
    let server_side = (id & !0xffff) | 5;
    assert_eq!(reply, Bytes::from(format!("{:?}", Some(server_side))));
}

#[tokio::test]
async fn oversize_body_fails_with_too_large_and_writes_nothing() {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let server = Node::builder()
        .handler(move |req: Request| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Some(req.body) }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    let err = peer.call(1, vec![0u8; 65520]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 65520,
                limit: 65519
            }
        ),
        "{err}"
    );
    let err = peer.send(1, vec![0u8; 70000]).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(peer.pending_calls(), 0);

    let reply = peer
        .call(1, vec![1u8; 65519])
        .await
        .expect("largest body fits");
    assert_eq!(reply.len(), 65519);
    assert_eq!(
        received.load(Ordering::SeqCst),
        1,
        "only the valid call reached the server"
    );
}

/// A node that starts every connection's sessions at `first`, tags what it
/// echoes with the command, records the sessions of the requests it gets,
/// and holds requests of command 9 until `hold` has a permit.
fn wrapping_node(
    wire: WireFormat,
    first: u32,
    hold: &Arc<Semaphore>,
) -> (NodeBuilder, Arc<Mutex<BTreeSet<u32>>>) {
    let seen: Arc<Mutex<BTreeSet<u32>>> = Arc::default();
    let (hold, record) = (hold.clone(), seen.clone());
    let builder = Node::builder()
        .wire(wire)
        .first_session(first)
        .handler(move |req: Request| {
            record.lock().expect("sessions").insert(req.session);
            let hold = hold.clone();
            async move {
                if req.cmd == 9 {
                    hold.acquire().await.expect("open").forget();
                }
                Some(tagged(req.cmd, &req.body))
            }
        });
    (builder, seen)
}

/// `n` concurrent calls of command 1 through `peer`, each checked against
/// its own body.
async fn concurrent_calls(peer: &Peer, n: u32) {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let peer = peer.clone();
            tokio::spawn(async move {
                let body = Bytes::from(i.to_string());
                assert_eq!(
                    peer.call(1, body.clone()).await.expect("call"),
                    tagged(1, &body)
                );
            })
        })
        .collect();
    for call in calls {
        call.await.expect("call task");
    }
}

#[tokio::test]
async fn calls_across_the_session_wrap_keep_matching_in_both_directions() {
    const LAST: u32 = 0x7fff_ffff;
    const FIRST: u32 = LAST - 99;
    const CALLS: u32 = 300;
    for wire in [WireFormat::V1, WireFormat::V2] {
        let hold = Arc::new(Semaphore::new(0));
        let (server, server_seen) = wrapping_node(wire, FIRST, &hold);
        let (server, mut accepts, _) = observed_node(server);
        let listener = server.listen("127.0.0.1:0").expect("bind");
        let (client, client_seen) = wrapping_node(wire, FIRST, &hold);
        let peer = client.build().connect(&addr(&listener)).await;
        let back = accepts.next().await;

        // The first session of each direction stays in flight across the
        // wrap, and is answered after it.
        let held = {
            let (peer, back) = (peer.clone(), back.clone());
            tokio::spawn(async move { tokio::join!(peer.call(9, "early"), back.call(9, "back")) })
        };
        support::wait_until("both held calls arrive", || {
            [&server_seen, &client_seen]
                .iter()
                .all(|seen| seen.lock().expect("sessions").contains(&FIRST))
        })
        .await;
        tokio::join!(
            concurrent_calls(&peer, CALLS),
            concurrent_calls(&back, CALLS)
        );
        hold.add_permits(2);
        let (early, back_early) = held.await.expect("held calls");
        assert_eq!(early.expect("held call"), tagged(9, b"early"), "{wire:?}");
        assert_eq!(
            back_early.expect("held callback"),
            tagged(9, b"back"),
            "{wire:?}"
        );

        // One session per call, counting on from FIRST through 2^31 - 1 to 0.
        let expected: BTreeSet<u32> = (FIRST..=LAST).chain(0..=CALLS - 100).collect();
        for seen in [&server_seen, &client_seen] {
            assert_eq!(*seen.lock().expect("sessions"), expected, "{wire:?}");
        }
        assert_eq!(peer.pending_calls() + back.pending_calls(), 0);
    }
}

#[tokio::test]
async fn a_timeout_too_long_for_the_clock_means_never() {
    let (_server, listener) = echo_server();
    let peer = Node::builder()
        .timeout(Duration::MAX)
        .build()
        .connect(&addr(&listener))
        .await;
    let reply = peer.call_timeout(1, "x", Duration::MAX).await;
    assert_eq!(reply.expect("call"), "x");
    peer.send(1, "y").await.expect("send");
}
