//! The etcd backend against a real etcd (Debian's etcd-server, 3.4),
//! started by each test on free loopback ports. Without an etcd binary each
//! test says so in one line and passes.
#![cfg(feature = "etcd")]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_membership::{Error, EtcdOptions, Membership, NodeRecord, Selector, layout};
use support::etcd::Etcd;
use support::{Named, WHO, record, until};

const CLUSTER: &str = "test";
/// etcd 3.4's smallest lease TTL with its default timing: shorter asks
/// are raised to it.
const TTL: Duration = Duration::from_secs(2);
const LIMIT: Duration = Duration::from_secs(10);

fn options(etcd: &Etcd) -> EtcdOptions {
    EtcdOptions::new([etcd.url()], CLUSTER).ttl(TTL)
}

async fn register(etcd: &Etcd, name: &str) -> (Named, Membership) {
    support::register(options(etcd), name, "127.0.0.1").await
}

async fn observer(etcd: &Etcd) -> Membership {
    support::observer(options(etcd)).await
}

async fn raw_value(etcd: &Etcd, name: &str) -> Option<Vec<u8>> {
    let reply = etcd
        .client()
        .await
        .get(layout::node_key(CLUSTER, name), None)
        .await
        .expect("etcd get");
    reply.kvs().first().map(|kv| kv.value().to_vec())
}

#[tokio::test]
async fn register_puts_the_documented_record_and_shutdown_revokes_it() {
    let Some(etcd) =
        Etcd::start("register_puts_the_documented_record_and_shutdown_revokes_it").await
    else {
        return;
    };
    let me = observer(&etcd).await;
    let mut watch = me.watch();
    let (node, a) = register(&etcd, "a").await;
    until(&mut watch, LIMIT, "a registered", |d| d.get("a").is_some()).await;

    let value = raw_value(&etcd, "a").await.expect("a's key");
    let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
    assert_eq!(json["addr"], node.addr());
    assert_eq!(json["services"][0]["name"], "Echo");
    assert_eq!(
        json["services"][0]["commands"][0],
        serde_json::json!(["who", WHO])
    );
    assert_eq!(json["wire"], "v1");
    assert_eq!(json["role"], "echo");
    assert!(json["epoch"].as_u64().unwrap() > 0);
    assert_eq!(
        me.named("a").call(WHO, Bytes::new(), None).await.unwrap(),
        "a"
    );

    // Records another tool wrote badly are skipped; the rest stay.
    let mut raw = etcd.client().await;
    for (name, value) in [("garbage", "not json"), ("no-addr", r#"{"wire":"v1"}"#)] {
        raw.put(layout::node_key(CLUSTER, name), value, None)
            .await
            .unwrap();
    }
    raw.put(
        layout::node_key(CLUSTER, "lua-1"),
        r#"{"addr":"127.0.0.1:1"}"#,
        None,
    )
    .await
    .unwrap();
    until(
        &mut watch,
        LIMIT,
        "the good record written after them",
        |d| d.get("lua-1").is_some(),
    )
    .await;
    let names: Vec<String> = me.directory().names().map(str::to_owned).collect();
    assert_eq!(names, ["a", "lua-1"]);

    let started = Instant::now();
    a.shutdown().await;
    // Revoked, not expired: gone at once, not after the TTL.
    assert_eq!(raw_value(&etcd, "a").await, None);
    until(&mut watch, LIMIT, "a deregistered", |d| {
        d.get("a").is_none()
    })
    .await;
    assert!(started.elapsed() < TTL, "took {:?}", started.elapsed());
    assert!(matches!(
        me.named("a").call(WHO, Bytes::new(), None).await,
        Err(Error::NoNode { .. })
    ));
    me.shutdown().await;
}

#[tokio::test]
async fn a_name_held_by_another_node_is_refused() {
    let Some(etcd) = Etcd::start("a_name_held_by_another_node_is_refused").await else {
        return;
    };
    let (first, _a) = register(&etcd, "a").await;
    let other = Named::start("a");
    let refused = Membership::builder(other.node.clone())
        .backend(options(&etcd))
        .register(record("a", &other.addr()))
        .build()
        .await;
    match refused {
        Err(Error::NameTaken { name, holder }) => {
            assert_eq!((name, holder), ("a".into(), first.addr()))
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second node took the name"),
    }
    let value = raw_value(&etcd, "a").await.expect("a's key");
    let kept = NodeRecord::from_json("a", &value).unwrap();
    assert_eq!(
        kept.addr,
        first.addr(),
        "the holder's record was not touched"
    );
}

/// Set in the environment of [`child_node_process`] run as a process of
/// its own: `<etcd url> <node name>`.
const CHILD_ENV: &str = "CLUSTER_MEMBERSHIP_CHILD";

/// Not a test by itself: the SIGKILL test runs this test binary again with
/// only this test, as a node process it can kill.
#[tokio::test]
#[ignore = "run by a_killed_node_leaves_the_directory_within_ttl as its own process"]
async fn child_node_process() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, name) = args.split_once(' ').expect("<url> <name>");
    let (named, _members) =
        support::register(EtcdOptions::new([url], CLUSTER).ttl(TTL), name, "127.0.0.1").await;
    println!("ready {}", named.addr());
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_killed_node_leaves_the_directory_within_ttl_and_its_group_carries_on() {
    let Some(etcd) = Etcd::start("a_killed_node_leaves_the_directory_within_ttl").await else {
        return;
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_node_process", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, format!("{} victim", etcd.url()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the node process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("ready "))
        .expect("the node process registered");
    let victim_addr = ready.trim_start_matches("ready ").to_owned();

    let (_survivor, _s) = register(&etcd, "survivor").await;
    let me = observer(&etcd).await;
    let mut watch = me.watch();
    until(&mut watch, LIMIT, "both registered", |d| d.len() == 2).await;
    assert_eq!(me.directory().get("victim").unwrap().addr, victim_addr);
    let group = me.group(Selector::service("Echo"));
    let mut served = std::collections::HashSet::new();
    for _ in 0..4 {
        served.insert(group.call(WHO, Bytes::new(), None).await.unwrap());
    }
    assert_eq!(served.len(), 2, "both members served");

    child.kill().expect("SIGKILL the node process");
    child.wait().expect("reap it");
    let killed = Instant::now();

    // Still listed until its lease expires, but calls do not wait for that:
    // by name they fail at once, by group they go to the survivor.
    let started = Instant::now();
    let err = me.named("victim").call(WHO, Bytes::new(), None).await;
    assert!(err.is_err(), "a call reached a killed process");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed after {:?}",
        started.elapsed()
    );
    for _ in 0..4 {
        assert_eq!(
            group.call(WHO, Bytes::new(), None).await.unwrap(),
            "survivor"
        );
    }

    until(
        &mut watch,
        TTL + Duration::from_secs(1),
        "the killed node removed",
        |d| d.get("victim").is_none(),
    )
    .await;
    assert!(killed.elapsed() <= TTL + Duration::from_secs(1));
    assert!(matches!(
        me.named("victim").call(WHO, Bytes::new(), None).await,
        Err(Error::NoNode { .. })
    ));
}

#[tokio::test]
async fn an_etcd_restart_leaves_no_stale_entries_and_watches_resume() {
    let Some(mut etcd) =
        Etcd::start("an_etcd_restart_leaves_no_stale_entries_and_watches_resume").await
    else {
        return;
    };
    let (_a, a) = register(&etcd, "a").await;
    let (_b, b) = register(&etcd, "b").await;
    let me = observer(&etcd).await;
    let mut watch = me.watch();
    until(&mut watch, LIMIT, "a and b registered", |d| d.len() == 2).await;

    etcd.kill();
    // etcd is gone: calls between known nodes carry on.
    for _ in 0..3 {
        assert_eq!(
            me.named("a").call(WHO, Bytes::new(), None).await.unwrap(),
            "a"
        );
    }
    assert_eq!(me.directory().len(), 2, "the last directory stays in force");
    // "b" dies while etcd is away: nobody can revoke its lease.
    drop(b);

    etcd.restart().await;
    let (_c, _cm) = register(&etcd, "c").await;
    until(
        &mut watch,
        LIMIT,
        "the watch sees c, registered after the restart",
        |d| d.get("c").is_some(),
    )
    .await;
    until(
        &mut watch,
        LIMIT + TTL,
        "b's lease expires after the restart",
        |d| d.get("b").is_none(),
    )
    .await;
    // "a" kept its lease alive across the restart; two TTLs later it is
    // still there, in etcd and in the directory.
    tokio::time::sleep(TTL * 2).await;
    assert!(
        raw_value(&etcd, "a").await.is_some(),
        "a's lease was kept alive"
    );
    let names: Vec<String> = me.directory().names().map(str::to_owned).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(
        me.named("c").call(WHO, Bytes::new(), None).await.unwrap(),
        "c"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn fifty_nodes_in_one_process() {
    let Some(etcd) = Etcd::start("fifty_nodes_in_one_process").await else {
        return;
    };
    let me = observer(&etcd).await;
    let mut watch = me.watch();
    let mut nodes = Vec::new();
    let joins: Vec<_> = (0..50)
        .map(|i| {
            let url = etcd.url();
            tokio::spawn(async move {
                let options = EtcdOptions::new([url], CLUSTER).ttl(TTL);
                support::register(options, &format!("n{i:02}"), "127.0.0.1").await
            })
        })
        .collect();
    for join in joins {
        nodes.push(join.await.unwrap());
    }
    until(&mut watch, LIMIT, "50 nodes", |d| d.len() == 50).await;
    let group = me.group(Selector::role("echo"));
    let mut served = std::collections::HashSet::new();
    for _ in 0..50 {
        served.insert(group.call(WHO, Bytes::new(), None).await.unwrap());
    }
    assert_eq!(served.len(), 50, "round-robin reached every node once");
    for (_, members) in &nodes {
        members.shutdown().await;
    }
    until(&mut watch, LIMIT, "all 50 deregistered", |d| d.is_empty()).await;
}
