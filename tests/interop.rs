//! The zproto interop service against frames captured from real silly
//! nodes: our client sends exactly the bytes silly's client sent, and our
//! server answers exactly what silly's server answered.

#[path = "../examples/silly_interop/service.rs"]
mod service;
#[path = "../cluster-codec/tests/support/vectors.rs"]
mod vectors;

use std::time::Duration;

use cluster::{Error, Node};
use service::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The captured frames, in capture order: ping, pong, add, sum, notify,
/// stats, counts, stats with an empty body (no answer), traced ping, pong.
fn golden() -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = vectors::silly_frames()
        .into_iter()
        .map(|f| f.bytes)
        .collect();
    assert_eq!(frames.len(), 10);
    frames
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
    let frames = golden();
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

    let client = InteropClient::new(Node::builder().build().connect(&addr).await);
    let hello = Some("hello".to_string());
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

    // Node 0x0102 inside trace 0x0102a1e7_0001_0102, on a connection whose
    // sessions continue where silly's counter was.
    let traced_node = Node::builder().node_id(0x0102).first_session(5).build();
    let traced = InteropClient::new(traced_node.connect(&addr).await);
    let pong = cluster::trace::scope(
        0x0102_a1e7_0001_0102,
        traced.ping(Ping {
            msg: Some("traced".into()),
        }),
    )
    .await
    .expect("traced ping");
    assert_eq!(pong.msg.as_deref(), Some("traced"));
    server.await.expect("every frame as captured");
}

#[tokio::test]
async fn server_answers_what_silly_answered() {
    let frames = golden();
    let node = Node::builder()
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
