//! Nodes on two hosts: two network namespaces joined by a veth pair, each
//! node's sockets made in its own namespace (a thread that has entered a
//! namespace makes its sockets there). The link between them is cut and
//! restored under calls.
//!
//! Needs root and iproute2's `ip`; skipped, saying why, where namespaces
//! cannot be made.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cluster_core::{Error, Limits, Node, Request};
use support::hosts::{Hosts, SERVER_HOST, enter, on_host};
use support::remote::RemoteNode;
use support::{events, observed_node, spawn_calls};

/// Limits that declare a silent peer dead after a second.
fn quick_to_declare_dead() -> Limits {
    let mut limits = Limits::default();
    limits.dead_peer_timeout = Some(DEAD_PEER);
    limits
}

const DEAD_PEER: Duration = Duration::from_secs(1);

#[test]
fn calls_across_hosts_fail_clearly_while_the_link_is_cut_and_resume_when_it_is_back() {
    let hosts = match Hosts::create() {
        Ok(hosts) => Arc::new(hosts),
        Err(why) => {
            eprintln!("skipped: network namespaces cannot be made here: {why}");
            return;
        }
    };
    let (arrived, mut arrivals) = events();
    let (server_closed, mut server_closes) = events();
    let server_ns = hosts.server.clone();
    let server = RemoteNode::start(&format!("{SERVER_HOST}:0"), move || {
        enter(&server_ns);
        Node::builder()
            .limits(quick_to_declare_dead())
            .on_close(move |_, error| {
                let _ = server_closed.send(error.to_string());
            })
            .handler(move |req: Request| {
                let arrived = arrived.clone();
                async move {
                    // Command 2 is never answered: it stays pending.
                    if req.cmd == 2 {
                        let _ = arrived.send(());
                        std::future::pending::<()>().await;
                    }
                    Some(req.body)
                }
            })
            .build()
    });
    let addr = server.addr().to_owned();
    let server = Arc::new(server);

    let (client_hosts, server_node) = (hosts.clone(), server.clone());
    on_host(&hosts.client, move || async move {
        let (hosts, server) = (client_hosts, server_node);
        // Calls would time out long after the peer is declared dead.
        let (client, _, mut closes) = observed_node(
            Node::builder()
                .timeout(DEAD_PEER * 8)
                .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
                .limits(quick_to_declare_dead()),
        );
        let peer = client.connect(&addr).await;
        assert_eq!(peer.call(1, "across").await.expect("call"), "across");
        let pending = spawn_calls(&peer, 10, 2, "pending");
        for _ in 0..10 {
            arrivals.next().await;
        }

        // No FIN, no RST: only the silence tells the peer is gone.
        hosts.cut();
        for call in pending {
            let result = call.await.expect("task");
            assert!(matches!(result, Err(Error::Closed)), "pending: {result:?}");
        }
        let (_, reason) = closes.next().await;
        assert!(matches!(reason, Error::Io(_)), "client closed for {reason}");
        let reason = server_closes.next().await;
        assert!(reason.starts_with("io: "), "server closed for {reason}");
        assert_eq!(
            server.node().stats().connections,
            0,
            "the server let go too"
        );
        let error = peer.call(1, "while cut").await.unwrap_err();
        assert!(matches!(error, Error::Connect { .. }), "while cut: {error}");

        hosts.restore();
        // The peer backs off after the failed connect, then dials again.
        let reply = support::call_once_reachable(&peer, 1, "back").await;
        assert_eq!(reply, "back");
        assert_eq!(server.node().stats().connections, 1, "the peer reconnected");
    });
}
