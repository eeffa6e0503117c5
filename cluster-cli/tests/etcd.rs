//! `cluster nodes` and `cluster watch --etcd` against a real etcd (feature
//! `etcd`; skipped with one line where no etcd binary is installed).

#![cfg(feature = "etcd")]

#[allow(dead_code)] // the membership tests use the rest of it
#[path = "../../cluster-membership/tests/support/etcd.rs"]
mod etcd_server;
mod support;

use cluster_core::Node;
use cluster_membership::{EtcdOptions, Membership, NodeRecord, ServiceInfo};
use etcd_client::GetOptions;
use etcd_server::Etcd;
use predicates::str::contains;
use support::{Watch, cluster, refused_addr};

const CLUSTER: &str = "cli";

/// `name` registered in etcd under [`CLUSTER`], until shut down.
async fn register(etcd: &Etcd, name: &str, addr: &str) -> Membership {
    Membership::builder(Node::builder().build())
        .backend(EtcdOptions::new([etcd.url()], CLUSTER))
        .register(
            NodeRecord::new(name, addr)
                .service(ServiceInfo::new("Calc", [("add", 3)]))
                .role("math")
                .epoch(7),
        )
        .build()
        .await
        .expect("register")
}

/// Every key etcd holds.
async fn keys(etcd: &Etcd) -> Vec<String> {
    let reply = etcd
        .client()
        .await
        .get("", Some(GetOptions::new().with_all_keys().with_keys_only()))
        .await
        .expect("read etcd");
    reply
        .kvs()
        .iter()
        .map(|kv| kv.key_str().expect("UTF-8 key").to_owned())
        .collect()
}

#[test]
fn nodes_and_watch_read_etcd_without_registering() {
    // The registered nodes' lease keepers run on it while the test thread
    // runs the command.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let test = "nodes_and_watch_read_etcd_without_registering";
    let Some(etcd) = runtime.block_on(Etcd::start(test)) else {
        return;
    };
    let calc = runtime.block_on(register(&etcd, "calc-1", "127.0.0.1:9001"));
    let url = etcd.url();
    let line = "calc-1 127.0.0.1:9001 v1 role=math services=Calc(add=3) epoch=7";
    cluster()
        .args(["nodes", "--etcd", &url, "--cluster", CLUSTER])
        .assert()
        .success()
        .stdout(format!("{line}\n"));
    assert_eq!(runtime.block_on(keys(&etcd)), ["/cluster/cli/nodes/calc-1"]);

    let watch = Watch::spawn(&["--etcd", &url, "--cluster", CLUSTER, "--count", "1"]);
    assert_eq!(watch.line(), line);
    let lua = runtime.block_on(register(&etcd, "lua-1", "127.0.0.1:9002"));
    assert_eq!(
        watch.line(),
        "joined lua-1 127.0.0.1:9002 v1 role=math services=Calc(add=3) epoch=7"
    );
    watch.exits();
    assert_eq!(
        runtime.block_on(keys(&etcd)),
        ["/cluster/cli/nodes/calc-1", "/cluster/cli/nodes/lua-1"]
    );
    runtime.block_on(async {
        lua.shutdown().await;
        calc.shutdown().await;
    });
}

#[test]
fn an_unreachable_etcd_exits_1_naming_it() {
    let url = format!("http://{}", refused_addr());
    cluster()
        .args(["nodes", "--etcd", &url])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains(format!(
            "cluster: cannot read the directory from {url}: etcd: "
        )));
}
