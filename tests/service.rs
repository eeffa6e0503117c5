//! `#[cluster::service]` end to end: typed clients and servers over real
//! connections.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cluster::{Command, Error, Node, Service};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A calculator.
#[cluster::service]
pub trait Calc {
    /// Adds two numbers.
    #[cmd(0x03)]
    async fn add(&self, a: i32, b: i32) -> i32;
    /// Logs a line; nobody waits.
    #[oneway]
    async fn log(&self, line: String);
    async fn slow(&self, ms: u64) -> u64;
    async fn ping(&self) -> ();
    async fn stats(&self, filter: Filter) -> Stats;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub lines: Vec<String>,
    pub adds: u32,
}

#[derive(Default)]
struct Calculator {
    adds: AtomicU32,
    lines: Mutex<Vec<String>>,
    logged: Option<mpsc::UnboundedSender<String>>,
}

impl Calc for Calculator {
    async fn add(&self, a: i32, b: i32) -> i32 {
        self.adds.fetch_add(1, Ordering::SeqCst);
        a.wrapping_add(b)
    }

    async fn log(&self, line: String) {
        self.lines.lock().expect("lines").push(line.clone());
        if let Some(tx) = &self.logged {
            let _ = tx.send(line);
        }
    }

    async fn slow(&self, ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    async fn ping(&self) {}

    async fn stats(&self, filter: Filter) -> Stats {
        let lines = self.lines.lock().expect("lines");
        Stats {
            lines: lines
                .iter()
                .filter(|l| l.starts_with(&filter.prefix))
                .cloned()
                .collect(),
            adds: self.adds.load(Ordering::SeqCst),
        }
    }
}

/// A client of a server serving `calc`, and the server's node, which
/// serves for as long as it is held.
async fn calc_pair(calc: Calculator) -> (CalcClient, Node) {
    let server = Node::builder().handler(CalcServer::new(calc)).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder()
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    (CalcClient::new(peer), server)
}

#[tokio::test]
async fn typed_calls_round_trip_through_a_real_connection() {
    let (tx, mut logged) = mpsc::unbounded_channel();
    let (client, _server) = calc_pair(Calculator {
        logged: Some(tx),
        ..Calculator::default()
    })
    .await;
    assert_eq!(client.add(1, 2).await.expect("add"), 3);
    assert_eq!(client.add(i32::MAX, 1).await.expect("add"), i32::MIN);
    client
        .ping()
        .await
        .expect("unit return is an acknowledgement");
    client.log("hello world".into()).await.expect("oneway");
    client.log("goodbye".into()).await.expect("oneway");
    assert_eq!(logged.recv().await.as_deref(), Some("hello world"));
    assert_eq!(logged.recv().await.as_deref(), Some("goodbye"));
    let stats = client
        .stats(Filter {
            prefix: "hello".into(),
        })
        .await
        .expect("struct argument and return");
    assert_eq!(
        stats,
        Stats {
            lines: vec!["hello world".into()],
            adds: 2
        }
    );
}

#[tokio::test]
async fn per_call_timeout_overrides_the_node_default() {
    let (client, _server) = calc_pair(Calculator::default()).await;
    let err = client
        .clone()
        .with_timeout(Duration::from_millis(20))
        .slow(500)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(
        client
            .slow(1)
            .await
            .expect("default timeout is long enough"),
        1
    );
}

#[test]
fn command_ids_follow_the_documented_rules() {
    assert_eq!(CalcClient::ADD, 0x03, "explicit #[cmd]");
    assert_eq!(
        CalcClient::LOG,
        cluster::command_id("Calc", "log"),
        "default: hash of the names"
    );
    assert_eq!(
        CalcClient::COMMANDS,
        &[
            Command {
                name: "add",
                id: 3,
                oneway: false
            },
            Command {
                name: "log",
                id: cluster::command_id("Calc", "log"),
                oneway: true
            },
            Command {
                name: "slow",
                id: cluster::command_id("Calc", "slow"),
                oneway: false
            },
            Command {
                name: "ping",
                id: cluster::command_id("Calc", "ping"),
                oneway: false
            },
            Command {
                name: "stats",
                id: cluster::command_id("Calc", "stats"),
                oneway: false
            },
        ]
    );
    let served: Vec<_> = <CalcServer<Calculator> as Service>::COMMANDS
        .iter()
        .copied()
        .collect();
    assert_eq!(served, CalcClient::COMMANDS);
}

/// A second service, mounted beside `Calc` on one node.
#[cluster::service]
pub trait Greeter {
    async fn greet(&self, name: String) -> String;
    /// Calls the caller back through the connection the request came on.
    async fn greet_back(&self, name: String) -> String;
    async fn trace(&self) -> Option<u64>;
}

struct Polite;

impl Greeter for Polite {
    async fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }

    async fn greet_back(&self, name: String) -> String {
        let Some(caller) = GreeterClient::from_caller() else {
            return "no caller".into();
        };
        match caller.greet(format!("{name}'s server")).await {
            Ok(reply) => format!("they said: {reply}"),
            Err(e) => format!("call back failed: {e}"),
        }
    }

    async fn trace(&self) -> Option<u64> {
        cluster::trace::current()
    }
}

#[tokio::test]
async fn several_services_share_one_node_and_handlers_call_back() {
    let server = Node::builder()
        .node_id(9)
        .handler(cluster::router![
            CalcServer::new(Calculator::default()),
            GreeterServer::new(Polite)
        ])
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client_node = Node::builder()
        .node_id(4)
        .handler(GreeterServer::new(Polite))
        .build();
    let peer = client_node
        .connect(&listener.local_addr().to_string())
        .await;

    let calc = CalcClient::new(peer.clone());
    let greeter = GreeterClient::new(peer);
    assert_eq!(calc.add(40, 2).await.expect("calc"), 42);
    assert_eq!(
        greeter.greet("ada".into()).await.expect("greet"),
        "hello, ada"
    );
    assert_eq!(
        greeter.greet_back("ada".into()).await.expect("greet back"),
        "they said: hello, ada's server"
    );

    assert_eq!(
        greeter.trace().await.expect("untraced"),
        Some(4),
        "just the sender's node id"
    );
    let id = client_node.new_trace();
    let seen = cluster::trace::scope(id, greeter.trace())
        .await
        .expect("traced");
    assert_eq!(seen, Some(id), "the handler runs inside the caller's trace");
}

#[tokio::test]
async fn unknown_and_undecodable_requests_get_no_response() {
    let (client, _server) = calc_pair(Calculator::default()).await;
    let peer = client.peer().clone();
    let err = peer
        .call_timeout(0xdead, "?", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "unknown command: {err}");
    let err = peer
        .call_timeout(CalcClient::ADD, vec![0xff; 3], Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "garbage body: {err}");
    assert_eq!(client.add(2, 2).await.expect("connection still serves"), 4);
}

#[tokio::test]
async fn a_response_that_does_not_decode_is_a_decode_error() {
    // A raw node answers the typed client with bytes that are no i32.
    let server = Node::builder()
        .handler(|_req: cluster::Request| async { Some(bytes::Bytes::from_static(&[0xff, 0xff])) })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder()
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    let err = CalcClient::new(peer).add(1, 2).await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
}

/// A value whose encoding fails when it is `false`: a type the codec
/// cannot carry at run time.
#[derive(Debug, PartialEq, Deserialize)]
pub struct Picky(bool);

impl Serialize for Picky {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !self.0 {
            return Err(serde::ser::Error::custom("picky value"));
        }
        s.serialize_bool(true)
    }
}

#[cluster::service]
pub trait Fragile {
    async fn take(&self, value: Picky) -> u32;
    async fn give(&self, ok: bool) -> Picky;
}

struct Breaker;

impl Fragile for Breaker {
    async fn take(&self, _value: Picky) -> u32 {
        1
    }
    async fn give(&self, ok: bool) -> Picky {
        Picky(ok)
    }
}

#[tokio::test]
async fn a_value_that_does_not_encode_fails_its_call_and_nothing_else() {
    let server = Node::builder().handler(FragileServer::new(Breaker)).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder().build();
    let peer = client.connect(&listener.local_addr().to_string()).await;
    let fragile = FragileClient::new(peer).with_timeout(Duration::from_millis(200));

    // Arguments are encoded as their frame is written: nothing goes out.
    let err = fragile.take(Picky(false)).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err}");

    // A response that does not encode is dropped, and counted.
    let err = fragile.give(false).await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(server.stats().unsent_responses, 1);
    assert_eq!(
        server.stats().frames_in,
        1,
        "only `give` reached the server"
    );

    assert_eq!(fragile.take(Picky(true)).await.expect("take"), 1);
    assert_eq!(fragile.give(true).await.expect("give"), Picky(true));
}

/// A service whose one-way method waits before it records.
#[cluster::service]
pub trait Notes {
    #[oneway]
    async fn note(&self, ms: u64, text: String);
}

struct Notebook(mpsc::UnboundedSender<String>);

impl Notes for Notebook {
    async fn note(&self, ms: u64, text: String) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let _ = self.0.send(text);
    }
}

#[tokio::test]
async fn one_way_methods_run_to_their_end_after_the_sender_closes() {
    use cluster::Handler;
    let (tx, mut noted) = mpsc::unbounded_channel();
    let server_handler = NotesServer::new(Notebook(tx));
    assert!(server_handler.is_oneway(NotesClient::NOTE));
    assert!(!CalcServer::new(Calculator::default()).is_oneway(CalcClient::ADD));
    let server = Node::builder().handler(server_handler).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder().build();
    let notes = NotesClient::new(client.connect(&listener.local_addr().to_string()).await);
    notes.note(100, "kept".into()).await.expect("sent");
    // The sender leaves at once; the note was read, so it is not lost.
    tokio::time::timeout(Duration::from_secs(5), async {
        while server.stats().handlers == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the note reached its handler");
    drop((notes, client));
    let text = tokio::time::timeout(Duration::from_secs(5), noted.recv()).await;
    assert_eq!(text.expect("in time").as_deref(), Some("kept"));
}

/// Only compiled when its method is: if anything generated for `gone`
/// escaped its `#[cfg]`, naming this type would not compile.
#[cfg(not(test))]
pub struct Missing;

/// A service with methods behind `#[cfg]`: one compiled out, one in (test
/// binaries are built with `cfg(test)`).
#[cluster::service]
pub trait Toggled {
    async fn always(&self) -> u32;
    #[cfg(not(test))]
    async fn gone(&self, arg: Missing) -> Missing;
    #[cfg(test)]
    async fn kept(&self, n: u32) -> u32;
}

struct Toggles;

impl Toggled for Toggles {
    async fn always(&self) -> u32 {
        1
    }

    async fn kept(&self, n: u32) -> u32 {
        n + 1
    }
}

#[tokio::test]
async fn a_cfg_on_a_method_applies_to_everything_generated_for_it() {
    let names: Vec<_> = ToggledClient::COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(names, ["always", "kept"]);
    assert_eq!(
        <ToggledServer<Toggles> as Service>::COMMANDS.len(),
        2,
        "the server serves what the client lists"
    );

    let server = Node::builder().handler(ToggledServer::new(Toggles)).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder()
        .extension_peers(true)
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    let client = ToggledClient::new(peer.clone());
    assert_eq!(client.always().await.expect("call"), 1);
    assert_eq!(client.kept(41).await.expect("call"), 42);
    // The compiled-out method has no dispatch arm: its id is unknown.
    let gone = cluster::command_id("Toggled", "gone");
    match peer.call(gone, "").await.unwrap_err() {
        Error::Remote { status, .. } => assert_eq!(status, cluster::Status::UnknownCommand),
        other => panic!("expected an unknown-command status, got {other}"),
    }
}
