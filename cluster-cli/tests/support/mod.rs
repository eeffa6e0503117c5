//! A Rust node serving silly's interop schema through zproto's dynamic
//! values, on its own runtime, for the `cluster` binary to talk to.

#![allow(dead_code)] // Each test binary uses its own part of this.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use cluster_codec::zproto::{Schema, StructValue, Value};
use cluster_core::{Listener, Node, Request, WireFormat};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// The schema the server speaks, as the CLI tests pass it with `--schema`.
pub const INTEROP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/silly_interop/interop.zproto"
);

/// A fixture path.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The `cluster` binary, with a bound on how long it may run.
pub fn cluster() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cluster"));
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// `cluster watch` running with its stdout read line by line; killed if
/// the test ends first.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    pub fn spawn(args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cluster"))
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cluster watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    /// The next line, waiting at most 20 s for it.
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line from cluster watch within 20 s")
    }

    /// Sends it SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill has no memory effects; pid is our child, not reaped
        // (only `exits` and drop wait for it).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    }

    /// Waits (at most 20 s) for the process to exit with code 0 and print
    /// nothing more.
    pub fn exits(mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "cluster watch did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status:?}");
        // The reader thread ends at EOF, after any last lines.
        let rest: Vec<String> = self.lines.iter().collect();
        assert!(rest.is_empty(), "printed more: {rest:?}");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address nothing listens on: a port that was just free.
pub fn refused_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr").to_string();
    drop(listener);
    addr
}

/// What the server has seen.
#[derive(Default)]
pub struct Seen {
    /// `notify` messages, in arrival order.
    notifies: Mutex<Vec<Vec<u8>>>,
    notified: Notify,
    /// The bytes of the last `ping` message.
    pub last_ping: Mutex<Option<Vec<u8>>>,
    /// Connections accepted.
    pub accepted: AtomicUsize,
}

/// The interop server on 127.0.0.1, port 0.
pub struct Server {
    /// `host:port` to call.
    pub addr: String,
    pub seen: Arc<Seen>,
    _listener: Listener,
    _node: Node,
    runtime: Runtime,
}

impl Server {
    pub fn start(wire: WireFormat) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let schema = Arc::new(
            Schema::parse(include_str!(
                "../../../examples/silly_interop/interop.zproto"
            ))
            .expect("interop schema"),
        );
        let seen = Arc::new(Seen::default());
        let (node, listener) = runtime.block_on(async {
            let (handler_seen, accept_seen) = (seen.clone(), seen.clone());
            let node = Node::builder()
                .wire(wire)
                .on_accept(move |_, _| {
                    accept_seen.accepted.fetch_add(1, Ordering::SeqCst);
                })
                .handler(move |req: Request| {
                    let (schema, seen) = (schema.clone(), handler_seen.clone());
                    async move { respond(&schema, &seen, req).await }
                })
                .build();
            let listener = node.listen("127.0.0.1:0").expect("listen");
            (node, listener)
        });
        Server {
            addr: listener.local_addr().to_string(),
            seen,
            _listener: listener,
            _node: node,
            runtime,
        }
    }

    /// Waits (at most 10 s) until `n` notifications have arrived; returns them.
    pub fn wait_notifies(&self, n: usize) -> Vec<Vec<u8>> {
        let seen = self.seen.clone();
        self.runtime.block_on(async move {
            let wait = async {
                loop {
                    let notified = seen.notified.notified();
                    let got = seen.notifies.lock().expect("lock").clone();
                    if got.len() >= n {
                        return got;
                    }
                    notified.await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), wait)
                .await
                .expect("notifications arrive")
        })
    }
}

/// Serves one request: ping echoes, add sums, sleep sleeps, notify is
/// remembered (no response), stats counts the notifications.
async fn respond(schema: &Schema, seen: &Seen, req: Request) -> Option<Bytes> {
    let id = schema.find_tag(req.cmd)?;
    let msg = schema.decode_body(id, &req.body).ok()?;
    let bytes_of = |field: &str| msg.get(field).and_then(Value::as_bytes).map(<[u8]>::to_vec);
    let int_of = |field: &str| msg.get(field).and_then(Value::as_i128).unwrap_or(0);
    let (response, value) = match schema[id].name() {
        "ping" => {
            *seen.last_ping.lock().expect("lock") = bytes_of("msg");
            ("pong", msg.clone())
        }
        "add" => {
            let sum = (int_of("a") + int_of("b")) as i32;
            ("sum", StructValue::new().with("result", Value::I32(sum)))
        }
        "sleep" => {
            let ms = int_of("ms") as u64;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (
                "slept",
                StructValue::new().with("ms", Value::I32(ms as i32)),
            )
        }
        "notify" => {
            seen.notifies
                .lock()
                .expect("lock")
                .push(bytes_of("message").unwrap_or_default());
            seen.notified.notify_waiters();
            return None;
        }
        "stats" => {
            let notifies = seen.notifies.lock().expect("lock");
            let mut counts = StructValue::new().with("notifies", Value::I32(notifies.len() as i32));
            if let Some(last) = notifies.last() {
                counts.insert("last", Value::Bytes(last.clone()));
            }
            ("counts", counts)
        }
        _ => return None,
    };
    let mut body = BytesMut::new();
    schema
        .encode_body(schema.find(response)?, &value, &mut body)
        .ok()?;
    Some(body.freeze())
}
