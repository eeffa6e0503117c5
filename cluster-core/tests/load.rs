//! Many connections and many calls at once: every response reaches its own
//! call, and once the calls are done and the peers closed, nothing is left
//! behind (no pending call, no connection).

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Limits, Node, Peer, Request};
use support::remote::RemoteNode;
use support::{echo, wait_until};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A body naming the call, so a response can be checked against it.
fn body(conn: usize, call: usize) -> Bytes {
    Bytes::from(format!("connection {conn} call {call}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_of_a_hundred_calls_each_match_and_leave_nothing_behind() {
    const CONNECTIONS: usize = 1000;
    const CALLS: usize = 100;
    // Both ends of every connection live in this process, plus slack.
    support::raise_fd_limit(2 * CONNECTIONS as u64 + 256);
    // The server has a runtime of its own, as another process would.
    let server = RemoteNode::start("127.0.0.1:0", || Node::builder().handler(echo).build());
    let server_stats = || server.node().stats();

    // Connections are made in batches smaller than the listen backlog, each
    // accepted before the next: a storm of a thousand connects overflows
    // the kernel's accept queue, and the kernel resets some of them, which
    // is not what this test is about.
    let mut clients: Vec<(Node, Peer)> = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS / 100 {
        for _ in 0..100 {
            // One node per connection: a node keeps one peer per address.
            // Nothing may time out while a busy machine runs the 100,000
            // calls (the default 5 s did, with other builds running).
            let client = Node::builder().timeout(Duration::from_secs(120)).build();
            let peer = client.connect(server.addr()).await;
            clients.push((client, peer));
        }
        wait_until("the batch is accepted", || {
            server_stats().connections == clients.len()
        })
        .await;
    }

    let mut calls = JoinSet::new();
    for (conn, (_, peer)) in clients.iter().enumerate() {
        for call in 0..CALLS {
            let peer = peer.clone();
            calls.spawn(async move {
                let reply = peer.call(1, body(conn, call)).await;
                assert_eq!(reply.expect("call"), body(conn, call));
            });
        }
    }
    while let Some(done) = calls.join_next().await {
        done.expect("call task");
    }

    assert_eq!(server_stats().pending_calls, 0);
    for (client, peer) in &clients {
        let stats = client.stats();
        assert_eq!((stats.connections, stats.pending_calls), (1, 0));
        peer.close();
        assert_eq!(client.stats().connections, 0, "closed at once");
    }
    wait_until("the server sees every connection go", || {
        server_stats().connections == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_calls_in_flight_on_one_connection_all_match() {
    const CALLS: usize = 100_000;
    // Requests are held until every call is in flight, so all of them are
    // pending at once; the server must take them all in to get there.
    let hold = Arc::new(Semaphore::new(0));
    let mut limits = Limits::default();
    limits.max_concurrent_requests = CALLS;
    let server = Node::builder()
        .limits(limits)
        .handler({
            let hold = hold.clone();
            move |req: Request| {
                let hold = hold.clone();
                async move {
                    hold.acquire().await.expect("open").forget();
                    echo(req).await
                }
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    // Nothing may time out while a slow machine spawns the calls.
    let client = Node::builder().timeout(Duration::from_secs(120)).build();
    let peer = client.connect(&support::addr(&listener)).await;

    let calls: Vec<_> = (0..CALLS)
        .map(|call| {
            let peer = peer.clone();
            tokio::spawn(async move { peer.call(1, body(0, call)).await })
        })
        .collect();
    wait_until("every call in flight", || {
        client.stats().pending_calls == CALLS
    })
    .await;
    hold.add_permits(CALLS);
    for (call, reply) in calls.into_iter().enumerate() {
        assert_eq!(reply.await.expect("task").expect("call"), body(0, call));
    }

    assert_eq!(client.stats().pending_calls, 0);
    assert_eq!(server.stats().pending_calls, 0);
    wait_until("write queues drained", || {
        client.stats().queued_bytes == 0 && server.stats().queued_bytes == 0
    })
    .await;
    peer.close();
    assert_eq!(client.stats().connections, 0);
    wait_until("the server sees the connection go", || {
        server.stats().connections == 0
    })
    .await;
}
