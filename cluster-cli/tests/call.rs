//! `cluster call` against a Rust node serving silly's interop schema, and
//! against a raw socket that checks the bytes against silly's own frames.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use cluster_core::WireFormat;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use support::{INTEROP, Server, cluster, fixture, refused_addr};

/// `cluster call ADDR MESSAGE JSON --schema interop.zproto`.
fn call(addr: &str, message: &str, json: &str) -> assert_cmd::Command {
    let mut cmd = cluster();
    cmd.args(["call", addr, message, json, "--schema", INTEROP]);
    cmd
}

#[test]
fn ping_prints_the_pong_as_one_line_of_json() {
    let server = Server::start(WireFormat::V1);
    call(&server.addr, "ping", r#"{"msg":"hi"}"#)
        .assert()
        .success()
        .stdout("{\"msg\":\"hi\"}\n");
}

#[test]
fn add_works_on_wire_v2() {
    let server = Server::start(WireFormat::V2);
    call(&server.addr, "add", r#"{"a":10,"b":-30}"#)
        .args(["--wire", "v2"])
        .assert()
        .success()
        .stdout("{\"result\":-20}\n");
}

#[test]
fn non_utf8_bytes_round_trip_through_json() {
    let server = Server::start(WireFormat::V1);
    let json = r#"{"msg":{"$bytes":"ff00fe"}}"#;
    call(&server.addr, "ping", json)
        .assert()
        .success()
        .stdout(format!("{json}\n"));
    let received = server.seen.last_ping.lock().expect("lock").clone();
    assert_eq!(
        received,
        Some(vec![0xff, 0x00, 0xfe]),
        "the node got the exact bytes"
    );
}

#[test]
fn one_way_message_returns_once_sent_and_arrives() {
    let server = Server::start(WireFormat::V1);
    call(&server.addr, "notify", r#"{"message":"hello"}"#)
        .assert()
        .success()
        .stdout("");
    assert_eq!(server.wait_notifies(1), vec![b"hello".to_vec()]);
    // JSON defaults to {}: stats' dummy is absent.
    cluster()
        .args(["call", &server.addr, "stats", "--schema", INTEROP])
        .assert()
        .success()
        .stdout("{\"notifies\":1,\"last\":\"hello\"}\n");
}

#[test]
fn oneway_flag_does_not_wait_for_a_response() {
    let server = Server::start(WireFormat::V1);
    // sleep answers after 60 s; --oneway returns long before the timeout.
    call(&server.addr, "sleep", r#"{"ms":60000}"#)
        .args(["--oneway", "--timeout", "30000"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .success()
        .stdout("");
}

#[test]
fn without_a_declaration_the_next_tag_is_the_response() {
    let server = Server::start(WireFormat::V1);
    let schema = fixture("no-pairing.zproto");
    let call = |message: &str, json: &str| {
        let mut cmd = cluster();
        cmd.args(["call", &server.addr, message, json, "--schema", &schema]);
        cmd
    };
    call("ping", r#"{"msg":"x"}"#)
        .assert()
        .success()
        .stdout("{\"msg\":\"x\"}\n");
    // notify 0x07 is followed by stats 0x08 here, so the rule waits for an
    // answer that never comes; --oneway is how to say otherwise.
    call("notify", "{}")
        .args(["--timeout", "200"])
        .assert()
        .code(1)
        .stderr(contains("timeout"));
    call("notify", "{}").arg("--oneway").assert().success();
}

#[test]
fn response_flag_names_the_response_message() {
    let server = Server::start(WireFormat::V1);
    // pong and ping have the same fields, so ping reads the pong body.
    call(&server.addr, "ping", r#"{"msg":"x"}"#)
        .args(["--response", "ping"])
        .assert()
        .success()
        .stdout("{\"msg\":\"x\"}\n");
    call(&server.addr, "ping", "{}")
        .args(["--response", "nope"])
        .assert()
        .code(2)
        .stderr(contains("no message 'nope'"));
}

#[test]
fn raw_bytes_call_prints_the_response_body_as_hex() {
    let server = Server::start(WireFormat::V1);
    // ping{msg="hello"} exactly as silly packs it (silly-frames.txt).
    let body = "110d01f10568656c6c016f";
    cluster()
        .args(["call", &server.addr, "--cmd", "0x01", "--hex", body])
        .assert()
        .success()
        .stdout(format!("{body}\n"));
}

#[test]
fn bad_json_is_a_usage_error() {
    let server = Server::start(WireFormat::V1);
    let rejected = |message: &str, json: &str, why: &str| {
        call(&server.addr, message, json)
            .assert()
            .code(2)
            .stderr(contains(why));
    };
    rejected("ping", r#"{"msg":"#, "bad JSON");
    rejected(
        "add",
        r#"{"a":"one"}"#,
        "add.a: expected int32, found a string",
    );
    rejected("add", r#"{"c":1}"#, "struct 'add' has no field 'c'");
}

#[test]
fn unknown_message_is_a_usage_error_listing_the_messages() {
    let server = Server::start(WireFormat::V1);
    call(&server.addr, "pingg", "{}")
        .assert()
        .code(2)
        .stderr(contains(
            "no message 'pingg' in the schema (messages: ping, pong, add",
        ));
}

#[test]
fn schema_error_is_a_usage_error_with_line_and_column() {
    let server = Server::start(WireFormat::V1);
    for (schema, why) in [
        (
            "bad.zproto",
            "bad.zproto:4:15: field tag 1 must be greater than the previous tag 2",
        ),
        ("missing.zproto", "missing.zproto: No such file"),
    ] {
        cluster()
            .args([
                "call",
                &server.addr,
                "ping",
                "{}",
                "--schema",
                &fixture(schema),
            ])
            .assert()
            .code(2)
            .stderr(contains(why));
    }
}

#[test]
fn missing_arguments_are_usage_errors() {
    let usage = |args: &[&str], why: &str| {
        cluster()
            .arg("call")
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(why));
    };
    usage(&["127.0.0.1:1", "ping"], "--schema");
    usage(&["127.0.0.1:1", "--hex", "00"], "--cmd");
    usage(
        &["127.0.0.1:1", "--cmd", "1", "--hex", "0"],
        "odd number of hex digits",
    );
    usage(&["127.0.0.1:1", "--cmd", "0x1_0000_0000"], "--cmd");
}

#[test]
fn refused_connection_is_a_call_error() {
    call(&refused_addr(), "ping", "{}")
        .assert()
        .code(1)
        .stderr(contains("connect").and(contains("refused")));
}

#[test]
fn timeout_is_a_call_error() {
    let server = Server::start(WireFormat::V1);
    call(&server.addr, "sleep", r#"{"ms":60000}"#)
        .args(["--timeout", "200"])
        .assert()
        .code(1)
        .stderr("cluster: timeout\n");
}

/// Accepts one connection, reads one request frame, answers with `reply`
/// and closes; returns the frame it read.
fn raw_node(wire: WireFormat, reply: Vec<u8>) -> (String, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let node = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut frame = vec![0; if wire == WireFormat::V1 { 2 } else { 4 }];
        stream.read_exact(&mut frame).expect("a length");
        let len = match frame[..] {
            [a, b] => usize::from(u16::from_be_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as usize,
            _ => unreachable!("2 or 4 bytes"),
        };
        let at = frame.len();
        frame.resize(at + len, 0);
        stream
            .read_exact(&mut frame[at..])
            .expect("a whole request frame");
        stream.write_all(&reply).expect("reply");
        frame
    });
    (addr, node)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Calls the traced ping of silly's captures against a raw node that
/// answers with the captured pong; checks the request bytes and the output.
fn traced_ping_is_byte_exact(wire: WireFormat, trace: &str, request: &str, response: &str) {
    let (addr, node) = raw_node(wire, unhex(response));
    let wire_arg = if wire == WireFormat::V1 { "v1" } else { "v2" };
    let json = r#"{"msg":"traced"}"#;
    call(&addr, "ping", json)
        .args(["--wire", wire_arg, "--trace", trace])
        .assert()
        .success()
        .stdout(format!("{json}\n"));
    assert_eq!(node.join().expect("node"), unhex(request));
}

// The frames are those of silly-frames.txt and silly-frames-v2.txt with the
// session word 0 (the CLI's first session) instead of the capture's 5.

#[test]
fn request_and_response_bytes_are_silly_s_on_wire_v1() {
    traced_ping_is_byte_exact(
        WireFormat::V1,
        "0x0102a1e700010102",
        "001c110e01f1067472616303656402010100e7a102010100000000000000",
        "0010110e01f1067472616303656400000080",
    );
}

#[test]
fn request_and_response_bytes_are_silly_s_on_wire_v2() {
    traced_ping_is_byte_exact(
        WireFormat::V2,
        "0x0102fc5e00010102",
        "1c0000000000000001000000020101005efc0201110e01f10674726163036564",
        "1000000000000080110e01f10674726163036564",
    );
}

#[test]
fn a_response_that_does_not_decode_is_a_call_error() {
    // A v1 response to session 0 whose body 0xff announces 8 bytes that are not there.
    let (addr, node) = raw_node(WireFormat::V1, unhex("0005ff00000080"));
    call(&addr, "ping", "{}")
        .assert()
        .code(1)
        .stderr(contains("response is not a valid 'pong'"));
    node.join().expect("node");
}

#[test]
fn a_connection_closed_before_the_response_is_a_call_error() {
    let (addr, node) = raw_node(WireFormat::V1, Vec::new());
    call(&addr, "ping", "{}")
        .assert()
        .code(1)
        .stderr("cluster: connection closed\n");
    node.join().expect("node");
}

#[test]
fn json_dash_reads_the_request_from_stdin() {
    let server = Server::start(WireFormat::V1);
    call(&server.addr, "ping", "-")
        .write_stdin(r#"{"msg":"from stdin"}"#)
        .assert()
        .success()
        .stdout("{\"msg\":\"from stdin\"}\n");
}

#[test]
fn a_struct_without_a_tag_cannot_be_sent() {
    cluster()
        .args([
            "call",
            &refused_addr(),
            "point",
            "{}",
            "--schema",
            &fixture("untagged.zproto"),
        ])
        .assert()
        .code(2)
        .stderr("cluster: message 'point' has no protocol tag, so it has no command id\n");
}
