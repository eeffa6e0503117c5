//! Every example runs by itself and exits 0. `cargo test` builds the
//! examples before running tests; this runs the binaries it built.

use std::io::{BufRead, BufReader};
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

/// Runs `cmd` to completion within [`LIMIT`]; returns its stdout.
fn run(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("output");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                status.success(),
                "{what} failed with {status}\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            return stdout;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{what} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn silly_interop_client_passes_every_check_against_its_server() {
    let mut server = Server(
        Command::new(binary("silly_interop"))
            .args(["server", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn server"),
    );
    // The server prints `listening on ADDR` once bound.
    let stdout = server.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(LIMIT)
        .expect("server announces its address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address line");

    let mut client = Command::new(binary("silly_interop"));
    client.args(["client", addr]);
    let report = run(client, "silly_interop client");
    let tally = report.lines().last().unwrap_or_default();
    let passed: u32 = tally
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        tally.ends_with(" passed, 0 failed") && passed >= 10,
        "{report}"
    );
}
