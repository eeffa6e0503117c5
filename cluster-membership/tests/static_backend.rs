//! The static backend and calls by name and by group, with no etcd: nodes
//! of one process registering in one directory, and a directory file that
//! is re-read when it changes.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_membership::{Error, Membership, Policy, Selector, StaticDirectory};
use support::{GATED, Named, WHO, record, until};

const LIMIT: Duration = Duration::from_secs(5);

/// A node named `name`, registered in `dir`.
async fn register(dir: &StaticDirectory, name: &str) -> (Named, Membership) {
    support::register(dir.clone(), name, "127.0.0.1").await
}

async fn observer(dir: &StaticDirectory) -> Membership {
    support::observer(dir.clone()).await
}

fn who() -> Bytes {
    Bytes::new()
}

#[tokio::test]
async fn registration_appears_in_every_watch_and_shutdown_removes_it() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let mut watch = me.watch();
    let (_node, a) = register(&dir, "a").await;
    until(&mut watch, LIMIT, "a registered", |d| d.get("a").is_some()).await;
    let seen = me.directory();
    let a_record = seen.get("a").expect("a");
    assert_eq!(a_record.role.as_deref(), Some("echo"));
    assert!(a_record.serves("Echo"));

    a.shutdown().await;
    until(&mut watch, LIMIT, "a deregistered", |d| {
        d.get("a").is_none()
    })
    .await;
    assert!(matches!(
        a.named("a").call(WHO, who(), None).await,
        Err(Error::Shutdown)
    ));
}

#[tokio::test]
async fn node_shutdown_leaves_the_directory() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let mut watch = me.watch();
    let (a, _membership) = register(&dir, "a").await;
    until(&mut watch, LIMIT, "a registered", |d| d.get("a").is_some()).await;
    let served_when_gone = a.node.clone();
    let shutdown = tokio::spawn(async move { a.node.shutdown(Duration::from_millis(50)).await });
    until(
        &mut watch,
        LIMIT,
        "a deregistered by the node's shutdown",
        |d| d.get("a").is_none(),
    )
    .await;
    shutdown.await.expect("shutdown");
    assert_eq!(served_when_gone.stats().connections, 0);
    assert!(matches!(
        me.named("a").call(WHO, who(), None).await,
        Err(Error::NoNode { .. })
    ));
}

#[tokio::test]
async fn a_name_is_claimed_once() {
    let dir = StaticDirectory::default();
    let (first, _a) = register(&dir, "a").await;
    let other = Named::start("a");
    let refused = Membership::builder(other.node.clone())
        .backend(dir.clone())
        .register(record("a", &other.addr()))
        .build()
        .await;
    match refused {
        Err(Error::NameTaken { name, holder }) => {
            assert_eq!(name, "a");
            assert_eq!(holder, first.addr());
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second node took the name"),
    }
    assert_eq!(
        dir.directory().get("a").map(|r| r.addr.clone()),
        Some(first.addr())
    );
}

#[tokio::test]
async fn a_call_by_name_follows_the_node_to_its_new_address() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let target = me.named("a");
    let (old, a) = register(&dir, "a").await;
    assert_eq!(target.call(WHO, who(), None).await.unwrap(), "a");

    a.shutdown().await;
    old.listener.close();
    let (new, _a) = register(&dir, "a").await;
    assert_ne!(old.addr(), new.addr());
    assert_eq!(target.call(WHO, who(), None).await.unwrap(), "a");
    assert_eq!(
        new.node.stats().connections,
        1,
        "the call went to the new address"
    );
}

#[tokio::test]
async fn a_call_to_a_missing_node_fails_at_once() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let started = Instant::now();
    let err = me.named("nobody").call(WHO, who(), None).await.unwrap_err();
    assert!(
        matches!(&err, Error::NoNode { name } if name == "nobody"),
        "{err}"
    );
    assert_eq!(err.to_string(), "no node named \"nobody\" in the directory");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(matches!(
        me.group(Selector::role("nobody")).send(WHO, who()).await,
        Err(Error::NoMember { group }) if group == "role=nobody"
    ));
}

#[tokio::test]
async fn a_waiting_call_waits_for_the_node_up_to_its_timeout() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let started = Instant::now();
    let err = me
        .named("late")
        .wait()
        .call(WHO, who(), Some(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoNode { .. }), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let call = tokio::spawn({
        let target = me.named("late").wait();
        async move { target.call(WHO, who(), Some(LIMIT)).await }
    });
    let (_late, _m) = register(&dir, "late").await;
    assert_eq!(call.await.unwrap().unwrap(), "late");
}

#[tokio::test]
async fn a_waiting_call_ends_when_its_membership_shuts_down() {
    let dir = StaticDirectory::default();
    let me = observer(&dir).await;
    let call = tokio::spawn({
        let target = me.named("never").wait();
        async move { target.call(WHO, who(), Some(Duration::from_secs(60))).await }
    });
    me.shutdown().await;
    let result = tokio::time::timeout(LIMIT, call)
        .await
        .expect("the call ended at the shutdown, not at its timeout")
        .unwrap();
    assert!(matches!(result, Err(Error::Shutdown)), "{result:?}");
}

#[tokio::test]
async fn round_robin_takes_each_member_in_turn() {
    let dir = StaticDirectory::default();
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(register(&dir, name).await);
    }
    let me = observer(&dir).await;
    let group = me.group(Selector::service("Echo"));
    let mut served: HashMap<Bytes, usize> = HashMap::new();
    for _ in 0..30 {
        *served
            .entry(group.call(WHO, who(), None).await.unwrap())
            .or_default() += 1;
    }
    assert_eq!(served.len(), 3);
    assert!(served.values().all(|&n| n == 10), "{served:?}");
}

#[tokio::test]
async fn a_key_goes_to_one_member_and_only_its_keys_move_when_it_leaves() {
    let dir = StaticDirectory::default();
    let mut nodes = HashMap::new();
    for name in ["a", "b", "c", "d"] {
        nodes.insert(name, register(&dir, name).await);
    }
    let me = observer(&dir).await;
    let group = me.group(Selector::role("echo"));
    let mut owners = HashMap::new();
    for key in 0..40 {
        let keyed = group.by_key(format!("player-{key}"));
        let first = keyed.call(WHO, who(), None).await.unwrap();
        assert_eq!(keyed.call(WHO, who(), None).await.unwrap(), first);
        assert_eq!(
            keyed.member().map(|r| r.name.clone()).as_deref(),
            std::str::from_utf8(&first).ok()
        );
        owners.insert(key, first);
    }
    let (_, leaving) = nodes.remove("b").expect("b");
    leaving.shutdown().await;
    for (key, was) in owners {
        let now = group
            .by_key(format!("player-{key}"))
            .call(WHO, who(), None)
            .await
            .unwrap();
        if was != "b" {
            assert_eq!(now, was, "key {key} moved though its member stayed");
        }
        assert_ne!(now, "b");
    }
}

#[tokio::test]
async fn least_in_flight_avoids_the_busy_member() {
    let dir = StaticDirectory::default();
    let (busy, _a) = register(&dir, "a").await;
    let (_idle, _b) = register(&dir, "b").await;
    let me = observer(&dir).await;
    let group = me
        .group(Selector::role("echo"))
        .policy(Policy::LeastInFlight);
    // Both peers open, then three calls held on "a".
    assert_eq!(me.named("a").call(WHO, who(), None).await.unwrap(), "a");
    assert_eq!(me.named("b").call(WHO, who(), None).await.unwrap(), "b");
    let held: Vec<_> = (0..3)
        .map(|_| {
            let a = me.named("a");
            tokio::spawn(async move { a.call(GATED, who(), None).await })
        })
        .collect();
    let peer = me.node().connect(&busy.addr()).await;
    let deadline = Instant::now() + LIMIT;
    while peer.pending_calls() < 3 {
        assert!(Instant::now() < deadline, "held calls never pending");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..5 {
        assert_eq!(group.call(WHO, who(), None).await.unwrap(), "b");
    }
    busy.gate.add_permits(3);
    for call in held {
        assert_eq!(call.await.unwrap().unwrap(), "a");
    }
}

#[tokio::test]
async fn a_group_call_skips_a_member_that_cannot_be_reached() {
    let dir = StaticDirectory::default();
    let (gone, _a) = register(&dir, "a").await;
    let (_b, _bm) = register(&dir, "b").await;
    // "a" is still listed but no longer listening: its process died.
    gone.listener.close();
    let me = observer(&dir).await;
    let group = me.group(Selector::service("Echo"));
    for _ in 0..6 {
        assert_eq!(group.call(WHO, who(), None).await.unwrap(), "b");
    }
    let err = me.named("a").call(WHO, who(), None).await.unwrap_err();
    assert!(
        matches!(err, Error::Call(cluster_core::Error::Connect { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn a_directory_file_is_reloaded_when_it_changes() {
    let dir_path = std::env::temp_dir().join(format!("cluster-membership-{}", std::process::id()));
    std::fs::create_dir_all(&dir_path).unwrap();
    let path = dir_path.join("nodes.json");
    let a = Named::start("a");
    let b = Named::start("b");
    let entry = |name: &str, addr: &str| {
        format!(
            r#"{{"name":"{name}","addr":"{addr}","services":[{{"name":"Echo","commands":[["who",{WHO}]]}}]}}"#
        )
    };
    std::fs::write(&path, format!(r#"{{"nodes":[{}]}}"#, entry("a", &a.addr()))).unwrap();
    let dir = StaticDirectory::from_file(&path, Duration::from_millis(20))
        .await
        .unwrap();
    let me = observer(&dir).await;
    let mut watch = me.watch();
    assert_eq!(me.named("a").call(WHO, who(), None).await.unwrap(), "a");
    assert!(matches!(
        me.named("b").call(WHO, who(), None).await,
        Err(Error::NoNode { .. })
    ));

    std::fs::write(
        &path,
        format!(
            r#"{{"nodes":[{},{}]}}"#,
            entry("a", &a.addr()),
            entry("b", &b.addr())
        ),
    )
    .unwrap();
    until(&mut watch, LIMIT, "b added from the file", |d| {
        d.get("b").is_some()
    })
    .await;
    assert_eq!(me.named("b").call(WHO, who(), None).await.unwrap(), "b");

    // Whether or not the poller reads the bad edit in between, the next
    // good one applies.
    std::fs::write(&path, "{\"nodes\": [").unwrap();
    std::fs::write(&path, format!(r#"{{"nodes":[{}]}}"#, entry("b", &b.addr()))).unwrap();
    until(&mut watch, LIMIT, "a removed from the file", |d| {
        d.get("a").is_none()
    })
    .await;
    assert_eq!(me.directory().len(), 1);
    std::fs::remove_dir_all(&dir_path).unwrap();
}

#[tokio::test]
async fn a_bad_directory_file_is_refused_with_the_reason() {
    let missing =
        StaticDirectory::from_file("/nonexistent/nodes.json", Duration::from_secs(1)).await;
    assert!(matches!(missing, Err(Error::File { .. })));
    let path = std::env::temp_dir().join(format!(
        "cluster-membership-bad-{}.json",
        std::process::id()
    ));
    for (text, says) in [
        ("7", "invalid type"),
        (r#"{"nodes":[{"name":"a"}]}"#, "addr"),
        (
            r#"{"nodes":[{"name":"a","addr":"x:1"},{"name":"a","addr":"x:2"}]}"#,
            "listed twice",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = StaticDirectory::from_file(&path, Duration::from_secs(1))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{text}: {err:?} should say {says:?}");
    }
    std::fs::remove_file(&path).unwrap();
}
