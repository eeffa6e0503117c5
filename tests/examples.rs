//! Every example runs by itself and exits 0. `cargo test` builds the
//! examples before running tests; this runs the binaries it built.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// No example needs more than a few seconds; this bounds a hung one.
const LIMIT: Duration = Duration::from_secs(60);

fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/examples-<hash> → target/<profile>/examples
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples"))
        .expect("target layout")
}

fn example_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

fn binary(name: &str) -> PathBuf {
    let path = examples_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test`, which builds the examples",
        path.display()
    );
    path
}

/// Runs `cmd` to completion within [`LIMIT`].
fn output(mut cmd: Command, what: &str) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{what} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to completion within [`LIMIT`], expecting success; returns
/// its stdout.
fn run(cmd: Command, what: &str) -> String {
    let output = output(cmd, what);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn every_example_runs_and_exits_zero() {
    let names = example_names();
    assert!(names.len() >= 9, "the examples are all there: {names:?}");
    for name in names.iter().filter(|n| *n != "silly_interop") {
        let stdout = run(Command::new(binary(name)), name);
        assert!(!stdout.is_empty(), "{name} prints what it does");
    }
}

/// Kills the server however the test ends.
struct Server(Child);

impl Server {
    /// Starts `silly_interop server 127.0.0.1:0 --wire WIRE`; returns it
    /// with the address it announces once bound.
    fn start(wire: &str) -> (Server, String) {
        let mut cmd = Command::new(binary("silly_interop"));
        cmd.args(["server", "127.0.0.1:0", "--wire", wire]);
        Server::spawn(cmd, "listening on ")
    }

    /// Starts `cmd`; returns it with the rest of the first line of its
    /// stdout that starts with `prefix` (an address it bound).
    fn spawn(mut cmd: Command, prefix: &str) -> (Server, String) {
        let mut server = Server(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn server"),
        );
        let stdout = server.0.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let wanted = prefix.to_owned();
        std::thread::spawn(move || {
            let found = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|line| line.strip_prefix(&wanted).map(str::to_owned));
            let _ = tx.send(found);
        });
        let found = rx.recv_timeout(LIMIT).ok().flatten();
        let addr = found.unwrap_or_else(|| panic!("server announces {prefix:?}"));
        (server, addr)
    }

    /// Waits for the server to exit by itself.
    fn wait(mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < LIMIT, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.0.id()).expect("pid");
        // SAFETY: kill(2) only sends a signal, to a child this test owns.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill");
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn silly_interop_client_passes_every_check_against_its_server_on_both_wires() {
    for wire in ["v1", "v2"] {
        let (server, addr) = Server::start(wire);
        let mut client = Command::new(binary("silly_interop"));
        client.args(["client", &addr, "--wire", wire]);
        let report = run(client, &format!("silly_interop client --wire {wire}"));
        let tally = report.lines().last().unwrap_or_default();
        let passed: u32 = tally
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            tally.ends_with(" passed, 0 failed") && passed >= 16,
            "{wire}:\n{report}"
        );
        let large = report
            .lines()
            .find(|l| l.contains("70000-byte message"))
            .expect("the large message is checked");
        let want = if wire == "v1" {
            "refused locally"
        } else {
            "70000 bytes back exactly"
        };
        assert!(large.contains(want), "{wire}: {large}");
        assert!(
            report.contains("ok    ping with every byte value 0..=255"),
            "{report}"
        );
        let status = server.terminate();
        assert!(
            status.success(),
            "{wire}: server exits cleanly on SIGTERM: {status}"
        );
    }
}

#[test]
fn silly_interop_client_that_cannot_connect_says_so_once_and_fails() {
    // A port that was just free: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();
    let mut client = Command::new(binary("silly_interop"));
    client.args(["client", &addr]);
    let out = output(client, "silly_interop client without a server");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no checks run");
    assert_eq!(
        stderr.matches("cannot reach a server").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// The value of the Prometheus series `series` (name and labels, exactly
/// as rendered) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[test]
fn metrics_example_serves_prometheus_text_counting_every_call() {
    let mut cmd = Command::new(binary("metrics"));
    cmd.args(["--serve", "--scrapes", "1"]);
    let (server, url) = Server::spawn(cmd, "metrics on http://");
    let addr = url.strip_suffix("/metrics").expect("a /metrics url");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let labels = |method: &str| {
        format!("{{rpc_system=\"silly\",rpc_service=\"Calc\",rpc_method=\"{method}\"}}")
    };
    for side in ["server", "client"] {
        let requests = |method| sample(body, &format!("rpc_{side}_requests{}", labels(method)));
        assert_eq!(requests("add"), Some(20.0), "{side}:\n{body}");
        assert_eq!(requests("log"), Some(5.0), "{side}:\n{body}");
        let active = sample(
            body,
            &format!("rpc_{side}_active_requests{}", labels("add")),
        );
        assert_eq!(active, Some(0.0), "{side}:\n{body}");
        let count = sample(body, &format!("rpc_{side}_duration_count{}", labels("add")));
        assert_eq!(count, Some(20.0), "{side}:\n{body}");
    }
    // Nothing failed, so no error series at all.
    assert!(!body.contains("rpc_server_errors"), "{body}");
    assert_eq!(
        sample(body, "cluster_node_connections"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(body, "cluster_node_pending_calls"),
        Some(0.0),
        "{body}"
    );
    // Their exact values are checked in tests/layers.rs: here the last
    // frames may be counted just after the scrape began.
    for direction in ["receive", "transmit"] {
        let labels = format!("{{network_io_direction=\"{direction}\"}}");
        for series in ["cluster_node_network_io", "cluster_node_frames"] {
            let value = sample(body, &format!("{series}{labels}"));
            assert!(value.is_some_and(|v| v > 0.0), "{series}{labels}:\n{body}");
        }
    }
    assert_eq!(
        sample(
            body,
            "cluster_node_limit_hits{limit=\"max_concurrent_requests\"}"
        ),
        Some(0.0),
        "{body}"
    );
    let status = server.wait();
    assert!(
        status.success(),
        "the example exits after its scrape: {status}"
    );
}
