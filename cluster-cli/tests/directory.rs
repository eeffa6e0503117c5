//! `cluster nodes` and `cluster watch` on a static directory file.

mod support;

use std::path::Path;

use predicates::str::contains;
use support::{Watch, cluster};

const TWO_NODES: &str = r#"{"nodes": [
  {"name": "calc-1", "addr": "127.0.0.1:9001", "role": "math", "epoch": 5,
   "services": [{"name": "Calc", "commands": [["add", 3], ["log", 2147483650]]}]},
  {"name": "lua-1", "addr": "127.0.0.1:9002", "wire": "v2", "caps": ["trace"]}
]}"#;

/// Replaces `path`'s contents at once, so the poller never reads half a file.
fn write_file(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).expect("write the directory file");
    std::fs::rename(&next, path).expect("replace the directory file");
}

fn directory_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nodes.json");
    write_file(&path, text);
    let path = path.to_str().expect("UTF-8 temp path").to_owned();
    (dir, path)
}

#[test]
fn nodes_prints_one_line_per_node() {
    let (_dir, file) = directory_file(TWO_NODES);
    cluster()
        .args(["nodes", "--static", &file])
        .assert()
        .success()
        .stdout(
            "calc-1 127.0.0.1:9001 v1 role=math services=Calc(add=3,log=2147483650) epoch=5\n\
             lua-1 127.0.0.1:9002 v2 role=- services=- epoch=0 caps=trace\n",
        );
}

#[test]
fn nodes_json_is_a_directory_file_that_reads_back() {
    let (dir, file) = directory_file(TWO_NODES);
    let out = cluster()
        .args(["nodes", "--static", &file, "--json"])
        .output()
        .expect("run cluster");
    assert!(out.status.success(), "{out:?}");
    let json = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(
        json,
        concat!(
            r#"{"nodes":[{"name":"calc-1","addr":"127.0.0.1:9001","services":[{"name":"Calc","commands":[["add",3],["log",2147483650]]}],"wire":"v1","caps":[],"epoch":5,"role":"math"},"#,
            r#"{"name":"lua-1","addr":"127.0.0.1:9002","services":[],"wire":"v2","caps":["trace"],"epoch":0}]}"#,
            "\n"
        )
    );
    let copy = dir.path().join("copy.json");
    write_file(&copy, &json);
    let copy = copy.to_str().expect("UTF-8 temp path");
    let again = cluster()
        .args(["nodes", "--static", copy, "--json"])
        .output();
    assert_eq!(again.expect("run cluster").stdout, json.as_bytes());
}

#[test]
fn an_empty_directory_prints_nothing_and_says_so() {
    let (_dir, file) = directory_file(r#"{"nodes": []}"#);
    cluster()
        .args(["nodes", "--static", &file])
        .assert()
        .success()
        .stdout("")
        .stderr(format!("no nodes in {file}\n"));
}

#[test]
fn a_bad_file_exits_1_saying_why() {
    let (dir, file) = directory_file(r#"{"nodes": [{"name": "a"}]}"#);
    cluster()
        .args(["nodes", "--static", &file])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains(format!(
            "cluster: directory file {file}: missing field `addr`"
        )));
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().expect("UTF-8 temp path");
    cluster()
        .args(["watch", "--static", missing])
        .assert()
        .code(1)
        .stderr(contains(format!("cluster: directory file {missing}: ")));
}

#[test]
fn a_source_is_required_and_only_one() {
    cluster().args(["nodes"]).assert().code(2);
    cluster()
        .args([
            "nodes",
            "--static",
            "a.json",
            "--etcd",
            "http://127.0.0.1:2379",
        ])
        .assert()
        .code(2);
    cluster()
        .args(["watch", "--static", "a.json", "--count", "0"])
        .assert()
        .code(2);
}

#[cfg(not(feature = "etcd"))]
#[test]
fn etcd_needs_the_feature() {
    cluster()
        .args(["nodes", "--etcd", "http://127.0.0.1:2379"])
        .assert()
        .code(2)
        .stderr(contains("built with feature etcd"));
}

#[test]
fn watch_json_reports_a_change_to_the_file_then_exits_at_count() {
    let (dir, file) = directory_file(TWO_NODES);
    let watch = Watch::spawn(&["--static", &file, "--count", "1", "--json"]);
    let first = watch.line();
    assert!(
        first.starts_with(r#"{"event":"directory","nodes":[{"name":"calc-1","#),
        "{first}"
    );
    // calc-1 restarts on another port: a new address and a new epoch.
    write_file(
        &dir.path().join("nodes.json"),
        &TWO_NODES
            .replace("9001", "9003")
            .replace(r#""epoch": 5"#, r#""epoch": 6"#),
    );
    assert_eq!(
        watch.line(),
        concat!(
            r#"{"event":"changed","#,
            r#""node":{"name":"calc-1","addr":"127.0.0.1:9003","services":[{"name":"Calc","commands":[["add",3],["log",2147483650]]}],"wire":"v1","caps":[],"epoch":6,"role":"math"},"#,
            r#""was":{"name":"calc-1","addr":"127.0.0.1:9001","services":[{"name":"Calc","commands":[["add",3],["log",2147483650]]}],"wire":"v1","caps":[],"epoch":5,"role":"math"}}"#
        )
    );
    watch.exits();
}

#[test]
fn watch_lines_report_joins_and_leaves() {
    let (dir, file) = directory_file(TWO_NODES);
    let watch = Watch::spawn(&["--static", &file, "--count", "2"]);
    assert!(watch.line().starts_with("calc-1 127.0.0.1:9001 "));
    assert!(watch.line().starts_with("lua-1 127.0.0.1:9002 "));
    write_file(
        &dir.path().join("nodes.json"),
        &TWO_NODES.replace(r#""lua-1""#, r#""lua-2""#),
    );
    assert_eq!(
        watch.line(),
        "left lua-1 127.0.0.1:9002 v2 role=- services=- epoch=0 caps=trace"
    );
    assert_eq!(
        watch.line(),
        "joined lua-2 127.0.0.1:9002 v2 role=- services=- epoch=0 caps=trace"
    );
    watch.exits();
}

#[test]
fn ctrl_c_ends_a_watch_cleanly() {
    let (_dir, file) = directory_file(TWO_NODES);
    let watch = Watch::spawn(&["--static", &file, "--json"]);
    assert!(watch.line().starts_with(r#"{"event":"directory","#));
    watch.interrupt();
    watch.exits();
}
