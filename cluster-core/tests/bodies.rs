//! Bodies that write themselves into the write buffer: the frames they
//! make, and what a body that fails, lies about its size or panics leaves
//! behind (nothing: the connection carries on).

mod support;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use cluster_core::wire::{FrameCodec, WireFormat};
use cluster_core::{Body, Error, Handler, Node, Request, Status};
use support::{addr, echo_server, frames, wait_until};

/// `len` bytes of `byte`, written one at a time, with no length told in
/// advance: what an encoder looks like.
struct Streamed {
    byte: u8,
    len: usize,
}

impl Body for Streamed {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        for _ in 0..self.len {
            dst.put_u8(self.byte);
        }
        Ok(())
    }
}

/// Writes a few bytes, then fails: an encoder meeting a value it cannot
/// carry.
struct Failing;

impl Body for Failing {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        dst.put_slice(b"half");
        Err(Error::Encode(Arc::new(io::Error::other("cannot encode"))))
    }
}

/// Writes a few bytes, then panics: a user's encoder with a bug.
struct Panicking;

impl Body for Panicking {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        dst.put_slice(b"half");
        panic!("encoder bug");
    }
}

#[test]
fn a_body_that_writes_itself_makes_the_same_frames_as_its_bytes() {
    for format in [WireFormat::V1, WireFormat::V2] {
        let codec = frames::default_codec(format);
        let (mut written, mut copied) = (BytesMut::new(), BytesMut::new());
        let streamed = Streamed { byte: 7, len: 300 };
        codec
            .encode_request(&mut written, 5, 9, 0xAB, &streamed)
            .expect("request");
        codec
            .encode_request(&mut copied, 5, 9, 0xAB, &[7u8; 300][..])
            .expect("request");
        codec
            .encode_response(&mut written, 5, &streamed)
            .expect("response");
        codec
            .encode_response(&mut copied, 5, &[7u8; 300][..])
            .expect("response");
        assert_eq!(written, copied, "{format:?}");
    }
}

#[test]
fn a_body_too_large_or_failing_leaves_the_buffer_as_it_was() {
    let v1 = frames::default_codec(WireFormat::V1);
    let v2 = FrameCodec::new(WireFormat::V2, 1000, 1000);
    let mut dst = BytesMut::from(&b"queued"[..]);
    let too_large = Streamed {
        byte: 1,
        len: 70_000,
    };
    let err = v1
        .encode_request(&mut dst, 1, 1, 0, &too_large)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 70_000,
                limit: 65519
            }
        ),
        "{err}"
    );
    let err = v2
        .encode_response(&mut dst, 1, &Streamed { byte: 1, len: 997 })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 997,
                limit: 996
            }
        ),
        "{err}"
    );
    let err = v2.encode_request(&mut dst, 1, 1, 0, &Failing).unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err}");
    assert_eq!(dst, b"queued"[..]);
}

#[tokio::test]
async fn a_call_whose_body_fails_sends_nothing_and_the_connection_carries_on() {
    let (_server, listener) = echo_server();
    let client = Node::builder().build();
    let peer = client.connect(&addr(&listener)).await;

    let err = peer.call(1, Failing).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err}");
    let err = peer.send(1, Failing).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err}");
    let err = peer
        .call(
            1,
            Streamed {
                byte: 1,
                len: 70_000,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(peer.pending_calls(), 0);

    let reply = peer.call(1, Streamed { byte: 3, len: 100 }).await;
    assert_eq!(reply.expect("echo"), vec![3u8; 100]);
    // Counted once written, which may come just after the reply.
    wait_until("the valid call counted", || client.stats().frames_out >= 1).await;
    assert_eq!(client.stats().frames_out, 1, "only the valid call went out");
}

#[tokio::test]
async fn a_body_that_panics_leaves_no_half_frame_behind() {
    let (_server, listener) = echo_server();
    let peer = Node::builder().build().connect(&addr(&listener)).await;
    peer.call(1, "warm").await.expect("connected");

    let calling = peer.clone();
    let panicked = tokio::spawn(async move { calling.call(1, Panicking).await }).await;
    assert!(panicked.unwrap_err().is_panic());

    assert_eq!(peer.call(1, "after").await.expect("echo"), "after");
}

/// Answers command 1 with a body that fails to encode, 2 with one that
/// panics, anything else with its own body.
struct Answers;

/// One of the three responses of [`Answers`].
enum Answer {
    Fails,
    Panics,
    Echo(Bytes),
}

impl Body for Answer {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        match self {
            Answer::Fails => Failing.write_to(dst),
            Answer::Panics => Panicking.write_to(dst),
            Answer::Echo(body) => body.write_to(dst),
        }
    }
}

impl Handler for Answers {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        let answer = match req.cmd {
            1 => Answer::Fails,
            2 => Answer::Panics,
            _ => Answer::Echo(req.body),
        };
        async move { Some(answer) }
    }
}

#[tokio::test]
async fn a_response_that_fails_or_panics_is_not_sent_and_the_connection_carries_on() {
    let server = Node::builder().handler(Answers).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let client = Node::builder().build();
    let peer = client.connect_extended(&addr(&listener)).await;

    let err = peer
        .call_timeout(1, "x", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    assert_eq!(server.stats().unsent_responses, 1);

    // A panic in encoding is a panic of the handler: its caller is told.
    let err = peer.call(2, "x").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Remote {
                status: Status::Panicked,
                ..
            }
        ),
        "{err}"
    );

    assert_eq!(peer.call(3, "still").await.expect("echo"), "still");
}
