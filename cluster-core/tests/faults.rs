//! A remote node dies, or dies and comes back, under calls: every call ends,
//! with an error that says what happened, and no request is answered twice
//! or handled twice.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_core::{Error, Node, Peer, Request};
use support::remote::RemoteNode;
use support::{PATIENCE, events, observed_node, wait_until};

#[tokio::test]
async fn every_pending_call_fails_with_closed_within_200ms_when_the_server_dies() {
    const PEERS: usize = 4;
    const CALLS: usize = 1000;
    let (received, mut requests) = events();
    let server = RemoteNode::start("127.0.0.1:0", move || {
        Node::builder()
            .handler(move |_: Request| {
                let _ = received.send(());
                std::future::pending::<Option<Bytes>>()
            })
            .build()
    });
    // A timeout far beyond the test, so only the death can end the calls.
    let clients: Vec<Node> = (0..PEERS)
        .map(|_| Node::builder().timeout(PATIENCE * 10).build())
        .collect();
    let mut peers = Vec::new();
    for client in &clients {
        peers.push(client.connect(server.addr()).await);
    }
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let peer = peers[i % PEERS].clone();
            tokio::spawn(async move { (peer.call(1, "wait").await, Instant::now()) })
        })
        .collect();
    for _ in 0..CALLS {
        requests.next().await;
    }
    assert_eq!(
        clients
            .iter()
            .map(|c| c.stats().pending_calls)
            .sum::<usize>(),
        CALLS
    );

    let died = Instant::now();
    server.kill();
    let mut last = died;
    for call in calls {
        let (result, ended) = tokio::time::timeout(PATIENCE, call)
            .await
            .expect("call ends")
            .expect("call task");
        assert!(matches!(result, Err(Error::Closed)), "{result:?}");
        last = last.max(ended);
    }
    let took = last - died;
    assert!(
        took < Duration::from_millis(200),
        "the last call failed {took:?} after the server died"
    );
    for client in &clients {
        let stats = client.stats();
        assert_eq!((stats.pending_calls, stats.connections), (0, 0));
    }
}

/// What happened to one call of [`calls_across_a_restart`].
struct Outcome {
    id: u64,
    after_restart: bool,
    result: Result<Bytes, Error>,
}

/// Calls with unique ids from several workers per peer, until `stop`.
fn calls_across_a_restart(
    peers: &[Peer],
    ids: &Arc<AtomicU64>,
    restarted: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    let mut workers = Vec::new();
    for peer in peers {
        for _ in 0..4 {
            let (peer, ids, restarted, stop) =
                (peer.clone(), ids.clone(), restarted.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let after_restart = restarted.load(Ordering::SeqCst);
                    let id = ids.fetch_add(1, Ordering::SeqCst);
                    let result = peer.call(1, id.to_le_bytes().to_vec()).await;
                    if result.is_err() {
                        // The server is down: do not spin on refused connects.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    outcomes.push(Outcome {
                        id,
                        after_restart,
                        result,
                    });
                }
                outcomes
            }));
        }
    }
    workers
}

#[tokio::test]
async fn peers_reconnect_to_a_restarted_server_and_no_call_is_lost_or_answered_twice() {
    const PEERS: usize = 3;
    const AFTER: u64 = 300;
    // Request id -> how many times a server handled it, over both lives.
    let handled: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let server = |addr: &str| {
        let handled = handled.clone();
        RemoteNode::start(addr, move || {
            Node::builder()
                .handler(move |req: Request| {
                    let id = u64::from_le_bytes(req.body[..].try_into().expect("an id"));
                    *handled.lock().expect("ledger").entry(id).or_default() += 1;
                    async move { Some(req.body) }
                })
                .build()
        })
    };
    let first = server("127.0.0.1:0");
    let addr = first.addr().to_owned();

    let mut clients = Vec::new();
    let mut peers = Vec::new();
    for _ in 0..PEERS {
        let (client, _, closes) = observed_node(Node::builder());
        peers.push(client.connect(&addr).await);
        clients.push((client, closes));
    }
    let ids = Arc::new(AtomicU64::new(0));
    let (restarted, stop) = (Arc::default(), Arc::default());
    let workers = calls_across_a_restart(&peers, &ids, &restarted, &stop);
    wait_until("calls before the restart", || {
        ids.load(Ordering::SeqCst) > 100
    })
    .await;

    first.kill();
    for (_, closes) in &mut clients {
        let (_, reason) = closes.next().await;
        assert!(
            matches!(reason, Error::Closed | Error::Io(_)),
            "lost for {reason}"
        );
    }
    let second = server(&addr);
    // A peer whose connects were refused while the server was down fails
    // its calls at once until its backoff ends: "after the restart" starts
    // once every peer dialed again (the server counts the connection).
    wait_until("every peer reconnected", || {
        second.node().stats().connections == PEERS
    })
    .await;
    let restart_at = ids.load(Ordering::SeqCst);
    restarted.store(true, Ordering::SeqCst);
    wait_until("calls after the restart", || {
        ids.load(Ordering::SeqCst) > restart_at + AFTER
    })
    .await;
    stop.store(true, Ordering::SeqCst);

    let mut outcomes = Vec::new();
    for worker in workers {
        let done = tokio::time::timeout(PATIENCE, worker).await;
        outcomes.extend(done.expect("every call ended").expect("worker"));
    }
    let handled = handled.lock().expect("ledger").clone();
    let mut after = 0;
    for Outcome {
        id,
        after_restart,
        result,
    } in &outcomes
    {
        match result {
            Ok(body) => {
                assert_eq!(body[..], id.to_le_bytes(), "call {id} got another's answer");
                assert_eq!(handled.get(id), Some(&1), "call {id} handled once");
            }
            Err(error) => {
                assert!(
                    !after_restart,
                    "call {id} after the restart failed: {error}"
                );
                assert!(
                    matches!(error, Error::Closed | Error::Connect { .. }),
                    "call {id} racing the restart failed unclearly: {error}"
                );
            }
        }
        after += u64::from(*after_restart);
    }
    assert!(after >= AFTER, "{after} calls after the restart");
    assert!(
        handled.values().all(|&n| n == 1),
        "a request was handled twice"
    );
    assert_eq!(
        second.node().stats().connections,
        PEERS,
        "one reconnect per peer"
    );
    for (client, _) in &clients {
        assert_eq!(client.stats().pending_calls, 0);
    }
}
