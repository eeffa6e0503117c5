//! Membership across two hosts (network namespaces joined by a veth pair),
//! etcd on the server's host. The link is cut: the client's lease expires,
//! the server's directory loses it; the link comes back: the client finds
//! its lease gone, claims its name again, and both see each other.
//!
//! Needs root, iproute2's `ip` and etcd; skipped, saying why, otherwise.
#![cfg(feature = "etcd")]

#[path = "../../cluster-core/tests/support/hosts.rs"]
mod hosts;
mod support;

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use bytes::Bytes;
use cluster_membership::{Error, EtcdOptions, Membership};
use hosts::{CLIENT_HOST, Hosts, SERVER_HOST, enter, on_host};
use support::etcd::{Etcd, free_port};
use support::{WHO, register, until, who};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

const TTL: Duration = Duration::from_secs(2);
const LIMIT: Duration = Duration::from_secs(30);

fn options(url: &str) -> EtcdOptions {
    EtcdOptions::new([url], "netns").ttl(TTL)
}

/// Two free ports on the server's host.
fn server_ports(ns: &str) -> (u16, u16) {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter(&ns);
        (free_port(SERVER_HOST), free_port(SERVER_HOST))
    })
    .join()
    .expect("ports on the server host")
}

/// The server's node and membership, running on a runtime in a thread of
/// the server's host until `stop` is sent.
struct ServerHost {
    members: Membership,
    runtime: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl ServerHost {
    fn start(ns: &str, url: &str) -> Self {
        let (ns, url) = (ns.to_owned(), url.to_owned());
        let (started, starting) = std_mpsc::channel();
        std::thread::spawn(move || {
            enter(&ns);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (_named, members) = register(options(&url), "server", SERVER_HOST).await;
                let (stop, stopped) = oneshot::channel();
                let _ = started.send((members.clone(), Handle::current(), stop));
                let _ = stopped.await;
                members.shutdown().await;
            });
        });
        let (members, runtime, stop) = starting.recv().expect("server host started");
        Self {
            members,
            runtime,
            stop: Some(stop),
        }
    }

    /// Calls node `name` by name from the server's host.
    async fn call(&self, name: &str) -> Result<Bytes, Error> {
        let target = self.members.named(name);
        self.runtime
            .spawn(async move { target.call(WHO, Bytes::new(), None).await })
            .await
            .expect("call task")
    }
}

impl Drop for ServerHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[test]
fn a_cut_host_leaves_the_directory_and_rejoins_when_the_link_is_back() {
    let hosts = match Hosts::create() {
        Ok(hosts) => Arc::new(hosts),
        Err(why) => {
            println!("skipped: network namespaces cannot be made here: {why}");
            return;
        }
    };
    let ports = server_ports(&hosts.server);
    let client_hosts = hosts.clone();
    on_host(&hosts.client, move || async move {
        let hosts = client_hosts;
        let test = "a_cut_host_leaves_the_directory_and_rejoins_when_the_link_is_back";
        let Some(etcd) = Etcd::start_at(test, SERVER_HOST, Some(&hosts.server), ports).await else {
            return;
        };
        let url = etcd.url();
        let server = ServerHost::start(&hosts.server, &url);
        let (_client, client) = register(options(&url), "client", CLIENT_HOST).await;
        let mut client_view = client.watch();
        let mut server_view = server.members.watch();
        until(&mut client_view, LIMIT, "the client sees the server", |d| {
            d.get("server").is_some()
        })
        .await;
        until(&mut server_view, LIMIT, "the server sees the client", |d| {
            d.get("client").is_some()
        })
        .await;
        assert_eq!(who(&client.named("server")).await.unwrap(), "server");
        assert_eq!(server.call("client").await.unwrap(), "client");

        hosts.cut();
        // The client's keep-alives no longer reach etcd: its lease expires
        // and the server's directory drops it. The client keeps its last
        // directory meanwhile.
        until(
            &mut server_view,
            TTL + LIMIT,
            "the cut client expired",
            |d| d.get("client").is_none(),
        )
        .await;
        assert!(matches!(
            server.call("client").await,
            Err(Error::NoNode { .. })
        ));
        assert!(
            client.directory().get("server").is_some(),
            "the client kept its directory"
        );

        hosts.restore();
        // Its lease is gone: the client claims its name again on a new one.
        until(
            &mut server_view,
            LIMIT,
            "the client registered again",
            |d| d.get("client").is_some(),
        )
        .await;
        assert_eq!(server.call("client").await.unwrap(), "client");
        assert_eq!(who(&client.named("server")).await.unwrap(), "server");
        client.shutdown().await;
        until(&mut server_view, LIMIT, "the client deregistered", |d| {
            d.get("client").is_none()
        })
        .await;
        drop(server);
        drop(etcd);
    });
}
