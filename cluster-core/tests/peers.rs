//! Peers and listeners: accept, close, reconnect, connect failures.

mod support;

use std::net::TcpListener as StdListener;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_core::{Error, Node, Request};
use support::{addr, call_once_reachable, echo_server, events, logs, observed_node, spawn_calls};

#[tokio::test]
async fn server_calls_the_client_back_through_the_accepted_peer() {
    let (server, mut accepts, _) = observed_node(Node::builder());
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder()
        .handler(|req: Request| async move { Some(Bytes::from(format!("client got {}", req.cmd))) })
        .build();
    let to_server = client.connect(&addr(&listener)).await;

    let accepted = accepts.next().await;
    assert!(accepted.is_inbound());
    assert_eq!(
        accepted.call(42, "hi").await.expect("callback"),
        "client got 42"
    );
    // The connection is shared: the client's calls still go the other way.
    let err = to_server
        .call_timeout(1, "x", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout),
        "server has no handler: {err}"
    );
}

#[tokio::test]
async fn reconnect_after_remote_close_uses_a_new_connection() {
    let (server, mut accepts, _) =
        observed_node(Node::builder().handler(|req: Request| async move { Some(req.body) }));
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let (client, _, mut client_closes) = observed_node(
        Node::builder().handler(|_: Request| async { Some(Bytes::from_static(b"client")) }),
    );
    let peer = client.connect(&addr(&listener)).await;
    assert_eq!(peer.call(1, "one").await.expect("first call"), "one");
    let first = accepts.next().await;

    first.close();
    let (closed, reason) = client_closes.next().await;
    assert_eq!(closed, peer);
    assert!(matches!(reason, Error::Closed), "{reason}");

    assert_eq!(
        peer.call(1, "two").await.expect("call after reconnect"),
        "two"
    );
    let second = accepts.next().await;
    assert_ne!(first, second, "accept fired again, with a new peer");
    assert_ne!(
        first.addr(),
        second.addr(),
        "a new connection, from a new port"
    );
    assert_eq!(
        second.call(9, "back").await.expect("callback on new peer"),
        "client"
    );
    assert!(matches!(first.call(9, "old").await, Err(Error::PeerClosed)));
}

#[tokio::test]
async fn connect_to_a_dead_port_returns_a_handle_that_works_once_a_listener_appears() {
    let port = {
        let probe = StdListener::bind("127.0.0.1:0").expect("probe bind");
        probe.local_addr().expect("addr").port()
    };
    let target = format!("127.0.0.1:{port}");
    let client = Node::builder().build();
    let peer = client.connect(&target).await;
    let err = peer.call(1, "x").await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(
        client.connect(&target).await,
        peer,
        "same address, same handle"
    );

    let server = Node::builder()
        .handler(|req: Request| async move { Some(req.body) })
        .build();
    let _listener = server.listen(&target).expect("bind the same port");
    // After the failed attempt the peer backs off, then dials again.
    assert_eq!(call_once_reachable(&peer, 1, "now").await, "now");
}

#[tokio::test]
async fn host_names_are_resolved() {
    let (_server, listener) = echo_server();
    let port = listener.local_addr().port();
    let peer = Node::builder()
        .build()
        .connect(&format!("localhost:{port}"))
        .await;
    assert_eq!(peer.call(1, "by name").await.expect("call"), "by name");
}

#[tokio::test]
async fn unresolvable_and_malformed_addresses_fail_calls_clearly() {
    let client = Node::builder().build();
    let peer = client.connect("no port here").await;
    let err = peer.call(1, "x").await.unwrap_err();
    assert!(matches!(err, Error::Resolve { .. }), "{err}");
    assert!(err.to_string().contains("no port here"), "{err}");
}

#[tokio::test]
async fn close_is_local_final_and_seen_once_by_the_remote() {
    let (server, mut accepts, mut server_closes) =
        observed_node(Node::builder().handler(|req: Request| async move { Some(req.body) }));
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let (client, _, mut client_closes) = observed_node(Node::builder());
    let peer = client.connect(&addr(&listener)).await;
    peer.call(1, "x").await.expect("call");
    let accepted = accepts.next().await;

    peer.close();
    assert!(
        client_closes.try_next().is_none(),
        "no close callback for a local close"
    );
    assert!(peer.is_closed());
    assert!(matches!(peer.call(1, "x").await, Err(Error::PeerClosed)));
    assert!(matches!(peer.send(1, "x").await, Err(Error::PeerClosed)));

    let (closed, _) = server_closes.next().await;
    assert_eq!(closed, accepted);

    // Connecting again makes a new peer; the old one stays closed.
    let again = client.connect(&addr(&listener)).await;
    assert_ne!(again, peer);
    assert_eq!(again.call(1, "y").await.expect("new peer works"), "y");
    accepts.next().await;
    assert!(
        matches!(peer.call(1, "x").await, Err(Error::PeerClosed)),
        "no reconnect after close"
    );
    assert!(
        server_closes.try_next().is_none(),
        "close callback fired exactly once"
    );
    assert!(client_closes.try_next().is_none());
}

#[tokio::test]
async fn pending_calls_fail_at_once_when_the_connection_drops() {
    let (received, mut requests) = events();
    let (server, mut accepts, _) = observed_node(Node::builder().handler(move |_: Request| {
        let _ = received.send(());
        std::future::pending::<Option<Bytes>>()
    }));
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;
    let accepted = accepts.next().await;

    let calls = spawn_calls(&peer, 100, 1, "wait");
    for _ in 0..100 {
        requests.next().await;
    }
    assert_eq!(peer.pending_calls(), 100);

    let dropped = Instant::now();
    accepted.close();
    for call in calls {
        let result = call.await.expect("task");
        assert!(matches!(result, Err(Error::Closed)), "{result:?}");
    }
    let took = dropped.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "failed after {took:?}, not at once"
    );
}

#[tokio::test]
async fn one_node_listens_on_several_ports_and_listeners_close_alone() {
    let (server, _) = echo_server();
    let second = server.listen("127.0.0.1:0").expect("second port");
    let third = server.listen("127.0.0.1:0").expect("third port");
    let client = Node::builder().build();
    let to_second = client.connect(&addr(&second)).await;
    let to_third = client.connect(&addr(&third)).await;
    assert_ne!(to_second, to_third);
    assert_eq!(to_second.call(1, "2").await.expect("second"), "2");
    assert_eq!(to_third.call(1, "3").await.expect("third"), "3");

    second.close();
    assert_eq!(
        to_second
            .call(1, "still")
            .await
            .expect("accepted connections stay"),
        "still"
    );
    let late = Node::builder().build().connect(&addr(&second)).await;
    assert!(
        matches!(late.call(1, "x").await, Err(Error::Connect { .. })),
        "connections refused at once"
    );
    let again = server
        .listen(&addr(&second))
        .expect("port can be bound again");
    assert_eq!(call_once_reachable(&late, 1, "back").await, "back");
    again.close();
}

#[tokio::test]
async fn listen_reports_busy_and_malformed_addresses() {
    let (_server, listener) = echo_server();
    let node = Node::builder().build();
    let err = node.listen(&addr(&listener)).unwrap_err();
    assert!(matches!(err, Error::Listen { .. }), "{err}");
    let err = node.listen("not an address").unwrap_err();
    assert!(matches!(err, Error::Listen { .. }), "{err}");
    assert!(err.to_string().contains("not an address"), "{err}");
}

#[test]
fn listen_outside_a_runtime_is_an_error_not_a_panic() {
    let err = Node::builder().build().listen("127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[tokio::test]
async fn handler_panics_are_logged_with_cmd_and_session_and_the_connection_keeps_serving() {
    let logs = logs::capture();
    let (panicked, mut panics) = events();
    let server = Node::builder()
        .handler(move |req: Request| {
            let panicked = panicked.clone();
            // Command 14 panics before its future exists, 13 inside it.
            if req.cmd == 14 {
                let _ = panicked.send((req.cmd, req.session));
                panic!("unlucky before");
            }
            async move {
                tokio::task::yield_now().await;
                if req.cmd == 13 {
                    let _ = panicked.send((req.cmd, req.session));
                    panic!("unlucky inside");
                }
                Some(req.body)
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    let calls: Vec<_> = (0..30u32)
        .map(|i| {
            let peer = peer.clone();
            let cmd = [1, 13, 14][i as usize % 3];
            tokio::spawn(async move {
                let body = i.to_string();
                // A panicked request is never answered: only its timeout
                // ends it, so it gets a short one.
                let result = match cmd {
                    1 => peer.call(cmd, body.clone()).await,
                    _ => {
                        peer.call_timeout(cmd, body.clone(), Duration::from_millis(300))
                            .await
                    }
                };
                match cmd {
                    1 => assert_eq!(result.expect("served"), body),
                    _ => assert!(
                        matches!(result, Err(Error::Timeout)),
                        "no response to a panicked request: {result:?}"
                    ),
                }
            })
        })
        .collect();
    for call in calls {
        call.await.expect("call task");
    }
    for _ in 0..20 {
        let (cmd, session) = panics.next().await;
        logs.line_with(&[
            "handler panicked",
            &format!("cmd={cmd} session={session} panic=\"unlucky"),
        ])
        .await;
    }
    assert_eq!(peer.call(1, "after").await.expect("still served"), "after");
    assert_eq!(server.stats().connections, 1);
}

#[tokio::test]
async fn concurrent_callers_of_a_disconnected_peer_share_one_connect() {
    let (server, mut accepts, _) =
        observed_node(Node::builder().handler(|req: Request| async move { Some(req.body) }));
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let (client, _, mut client_closes) = observed_node(Node::builder());
    let peer = client.connect(&addr(&listener)).await;
    accepts.next().await.close();
    client_closes.next().await;

    let calls: Vec<_> = (0..50)
        .map(|i| {
            let peer = peer.clone();
            tokio::spawn(async move { peer.call(1, format!("{i}")).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.expect("task").expect("call"), i.to_string());
    }
    accepts.next().await;
    assert!(
        accepts.try_next().is_none(),
        "one reconnect for fifty callers"
    );
    assert_eq!(client.stats().connections, 1);
}

#[tokio::test]
async fn accept_callback_gets_the_real_remote_address() {
    let (remotes, mut accepted_from) = events();
    let server = Node::builder()
        .on_accept(move |peer, remote| {
            let _ = remotes.send((peer.addr(), remote.to_owned()));
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let raw = tokio::net::TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let (peer_addr, remote) = accepted_from.next().await;
    assert_eq!(remote, raw.local_addr().expect("local addr").to_string());
    assert_eq!(peer_addr, remote);
}

#[test]
fn close_from_outside_the_runtime_does_not_panic() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (peer, _server) = runtime.block_on(async {
        let (server, listener) = echo_server();
        let peer = Node::builder().build().connect(&addr(&listener)).await;
        peer.call(1, "x").await.expect("call");
        (peer, server)
    });
    peer.close();
    assert!(peer.is_closed());
}
