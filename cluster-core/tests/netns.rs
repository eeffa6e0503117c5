//! Nodes on two hosts: two network namespaces joined by a veth pair, each
//! node's sockets made in its own namespace (a thread that has entered a
//! namespace makes its sockets there). The link between them is cut and
//! restored under calls.
//!
//! Needs root and iproute2's `ip`; skipped, saying why, where namespaces
//! cannot be made.

mod support;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cluster_core::{Error, Limits, Node, Request};
use support::remote::RemoteNode;
use support::{events, observed_node, spawn_calls};

/// The server's host address. The only addresses besides 127.0.0.1 that
/// the tests use, and only inside their own namespaces.
const SERVER_HOST: &str = "10.199.0.2";
const CLIENT_HOST: &str = "10.199.0.1";

/// Two namespaces joined by a veth pair, removed on drop (also when a test
/// fails): deleting a namespace deletes its end of the pair, and the pair
/// with it.
struct Hosts {
    client: String,
    server: String,
}

/// Runs `ip` with `args`; the error says what failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Makes the two hosts, or says why they cannot be made here.
    fn create() -> Result<Self, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        static RUN: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::SeqCst)
        );
        let hosts = Self {
            client: format!("cluster-{id}-client"),
            server: format!("cluster-{id}-server"),
        };
        ip(&["netns", "add", &hosts.client])?;
        // From here on, Drop cleans up whatever was made.
        ip(&["netns", "add", &hosts.server])?;
        ip(&[
            "link",
            "add",
            "veth0",
            "netns",
            &hosts.client,
            "type",
            "veth",
            "peer",
            "name",
            "veth0",
            "netns",
            &hosts.server,
        ])?;
        for (ns, addr) in [(&hosts.client, CLIENT_HOST), (&hosts.server, SERVER_HOST)] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                "veth0",
            ])?;
            ip(&["-n", ns, "link", "set", "veth0", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// Takes the client's end of the link down: packets stop, and neither
    /// side is told (no FIN, no RST).
    fn cut(&self) {
        ip(&["-n", &self.client, "link", "set", "veth0", "down"]).expect("cut the link");
    }

    fn restore(&self) {
        ip(&["-n", &self.client, "link", "set", "veth0", "up"]).expect("restore the link");
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.client, &self.server] {
            let _ = ip(&["netns", "delete", ns]);
        }
    }
}

/// Moves the calling thread into namespace `name`; the sockets it makes
/// from then on live there. Other threads are not affected.
fn enter(name: &str) {
    let ns = File::open(format!("/var/run/netns/{name}")).expect("namespace file");
    // SAFETY: setns only reads the descriptor, which outlives the call.
    let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Runs `test` on a current-thread runtime in a new thread that has
/// entered namespace `name`.
fn on_host<F: Future<Output = ()> + 'static>(
    name: &str,
    test: impl FnOnce() -> F + Send + 'static,
) {
    let name = name.to_owned();
    let thread = std::thread::spawn(move || {
        enter(&name);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(test());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

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
