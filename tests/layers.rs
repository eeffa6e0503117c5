//! Each shipped layer doing its job: the rate limit per peer, the
//! concurrency limit per command, and the metrics of both sides (read from
//! a Prometheus recorder local to the test's thread).

use std::sync::Arc;
use std::time::Duration;

use cluster::layer::{ConcurrencyLimit, HandlerExt, MeteredTarget, Metrics, RateLimit};
use cluster::{Error, Node, Status};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::Semaphore;

#[cluster::service]
pub trait Work {
    async fn quick(&self) -> u32;
    /// Waits for a permit of the test's gate.
    async fn gated(&self) -> u32;
    /// Answers nothing (the caller times out).
    async fn silent(&self) -> ();
}

struct Worker {
    gate: Arc<Semaphore>,
}

impl Default for Worker {
    /// A gate that stays shut.
    fn default() -> Self {
        Self {
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Work for Worker {
    async fn quick(&self) -> u32 {
        1
    }

    async fn gated(&self) -> u32 {
        let _permit = self.gate.acquire().await.expect("gate open");
        2
    }

    async fn silent(&self) {
        std::future::pending::<()>().await;
    }
}

fn overloaded<T>(result: &Result<T, Error>) -> bool {
    matches!(
        result,
        Err(Error::Remote {
            status: Status::Overloaded,
            ..
        })
    )
}

/// A node serving `handler`, and its address.
fn serve(handler: impl cluster::Handler) -> (Node, String) {
    let server = Node::builder().handler(handler).build();
    let addr = server
        .listen("127.0.0.1:0")
        .expect("listen")
        .local_addr()
        .to_string();
    (server, addr)
}

/// A client over a new connection (with the extension, so that refusals
/// are answered) to `addr`.
async fn client(addr: &str) -> (Node, WorkClient) {
    let node = Node::builder().build();
    let peer = node.connect_extended(addr).await;
    (node, WorkClient::new(peer))
}

#[tokio::test]
async fn rate_limit_refuses_a_peer_past_its_burst_and_not_another_peer() {
    // 0.001 requests a second: no token comes back during the test.
    let handler = WorkServer::new(Worker::default()).layer(RateLimit::per_peer(0.001, 3));
    let (_server, addr) = serve(handler);

    let (_a, first) = client(&addr).await;
    for _ in 0..3 {
        assert_eq!(first.quick().await.expect("within the burst"), 1);
    }
    let refused = first.quick().await;
    assert!(overloaded(&refused), "{refused:?}");

    let (_b, second) = client(&addr).await;
    assert_eq!(second.quick().await.expect("a peer of its own"), 1);
}

#[tokio::test]
async fn concurrency_limit_refuses_a_command_past_its_limit_and_not_others() {
    let gate = Arc::new(Semaphore::new(0));
    let worker = Worker { gate: gate.clone() };
    let handler = WorkServer::new(worker).layer(ConcurrencyLimit::per_command(2));
    let (server, addr) = serve(handler);
    let (_node, work) = client(&addr).await;

    let running: Vec<_> = (0..2)
        .map(|_| {
            let work = work.clone();
            tokio::spawn(async move { work.gated().await })
        })
        .collect();
    // Both are running once the server counts two handlers.
    let started = async {
        while server.stats().handlers < 2 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .expect("both gated calls run");
    assert!(overloaded(&work.gated().await));
    assert_eq!(work.quick().await.expect("another command"), 1);

    gate.add_permits(2);
    for call in running {
        assert_eq!(call.await.expect("task").expect("gated"), 2);
    }
    gate.add_permits(1);
    assert_eq!(work.gated().await.expect("a slot again"), 2);
}

#[tokio::test]
async fn metrics_count_requests_errors_and_limit_hits_on_both_sides() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    // This thread's recorder: the test runs on one, both nodes on it.
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let handler = WorkServer::new(Worker::default())
        .layer(RateLimit::per_peer(0.001, 4))
        .layer(Metrics::server());
    let (_server, addr) = serve(handler);
    let peer = Node::builder().build().connect_extended(&addr).await;
    let target = MeteredTarget::new(peer, WorkClient::SERVICE, WorkClient::COMMANDS);
    let work = WorkClient::new(target.clone());
    let impatient = WorkClient::new(target).with_timeout(Duration::from_millis(50));

    for _ in 0..3 {
        work.quick().await.expect("quick");
    }
    assert!(matches!(impatient.silent().await, Err(Error::Timeout)));
    // Past the burst of 4: refused by the rate limit, inside the metrics.
    assert!(overloaded(&work.quick().await));

    let text = prometheus.render();
    let has = |line: &str| text.lines().any(|l| l == line);
    let labels =
        |method: &str| format!(r#"rpc_system="silly",rpc_service="Work",rpc_method="{method}""#);
    for line in [
        format!("rpc_server_requests{{{}}} 4", labels("quick")),
        format!("rpc_client_requests{{{}}} 4", labels("quick")),
        format!("rpc_server_requests{{{}}} 1", labels("silent")),
        format!(
            r#"rpc_client_errors{{{},error_type="timeout"}} 1"#,
            labels("silent")
        ),
        format!(
            r#"rpc_client_errors{{{},error_type="remote"}} 1"#,
            labels("quick")
        ),
        // The refused one got no value from the handler below the metrics.
        format!(
            r#"rpc_server_errors{{{},error_type="no_response"}} 1"#,
            labels("quick")
        ),
        format!(
            r#"cluster_limit_hits{{{},limit="rate"}} 1"#,
            labels("quick")
        ),
        format!("rpc_client_active_requests{{{}}} 0", labels("quick")),
    ] {
        assert!(has(&line), "no {line:?} in:\n{text}");
    }
}

/// Polls `done` every few milliseconds for up to ten seconds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::test]
async fn node_stats_count_dropped_responses_and_reconnects_and_are_published() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    // 1: answers late; 2: closes the caller's connection; else echoes.
    let (server, addr) = serve(|req: cluster::Request| async move {
        match req.cmd {
            1 => tokio::time::sleep(Duration::from_millis(100)).await,
            2 => req.peer.close(),
            _ => {}
        }
        Some(req.body)
    });
    let client = Node::builder().build();
    let peer = client.connect(&addr).await;

    let late = peer.call_timeout(1, "x", Duration::from_millis(20)).await;
    assert!(matches!(late, Err(Error::Timeout)), "{late:?}");
    assert!(eventually(|| client.stats().dropped_responses == 1).await);

    let _ = peer.call(2, "bye").await;
    assert!(eventually(|| peer.pending_calls() == 0).await);
    // Its connection closed, the server could not send that response.
    assert!(eventually(|| server.stats().unsent_responses == 1).await);
    let mut echoed = Err(Error::Closed);
    for _ in 0..100 {
        echoed = peer.call(3, "again").await;
        if echoed.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(echoed.expect("reconnected"), "again");
    assert_eq!(client.stats().reconnects, 1);

    assert_node_lines(
        &prometheus,
        &client,
        [
            "cluster_node_dropped_responses 1",
            "cluster_node_reconnects 1",
            "cluster_node_connections 1",
        ],
    );
}

/// Renders `node`'s stats from `prometheus` and checks that the text has
/// each of `lines`, whole.
fn assert_node_lines<L: AsRef<str>>(
    prometheus: &PrometheusHandle,
    node: &Node,
    lines: impl IntoIterator<Item = L>,
) {
    cluster::layer::record_node_stats(node);
    let text = prometheus.render();
    for line in lines {
        let line = line.as_ref();
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn node_stats_count_bytes_and_frames_exactly_on_wire_v1() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let (server, addr) = serve(|req: cluster::Request| async move { Some(req.body) });
    // Plain wire v1, no extension: no hello, and frames as silly's.
    let client = Node::builder().build();
    let peer = client.connect(&addr).await;
    const CALLS: u64 = 20;
    let mut body_bytes = 0;
    for size in 0..CALLS {
        let body = vec![b'x'; size as usize];
        assert_eq!(peer.call(7, body.clone()).await.expect("echo"), body);
        body_bytes += size;
    }
    // A frame is counted once its whole read or write is: the last ones
    // may still be on their way when the last call returns.
    let all_counted = || {
        let (s, c) = (server.stats(), client.stats());
        [s.frames_in, s.frames_out, c.frames_in, c.frames_out] == [CALLS; 4]
    };
    assert!(eventually(all_counted).await, "{:?}", server.stats());
    // v1: a request is `len:u16 | body | trace:u64 | cmd:u32 | session:u32`,
    // a response `len:u16 | body | session:u32`.
    let requests = CALLS * (2 + 16) + body_bytes;
    let responses = CALLS * (2 + 4) + body_bytes;
    let (s, c) = (server.stats(), client.stats());
    assert_eq!((s.bytes_in, s.bytes_out), (requests, responses));
    assert_eq!((c.bytes_out, c.bytes_in), (requests, responses));

    assert_node_lines(
        &prometheus,
        &server,
        [
            format!("cluster_node_network_io{{network_io_direction=\"receive\"}} {requests}"),
            format!("cluster_node_network_io{{network_io_direction=\"transmit\"}} {responses}"),
            format!("cluster_node_frames{{network_io_direction=\"receive\"}} {CALLS}"),
            format!("cluster_node_frames{{network_io_direction=\"transmit\"}} {CALLS}"),
            "cluster_node_queued_requests 0".to_owned(),
        ],
    );
}

#[tokio::test]
async fn node_stats_count_requests_refused_by_max_concurrent_requests() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let mut limits = cluster::Limits::default();
    limits.max_concurrent_requests = 1;
    // Every request waits for ever: the first holds the only slot.
    let server = Node::builder()
        .limits(limits)
        .handler(|_: cluster::Request| std::future::pending::<Option<bytes::Bytes>>())
        .build();
    let addr = server.listen("127.0.0.1:0").expect("listen").local_addr();
    let client = Node::builder().build();
    let peer = client.connect_extended(&addr.to_string()).await;
    let call = |body: bytes::Bytes| {
        let peer = peer.clone();
        tokio::spawn(async move { peer.call(1, body).await })
    };
    let first = call(bytes::Bytes::from_static(b"holds the slot"));
    assert!(eventually(|| server.stats().handlers == 1).await);
    // 1 MiB of requests may wait for a slot: 60,000-byte ones fill it
    // after 18, and the 6 after those are refused.
    let body = bytes::Bytes::from(vec![0u8; 60_000]);
    let calls: Vec<_> = (0..24).map(|_| call(body.clone())).collect();
    let hits = || server.stats().limit_hits.max_concurrent_requests;
    assert!(eventually(|| hits() == 6).await, "{:?}", server.stats());
    assert_eq!(server.stats().queued_requests, 18);
    assert_eq!(server.stats().limit_hits.max_handlers, 0);

    assert_node_lines(
        &prometheus,
        &server,
        [
            "cluster_node_limit_hits{limit=\"max_concurrent_requests\"} 6",
            "cluster_node_limit_hits{limit=\"max_handlers\"} 0",
            "cluster_node_queued_requests 18",
        ],
    );
    first.abort();
    for call in calls {
        call.abort();
    }
}

#[tokio::test]
async fn node_stats_count_frames_refused_by_a_full_write_queue() {
    let (_server, addr) = serve(|req: cluster::Request| async move { Some(req.body) });
    let mut limits = cluster::Limits::default();
    limits.write_queue = 1;
    let client = Node::builder().limits(limits).build();
    let peer = client.connect(&addr).await;
    // On this current_thread runtime the writer cannot run between the two
    // sends: the first still fills the queue when the second comes.
    peer.send(1, "queued").await.expect("first send");
    let refused = peer.send(1, "refused").await;
    assert!(
        matches!(refused, Err(Error::Overloaded { limit: 1 })),
        "{refused:?}"
    );
    assert_eq!(client.stats().limit_hits.write_queue, 1);
}
