//! Malformed input from raw sockets closes only the offending connection,
//! and the reader reassembles frames however the bytes arrive.

mod support;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use cluster_core::wire::{Frame, FrameCodec, WireFormat, v2};
use cluster_core::{Error, Limits, Listener, Node, Peer, ProtocolError, Request};
use support::{
    Bystander, Events, Noise, PATIENCE, addr, alloc, echo, echo_server, events, frames, logs,
    observed_node,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

fn v1_request(session: u32, cmd: u32, body: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    FrameCodec::new(WireFormat::V1, 0, 0)
        .encode_request(&mut buf, session, cmd, 0, body)
        .expect("small");
    buf.to_vec()
}

/// Reads until the server closes the socket; fails if it stays open.
async fn expect_closed_by_server(sock: &mut TcpStream) {
    let mut sink = [0u8; 256];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match sock.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "server kept the connection open");
}

/// How long a hostile test lets an incomplete frame linger.
const READ_TIMEOUT: Duration = Duration::from_millis(300);

/// The default limits, but `read_timeout` for an incomplete frame.
fn with_read_timeout(read_timeout: Duration) -> Limits {
    let mut limits = Limits::default();
    limits.frame_read_timeout = Some(read_timeout);
    limits
}

/// A node speaking `wire` that echoes under `limits` and reports closed
/// connections to the returned events.
fn hostile_target(wire: WireFormat, limits: Limits) -> (Node, Listener, Events<(Peer, Error)>) {
    let (server, _, closes) =
        observed_node(Node::builder().wire(wire).limits(limits).handler(echo));
    let listener = server.listen("127.0.0.1:0").expect("bind");
    (server, listener, closes)
}

/// Sends `bytes` on a raw connection to a node speaking `wire` and checks
/// that exactly this connection is closed for `expected`, with the reason
/// in the log, while a well-behaved peer of the same node keeps calling
/// without an error.
async fn hostile_bytes_close_only_their_connection(
    wire: WireFormat,
    bytes: &[u8],
    expected: ProtocolError,
) {
    attack(wire, with_read_timeout(READ_TIMEOUT), bytes, expected).await;
}

/// [`hostile_bytes_close_only_their_connection`] against a node with `limits`.
async fn attack(wire: WireFormat, limits: Limits, bytes: &[u8], expected: ProtocolError) {
    let logs = logs::capture();
    let (server, listener, mut closes) = hostile_target(wire, limits);
    let bystander = Bystander::start(&addr(&listener), wire).await;

    let mut raw = TcpStream::connect(listener.local_addr())
        .await
        .expect("raw connect");
    raw.write_all(bytes).await.expect("write");
    let (_, reason) = closes.next().await;
    match reason {
        Error::Protocol(got) => assert_eq!(got, expected),
        other => panic!("closed for {other}, expected {expected}"),
    }
    logs.line_with(&["closing connection", &expected.to_string()])
        .await;
    expect_closed_by_server(&mut raw).await;

    bystander.calls_more(3).await;
    bystander.finish().await;
    assert_eq!(
        server.stats().connections,
        1,
        "only the hostile connection went"
    );
}

#[tokio::test]
async fn v1_payload_shorter_than_a_session_word_closes_the_connection() {
    hostile_bytes_close_only_their_connection(
        WireFormat::V1,
        &[0, 3, 1, 2, 3],
        ProtocolError::ShortPayload { len: 3 },
    )
    .await;
}

#[tokio::test]
async fn v1_zero_length_frame_closes_the_connection() {
    hostile_bytes_close_only_their_connection(
        WireFormat::V1,
        &[0, 0],
        ProtocolError::ShortPayload { len: 0 },
    )
    .await;
}

#[tokio::test]
async fn v1_request_shorter_than_16_bytes_closes_the_connection() {
    for len in [4u8, 15] {
        let mut frame = vec![0, len];
        frame.extend(std::iter::repeat_n(0, len as usize));
        hostile_bytes_close_only_their_connection(
            WireFormat::V1,
            &frame,
            ProtocolError::ShortRequest { len: len as usize },
        )
        .await;
    }
}

/// A buffer sized from a length header shows up here however little of it
/// is ever touched, where the resident size would not.
fn assert_no_allocation_of_the_claim() {
    let largest = alloc::largest();
    assert!(
        largest < 64 << 20,
        "an allocation of {largest} bytes was made"
    );
}

#[tokio::test]
async fn a_4gib_length_claim_closes_the_connection_from_the_header_alone() {
    // Only the header is sent: nothing else could be waited for.
    let frame = u32::MAX.to_le_bytes();
    hostile_bytes_close_only_their_connection(
        WireFormat::V2,
        &frame,
        ProtocolError::FrameTooLarge {
            len: u64::from(u32::MAX),
            limit: v2::DEFAULT_MAX_FRAME,
        },
    )
    .await;
    assert_no_allocation_of_the_claim();
}

#[tokio::test]
async fn a_4gib_claim_under_a_raised_limit_buffers_only_the_bytes_that_arrive() {
    let mut limits = with_read_timeout(READ_TIMEOUT);
    limits.max_frame = u32::MAX as usize;
    let mut bytes = u32::MAX.to_le_bytes().to_vec();
    bytes.resize(256 * 1024, 0);
    attack(
        WireFormat::V2,
        limits,
        &bytes,
        ProtocolError::ReadTimeout(READ_TIMEOUT),
    )
    .await;
    assert_no_allocation_of_the_claim();
}

#[tokio::test]
async fn v2_short_payloads_close_the_connection() {
    hostile_bytes_close_only_their_connection(
        WireFormat::V2,
        &[1, 0, 0, 0, 9],
        ProtocolError::ShortPayload { len: 1 },
    )
    .await;
    let mut request = 8u32.to_le_bytes().to_vec();
    request.extend_from_slice(&[0; 8]);
    hostile_bytes_close_only_their_connection(
        WireFormat::V2,
        &request,
        ProtocolError::ShortRequest { len: 8 },
    )
    .await;
}

/// What `bytes` amount to on `wire`: the protocol error they end in, or the
/// read timeout if they leave a frame incomplete.
fn verdict(wire: WireFormat, bytes: &[u8]) -> ProtocolError {
    match frames::decode_whole(&frames::default_codec(wire), bytes).end {
        Err(error) => error,
        Ok(left) => {
            assert!(left > 0, "{bytes:?} is a valid stream of whole frames");
            ProtocolError::ReadTimeout(READ_TIMEOUT)
        }
    }
}

#[tokio::test]
async fn garbage_closes_only_its_connection_with_the_error_it_amounts_to() {
    let http = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    // The first bytes of a TLS ClientHello.
    let tls = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut noise = Noise::new(7);
    let mut inputs = vec![http, tls];
    inputs.extend((0..2).map(|_| noise.bytes(512).to_vec()));
    // Noise behind a zero byte: v1 reads a length under 256, so the noise
    // is parsed as short frames and fails on what it holds.
    inputs.extend((0..2).map(|_| [&[0][..], &noise.bytes(512)].concat()));
    for wire in [WireFormat::V1, WireFormat::V2] {
        for bytes in &inputs {
            hostile_bytes_close_only_their_connection(wire, bytes, verdict(wire, bytes)).await;
        }
    }
}

#[tokio::test]
async fn a_frame_trickled_a_byte_per_100ms_is_cut_off_by_the_read_timeout() {
    let timeout = Duration::from_secs(1);
    for wire in [WireFormat::V1, WireFormat::V2] {
        let logs = logs::capture();
        let (server, listener, mut closes) = hostile_target(wire, with_read_timeout(timeout));
        let bystander = Bystander::start(&addr(&listener), wire).await;
        let mut frame = BytesMut::new();
        frames::default_codec(wire)
            .encode_request(&mut frame, 1, 1, 0, &[7; 32])
            .expect("small");

        let mut raw = TcpStream::connect(listener.local_addr())
            .await
            .expect("raw connect");
        let mut trickle = tokio::time::interval(Duration::from_millis(100));
        let started = Instant::now();
        let mut sent = 0;
        let reason = loop {
            tokio::select! {
                (_, reason) = closes.next() => break reason,
                _ = trickle.tick(), if sent < frame.len() => {
                    // Once the server has closed, a write may fail: the close
                    // event says why.
                    let _ = raw.write_all(&frame[sent..=sent]).await;
                    sent += 1;
                }
            }
        };
        let took = started.elapsed();
        assert!(
            matches!(reason, Error::Protocol(ProtocolError::ReadTimeout(t)) if t == timeout),
            "{wire:?}: closed for {reason}"
        );
        assert!(sent > 1, "{wire:?}: bytes kept arriving after the first");
        assert!(sent < frame.len(), "{wire:?}: the frame was finished first");
        assert!(took >= timeout, "{wire:?}: cut off after {took:?}");
        logs.line_with(&["closing connection", "not finished within 1s"])
            .await;
        expect_closed_by_server(&mut raw).await;
        bystander.calls_more(3).await;
        bystander.finish().await;
        assert_eq!(server.stats().connections, 1, "{wire:?}");
    }
}

#[tokio::test]
async fn interleaved_partial_frames_on_many_connections_all_get_answers() {
    let (_server, listener) = echo_server();
    let mut socks = Vec::new();
    let mut frames = Vec::new();
    for i in 0..32u32 {
        socks.push(
            TcpStream::connect(listener.local_addr())
                .await
                .expect("connect"),
        );
        frames.push(v1_request(i, 1, format!("connection {i}").as_bytes()));
    }
    // First halves in order, then the rest a byte at a time, round robin in
    // reverse order, so every connection sits on a partial frame meanwhile.
    for (sock, frame) in socks.iter_mut().zip(&frames) {
        sock.write_all(&frame[..frame.len() / 2])
            .await
            .expect("write");
    }
    let longest = frames.iter().map(Vec::len).max().expect("frames");
    for at in 0..longest {
        for (sock, frame) in socks.iter_mut().zip(&frames).rev() {
            let start = frame.len() / 2;
            if let Some(byte) = frame.get(start + at) {
                sock.write_all(&[*byte]).await.expect("write");
            }
        }
    }
    let codec = FrameCodec::new(WireFormat::V1, 0, 0);
    for (i, sock) in socks.iter_mut().enumerate() {
        let mut buf = BytesMut::new();
        let frame = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(frame) = codec.decode(&mut buf).expect("valid response") {
                    return frame;
                }
                assert_ne!(
                    sock.read_buf(&mut buf).await.expect("read"),
                    0,
                    "closed early"
                );
            }
        })
        .await
        .expect("response in time");
        assert_eq!(
            frame,
            Frame::Response {
                session: i as u32,
                body: format!("connection {i}").into()
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_frames_queued_at_once_all_arrive() {
    let (received, mut receipts) = events();
    let server = Node::builder()
        .handler(move |req: Request| {
            let received = received.clone();
            async move {
                if req.cmd == 2 {
                    let _ = received.send(req.body.clone());
                }
                Some(req.body)
            }
        })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder().build().connect(&addr(&listener)).await;

    let calls: Vec<_> = (0..10_000u32)
        .map(|i| {
            let peer = peer.clone();
            tokio::spawn(async move { (i, peer.call(1, i.to_le_bytes().to_vec()).await) })
        })
        .collect();
    for call in calls {
        let (i, reply) = call.await.expect("task");
        assert_eq!(reply.expect("call")[..], i.to_le_bytes());
    }

    for i in 0..10_000u32 {
        peer.send(2, i.to_le_bytes().to_vec()).await.expect("send");
    }
    // Handlers run concurrently, so arrival order is not observable here.
    let mut got: Vec<u32> = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let body = receipts.next().await;
        got.push(u32::from_le_bytes(body[..].try_into().expect("4 bytes")));
    }
    got.sort_unstable();
    assert_eq!(
        got,
        (0..10_000).collect::<Vec<_>>(),
        "every send arrived once"
    );
}
