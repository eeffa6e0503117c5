//! The zproto interop service against frames captured from real silly
//! nodes (silly a625d30e on wire v1, silly of 2026 on wire v2): our client
//! sends exactly the bytes silly's client sent, and our server answers
//! exactly what silly's server answered. Frames in silly's layout whose
//! strings are not UTF-8 come back with every byte unchanged.

#[path = "../examples/silly_interop/service.rs"]
mod service;
#[path = "../cluster-codec/tests/support/vectors.rs"]
mod vectors;

use std::time::Duration;

use bytes::BytesMut;
use cluster::codec::Encode;
use cluster::zproto::ByteStr;
use cluster::{Error, Node, WireFormat};
use service::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The captured frames of one wire, in capture order: ping, pong, add, sum,
/// notify, stats, counts, stats with an empty body (no answer), traced ping,
/// pong.
fn golden(wire: WireFormat) -> Vec<Vec<u8>> {
    let frames = match wire {
        WireFormat::V2 => vectors::silly_frames_v2(),
        _ => vectors::silly_frames(),
    };
    let frames: Vec<Vec<u8>> = frames.into_iter().map(|f| f.bytes).collect();
    assert_eq!(frames.len(), 10);
    frames
}

/// The trace id of the captured traced ping: node 0x0102, seq 1, and the
/// capture's unix seconds.
fn traced_id(wire: WireFormat) -> u64 {
    match wire {
        WireFormat::V2 => 0x0102_fc5e_0001_0102,
        _ => 0x0102_a1e7_0001_0102,
    }
}

async fn read_exactly(sock: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    tokio::time::timeout(Duration::from_secs(10), sock.read_exact(&mut buf))
        .await
        .expect("frame in time")
        .expect("read");
    buf
}

#[test]
fn command_ids_are_the_request_tags() {
    assert_eq!(
        [
            InteropClient::PING,
            InteropClient::ADD,
            InteropClient::SLEEP,
            InteropClient::NOTIFY,
            InteropClient::STATS
        ],
        [0x01, 0x03, 0x05, 0x07, 0x08]
    );
    let oneway: Vec<_> = InteropClient::COMMANDS
        .iter()
        .filter(|c| c.oneway)
        .map(|c| c.name)
        .collect();
    assert_eq!(oneway, ["notify"]);
}

#[tokio::test]
async fn client_sends_the_bytes_silly_sent() {
    client_sends_the_bytes_silly_sent_on(WireFormat::V1).await;
}

#[tokio::test]
async fn client_sends_the_bytes_silly_sent_on_wire_v2() {
    client_sends_the_bytes_silly_sent_on(WireFormat::V2).await;
}

async fn client_sends_the_bytes_silly_sent_on(wire: WireFormat) {
    let frames = golden(wire);
    let silly = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silly.local_addr().expect("addr").to_string();
    let replay = frames.clone();
    // A stand-in for silly's server: expects each captured request, answers
    // with the captured response.
    let server = tokio::spawn(async move {
        let (mut first, _) = silly.accept().await.expect("accept");
        for (request, response) in [
            (0, Some(1)),
            (2, Some(3)),
            (4, None),
            (5, Some(6)),
            (7, None),
        ] {
            let got = read_exactly(&mut first, replay[request].len()).await;
            assert_eq!(
                vectors::to_hex(&got),
                vectors::to_hex(&replay[request]),
                "frame {request}"
            );
            if let Some(response) = response {
                first.write_all(&replay[response]).await.expect("write");
            }
        }
        let (mut traced, _) = silly.accept().await.expect("accept");
        let got = read_exactly(&mut traced, replay[8].len()).await;
        assert_eq!(
            vectors::to_hex(&got),
            vectors::to_hex(&replay[8]),
            "traced frame"
        );
        traced.write_all(&replay[9]).await.expect("write");
    });

    let client = InteropClient::new(Node::builder().wire(wire).build().connect(&addr).await);
    let hello = Some(ByteStr::from("hello"));
    assert_eq!(
        client
            .ping(Ping { msg: hello.clone() })
            .await
            .expect("ping"),
        Pong { msg: hello }
    );
    let sum = client
        .add(Add {
            a: Some(10),
            b: Some(20),
        })
        .await
        .expect("add");
    assert_eq!(sum, Sum { result: Some(30) });
    client
        .notify(Notify {
            message: Some("hello notify".into()),
        })
        .await
        .expect("notify");
    let counts = client.stats(Stats { dummy: Some(0) }).await.expect("stats");
    assert_eq!(
        counts,
        Counts {
            notifies: Some(1),
            last: Some("hello notify".into())
        }
    );
    // silly's client once sent stats with an empty body; its server did not answer.
    let err = client
        .peer()
        .call_timeout(InteropClient::STATS, "", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");

    // Node 0x0102 inside the captured trace, on a connection whose sessions
    // continue where silly's counter was.
    let traced_node = Node::builder()
        .wire(wire)
        .node_id(0x0102)
        .first_session(5)
        .build();
    let traced = InteropClient::new(traced_node.connect(&addr).await);
    let pong = cluster::trace::scope(
        traced_id(wire),
        traced.ping(Ping {
            msg: Some("traced".into()),
        }),
    )
    .await
    .expect("traced ping");
    assert_eq!(pong.msg, Some("traced".into()));
    server.await.expect("every frame as captured");
}

#[tokio::test]
async fn server_answers_what_silly_answered() {
    server_answers_what_silly_answered_on(WireFormat::V1).await;
}

#[tokio::test]
async fn server_answers_what_silly_answered_on_wire_v2() {
    server_answers_what_silly_answered_on(WireFormat::V2).await;
}

async fn server_answers_what_silly_answered_on(wire: WireFormat) {
    let frames = golden(wire);
    let node = Node::builder()
        .wire(wire)
        .handler(InteropServer::new(Server::default()))
        .build();
    let listener = node.listen("127.0.0.1:0").expect("bind");
    let mut silly = TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");

    for (request, response) in [(0, 1), (2, 3)] {
        silly.write_all(&frames[request]).await.expect("write");
        let got = read_exactly(&mut silly, frames[response].len()).await;
        assert_eq!(
            vectors::to_hex(&got),
            vectors::to_hex(&frames[response]),
            "answer to frame {request}"
        );
    }
    // notify then stats; requests are dispatched in arrival order.
    silly.write_all(&frames[4]).await.expect("write");
    silly.write_all(&frames[5]).await.expect("write");
    let got = read_exactly(&mut silly, frames[6].len()).await;
    assert_eq!(vectors::to_hex(&got), vectors::to_hex(&frames[6]), "counts");
    // An empty stats body does not decode: no answer; the traced ping after
    // it is answered, and that answer is the next frame on the wire.
    silly.write_all(&frames[7]).await.expect("write");
    silly.write_all(&frames[8]).await.expect("write");
    let got = read_exactly(&mut silly, frames[9].len()).await;
    assert_eq!(
        vectors::to_hex(&got),
        vectors::to_hex(&frames[9]),
        "traced pong"
    );
}

/// A ping request as silly frames it on `wire`, carrying `body`.
fn ping_frame(wire: WireFormat, session: u32, body: &[u8]) -> Vec<u8> {
    let (trace, cmd) = (0u64.to_le_bytes(), InteropClient::PING.to_le_bytes());
    let session = session.to_le_bytes();
    let len = body.len() + 16;
    match wire {
        WireFormat::V2 => [
            &(len as u32).to_le_bytes()[..],
            &session,
            &cmd,
            &trace,
            body,
        ]
        .concat(),
        _ => [
            &(len as u16).to_be_bytes()[..],
            body,
            &trace,
            &cmd,
            &session,
        ]
        .concat(),
    }
}

/// A response as silly frames it on `wire`.
fn response_frame(wire: WireFormat, session: u32, body: &[u8]) -> Vec<u8> {
    let word = (session | 0x8000_0000).to_le_bytes();
    let len = body.len() + 4;
    match wire {
        WireFormat::V2 => [&(len as u32).to_le_bytes()[..], &word, body].concat(),
        _ => [&(len as u16).to_be_bytes()[..], body, &word].concat(),
    }
}

/// Strings a Lua node may send that are not UTF-8, and some that are.
fn binary_messages() -> Vec<Vec<u8>> {
    vec![
        (0..=255).collect(),
        b"\0\x01\x02\xff\0zero\0".to_vec(),
        vec![0xc3],                   // a sequence cut short
        vec![0xed, 0xa0, 0x80],       // a UTF-16 surrogate
        vec![0xf8, 0x88, 0x80, 0x80], // a 5-byte form
        vec![0xff; 300],
        "h\u{e9}llo \u{1f600}".as_bytes().to_vec(),
        Vec::new(),
    ]
}

#[tokio::test]
async fn server_echoes_strings_that_are_not_utf8_byte_for_byte() {
    for wire in [WireFormat::V1, WireFormat::V2] {
        let node = Node::builder()
            .wire(wire)
            .handler(InteropServer::new(Server::default()))
            .build();
        let listener = node.listen("127.0.0.1:0").expect("bind");
        let mut silly = TcpStream::connect(listener.local_addr())
            .await
            .expect("connect");
        for (session, msg) in (0u32..).zip(binary_messages()) {
            // ping and pong have the same layout: the answer's body is the
            // request's body, byte for byte.
            let mut body = BytesMut::new();
            Ping {
                msg: Some(msg.clone().into()),
            }
            .encode(&mut body)
            .expect("encode");
            silly
                .write_all(&ping_frame(wire, session, &body))
                .await
                .expect("write");
            let want = response_frame(wire, session, &body);
            let got = read_exactly(&mut silly, want.len()).await;
            assert_eq!(
                vectors::to_hex(&got),
                vectors::to_hex(&want),
                "{wire:?}: {msg:x?}"
            );
        }
    }
}

#[tokio::test]
async fn client_receives_strings_that_are_not_utf8_unchanged() {
    for wire in [WireFormat::V1, WireFormat::V2] {
        let silly = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = silly.local_addr().expect("addr").to_string();
        let messages = binary_messages();
        // A stand-in for a silly server that answers each ping with the
        // same bytes in a pong, framed by hand.
        let server = tokio::spawn(async move {
            let (mut sock, _) = silly.accept().await.expect("accept");
            for (session, msg) in (0u32..).zip(binary_messages()) {
                let mut body = BytesMut::new();
                Ping {
                    msg: Some(msg.into()),
                }
                .encode(&mut body)
                .expect("encode");
                let request = ping_frame(wire, session, &body);
                let got = read_exactly(&mut sock, request.len()).await;
                assert_eq!(vectors::to_hex(&got), vectors::to_hex(&request), "{wire:?}");
                sock.write_all(&response_frame(wire, session, &body))
                    .await
                    .expect("write");
            }
        });
        let client = InteropClient::new(Node::builder().wire(wire).build().connect(&addr).await);
        for msg in messages {
            let pong = client
                .ping(Ping {
                    msg: Some(msg.clone().into()),
                })
                .await
                .expect("ping");
            assert_eq!(pong.msg.as_deref(), Some(&msg[..]), "{wire:?}");
        }
        server.await.expect("every frame as expected");
    }
}
