//! `cluster bench` against a Rust node serving silly's interop schema.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use cluster_core::WireFormat;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::Value as Json;
use support::{INTEROP, Server, cluster, refused_addr};

/// Runs `cluster bench ADDR MESSAGE JSON --schema interop.zproto EXTRA.. --json`
/// and returns its exit code and report.
fn bench_json(addr: &str, message: &str, json: &str, extra: &[&str]) -> (i32, Json) {
    let output = cluster()
        .args(["bench", addr, message, json, "--schema", INTEROP])
        .args(extra)
        .arg("--json")
        .output()
        .expect("runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout:?}"));
    (output.status.code().expect("exit code"), report)
}

#[test]
fn counts_every_call_over_several_connections() {
    let server = Server::start(WireFormat::V1);
    let (code, report) = bench_json(
        &server.addr,
        "add",
        r#"{"a":1,"b":2}"#,
        &["-n", "300", "-c", "6", "--conns", "3"],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["calls"], 300);
    assert_eq!(report["ok"], 300);
    assert_eq!(report["failed"], 0);
    assert!(
        report["calls_per_second"].as_f64().is_some_and(|r| r > 0.0),
        "{report}"
    );
    let latency = &report["latency_ms"];
    for key in ["min", "mean", "p50", "p90", "p99", "p99.9", "max"] {
        assert!(latency[key].as_f64().is_some(), "latency {key} in {report}");
    }
    assert!(latency["min"].as_f64() <= latency["p50"].as_f64());
    assert!(latency["p50"].as_f64() <= latency["max"].as_f64());
    assert_eq!(
        server.seen.accepted.load(Ordering::SeqCst),
        3,
        "one connection per --conns"
    );
}

#[test]
fn text_report_shows_rate_percentiles_and_no_errors() {
    let server = Server::start(WireFormat::V2);
    cluster()
        .args([
            "bench",
            &server.addr,
            "ping",
            r#"{"msg":"x"}"#,
            "--schema",
            INTEROP,
            "--wire",
            "v2",
            "-n",
            "50",
        ])
        .assert()
        .success()
        .stdout(
            contains("calls       50 (50 ok, 0 failed)")
                .and(contains("calls/s"))
                .and(contains("p99.9"))
                .and(contains("error").not()),
        );
}

#[test]
fn duration_runs_for_that_long() {
    let server = Server::start(WireFormat::V1);
    let (code, report) = bench_json(&server.addr, "ping", "{}", &["-d", "0.3", "-c", "2"]);
    assert_eq!(code, 0, "{report}");
    assert!(report["ok"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert!(
        report["seconds"].as_f64().is_some_and(|s| s >= 0.3),
        "{report}"
    );
}

#[test]
fn one_way_sends_all_arrive() {
    let server = Server::start(WireFormat::V1);
    let (code, report) = bench_json(&server.addr, "notify", r#"{"message":"n"}"#, &["-n", "40"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], 40);
    assert_eq!(server.wait_notifies(40).len(), 40);
}

#[test]
fn timeouts_are_counted_by_kind_and_fail_the_run() {
    let server = Server::start(WireFormat::V1);
    let (code, report) = bench_json(
        &server.addr,
        "sleep",
        r#"{"ms":60000}"#,
        &["-n", "4", "-c", "4", "--timeout", "200"],
    );
    assert_eq!(code, 1);
    assert_eq!(report["failed"], 4);
    assert_eq!(report["errors"], serde_json::json!({"timeout": 4}));
}

#[test]
fn refused_connection_is_counted_and_fails_the_run() {
    cluster()
        .args([
            "bench",
            &refused_addr(),
            "ping",
            "{}",
            "--schema",
            INTEROP,
            "-n",
            "3",
            "-c",
            "1",
        ])
        .assert()
        .code(1)
        .stdout(contains("error       connect: 3").and(contains("refused")))
        .stderr(contains("3 of 3 calls failed"));
}

#[test]
fn bad_json_is_a_usage_error_before_any_call() {
    cluster()
        .args(["bench", &refused_addr(), "ping", "{", "--schema", INTEROP])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("bad JSON"));
    cluster()
        .args([
            "bench",
            "127.0.0.1:1",
            "ping",
            "{}",
            "--schema",
            INTEROP,
            "-n",
            "5",
            "-d",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

#[test]
fn ctrl_c_ends_the_run_early_with_a_report() {
    let server = Server::start(WireFormat::V1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster"))
        .args([
            "bench",
            &server.addr,
            "ping",
            "{}",
            "--schema",
            INTEROP,
            "-d",
            "600",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The first progress line comes after a second of calls.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a progress line");
    assert!(line.contains("calls"), "{line:?}");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill has no memory effects; pid is our child, still running
    // (it has not exited: its stderr is open and `child` is not reaped).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);

    let (done, finished) = mpsc::channel();
    thread::spawn(move || done.send(child.wait_with_output()));
    let output = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("bench ends soon after Ctrl-C")
        .expect("output");
    assert!(output.status.success(), "{output:?}");
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert!(report["ok"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert!(
        report["seconds"].as_f64().is_some_and(|s| s < 600.0),
        "{report}"
    );
}
