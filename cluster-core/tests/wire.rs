//! The frame codec against frames captured from a real silly node, and
//! stream reassembly under every way a byte stream can be split.

use bytes::{Bytes, BytesMut};
use cluster_core::ProtocolError;
use cluster_core::wire::{ACK, Frame, FrameCodec, WireFormat, v1, v2};
use proptest::prelude::*;
use support::frames::{
    Decoded, check_extension, check_stream, decode_in_chunks, decode_whole, default_codec, encode,
};

mod support;

/// Captured by silly a625d30e (wire v1) and silly of 2026 (wire v2): the
/// same conversation. Stored once for the workspace, at its `tests/fixtures`.
const SILLY_FRAMES: &str = include_str!("../../tests/fixtures/silly-frames.txt");
const SILLY_FRAMES_V2: &str = include_str!("../../tests/fixtures/silly-frames-v2.txt");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `key=value` pairs of a fixture comment line; numbers may be hex.
fn field(comment: &str, key: &str) -> Option<u64> {
    let value = comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))?;
    Some(match value.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex field"),
        None => value.parse().expect("decimal field"),
    })
}

/// (description, frame bytes) for every captured frame of a fixture.
fn silly_frames(fixture: &'static str) -> Vec<(&'static str, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut comment = None;
    for line in fixture.lines() {
        if let Some(c) = line.strip_prefix("# ") {
            comment = Some(c);
        } else if !line.is_empty() {
            frames.push((
                comment.take().expect("each frame follows its comment"),
                hex(line),
            ));
        }
    }
    frames
}

#[test]
fn every_captured_silly_frame_decodes_and_reencodes_byte_for_byte() {
    replay(WireFormat::V1, SILLY_FRAMES, 2);
}

#[test]
fn every_captured_silly_v2_frame_decodes_and_reencodes_byte_for_byte() {
    replay(WireFormat::V2, SILLY_FRAMES_V2, 4);
}

/// Every frame of `fixture` decodes to the fields its comment documents,
/// and encoding those fields gives the captured bytes.
fn replay(wire: WireFormat, fixture: &'static str, header: usize) {
    let codec = default_codec(wire);
    let frames = silly_frames(fixture);
    assert_eq!(frames.len(), 10, "fixture holds ten frames");
    for (comment, bytes) in frames {
        let mut src = BytesMut::from(&bytes[..]);
        let frame = codec.decode(&mut src).expect("valid").expect("complete");
        assert!(src.is_empty(), "{comment}: whole frame consumed");
        let len = field(comment, "len").expect("len") as usize;
        assert_eq!(len + header, bytes.len(), "{comment}");
        let body_len = field(comment, "body_len").expect("body_len") as usize;
        // v1 comments also spell out the ACK bit; v2 ones leave it to the
        // session word.
        let ack = field(comment, "ack");
        match &frame {
            Frame::Request {
                session,
                cmd,
                trace_id,
                body,
            } => {
                assert!(comment.contains(" request "), "{comment}");
                assert!(matches!(ack, None | Some(0)), "{comment}");
                assert_eq!(
                    Some(u64::from(*session)),
                    field(comment, "session"),
                    "{comment}"
                );
                assert_eq!(Some(u64::from(*cmd)), field(comment, "cmd"), "{comment}");
                assert_eq!(Some(*trace_id), field(comment, "traceid"), "{comment}");
                assert_eq!(body.len(), body_len, "{comment}");
            }
            Frame::Response { session, body } => {
                assert!(comment.contains(" response "), "{comment}");
                assert!(matches!(ack, None | Some(1)), "{comment}");
                assert!(
                    comment.contains(&format!("(reply to session {session}")),
                    "{comment}"
                );
                assert_eq!(
                    Some(u64::from(*session | ACK)),
                    field(comment, "session_word"),
                    "{comment}"
                );
                assert_eq!(body.len(), body_len, "{comment}");
            }
        }
        let mut again = BytesMut::new();
        encode(&codec, &frame, &mut again);
        assert_eq!(&again[..], &bytes[..], "{comment}: re-encoded");
    }
}

#[test]
fn captured_traced_request_carries_silly_trace_layout() {
    for (wire, fixture, time) in [
        (WireFormat::V1, SILLY_FRAMES, 0xa1e7),
        (WireFormat::V2, SILLY_FRAMES_V2, 0xfc5e),
    ] {
        let (_, bytes) = silly_frames(fixture)
            .into_iter()
            .nth(8)
            .expect("traced ping frame");
        let frame = default_codec(wire)
            .decode(&mut BytesMut::from(&bytes[..]))
            .expect("valid")
            .expect("complete");
        let Frame::Request { trace_id, .. } = frame else {
            panic!("a request")
        };
        assert_eq!(
            trace_id,
            cluster_core::trace::compose(0x0102, time, 1, 0x0102),
            "{wire:?}"
        );
    }
}

#[test]
fn v2_layout_puts_the_header_first() {
    let codec = default_codec(WireFormat::V2);
    let mut dst = BytesMut::new();
    codec
        .encode_request(&mut dst, 5, 0x0103, 0x0102_a1e7_0001_0102, b"abc")
        .expect("small");
    let expected: Vec<u8> = [
        &19u32.to_le_bytes()[..],
        &5u32.to_le_bytes(),
        &0x0103u32.to_le_bytes(),
        &0x0102_a1e7_0001_0102u64.to_le_bytes(),
        b"abc",
    ]
    .concat();
    assert_eq!(&dst[..], &expected[..]);

    dst.clear();
    codec.encode_response(&mut dst, 5, b"xy").expect("small");
    let expected: Vec<u8> = [&6u32.to_le_bytes()[..], &(5 | ACK).to_le_bytes(), b"xy"].concat();
    assert_eq!(&dst[..], &expected[..]);
}

#[test]
fn v1_send_side_limits_are_65519_for_requests_and_65531_for_responses() {
    let codec = default_codec(WireFormat::V1);
    let mut dst = BytesMut::new();
    let max_request = vec![7u8; v1::MAX_REQUEST_BODY];
    codec
        .encode_request(&mut dst, 1, 2, 3, &max_request)
        .expect("fits exactly");
    assert_eq!(dst.len(), 2 + 65535);
    dst.clear();
    let err = codec
        .encode_request(&mut dst, 1, 2, 3, &vec![7u8; v1::MAX_REQUEST_BODY + 1])
        .unwrap_err();
    assert!(
        matches!(
            err,
            cluster_core::Error::TooLarge {
                size: 65520,
                limit: 65519
            }
        ),
        "{err}"
    );
    assert!(dst.is_empty(), "nothing written");

    codec
        .encode_response(&mut dst, 1, &vec![7u8; v1::MAX_RESPONSE_BODY])
        .expect("fits exactly");
    dst.clear();
    let err = codec
        .encode_response(&mut dst, 1, &vec![7u8; v1::MAX_RESPONSE_BODY + 1])
        .unwrap_err();
    assert!(
        matches!(
            err,
            cluster_core::Error::TooLarge {
                size: 65532,
                limit: 65531
            }
        ),
        "{err}"
    );
    assert!(dst.is_empty(), "nothing written");
}

#[test]
fn v2_send_side_respects_the_hard_limit() {
    let codec = FrameCodec::new(WireFormat::V2, 1000, 100);
    let mut dst = BytesMut::new();
    codec
        .encode_request(&mut dst, 1, 2, 3, &[0; 984])
        .expect("payload of exactly 1000");
    dst.clear();
    assert!(matches!(
        codec.encode_request(&mut dst, 1, 2, 3, &[0; 985]),
        Err(cluster_core::Error::TooLarge {
            size: 985,
            limit: 984
        })
    ));
    assert!(matches!(
        codec.encode_response(&mut dst, 1, &[0; 997]),
        Err(cluster_core::Error::TooLarge {
            size: 997,
            limit: 996
        })
    ));
    assert!(dst.is_empty());
}

#[test]
fn short_payloads_are_protocol_errors() {
    let v1 = default_codec(WireFormat::V1);
    // len 3: not even a session word.
    let err = v1
        .decode(&mut BytesMut::from(&[0, 3, 1, 2, 3][..]))
        .unwrap_err();
    assert_eq!(err, ProtocolError::ShortPayload { len: 3 });
    // len 0.
    let err = v1.decode(&mut BytesMut::from(&[0, 0][..])).unwrap_err();
    assert_eq!(err, ProtocolError::ShortPayload { len: 0 });
    // A request (ACK clear) of 15 bytes.
    let mut short = vec![0, 15];
    short.extend_from_slice(&[0; 11]);
    short.extend_from_slice(&7u32.to_le_bytes());
    let err = v1.decode(&mut BytesMut::from(&short[..])).unwrap_err();
    assert_eq!(err, ProtocolError::ShortRequest { len: 15 });
    // A response of exactly 4 bytes is a valid empty response.
    let mut ok = vec![0, 4];
    ok.extend_from_slice(&(7 | ACK).to_le_bytes());
    let frame = v1.decode(&mut BytesMut::from(&ok[..])).expect("valid");
    assert_eq!(
        frame,
        Some(Frame::Response {
            session: 7,
            body: Bytes::new()
        })
    );

    let v2 = default_codec(WireFormat::V2);
    let err = v2
        .decode(&mut BytesMut::from(&[2, 0, 0, 0, 1, 2][..]))
        .unwrap_err();
    assert_eq!(err, ProtocolError::ShortPayload { len: 2 });
    let mut short = 12u32.to_le_bytes().to_vec();
    short.extend_from_slice(&[9; 12]);
    short[4..8].copy_from_slice(&9u32.to_le_bytes());
    let err = v2.decode(&mut BytesMut::from(&short[..])).unwrap_err();
    assert_eq!(err, ProtocolError::ShortRequest { len: 12 });
}

#[test]
fn v2_oversize_length_is_refused_from_the_header_alone() {
    let codec = default_codec(WireFormat::V2);
    let mut src = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
    let err = codec.decode(&mut src).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::FrameTooLarge {
            len: u64::from(u32::MAX),
            limit: v2::DEFAULT_MAX_FRAME
        }
    );
}

#[test]
fn ten_thousand_queued_frames_decode_in_order() {
    for format in [WireFormat::V1, WireFormat::V2] {
        let codec = default_codec(format);
        let frames: Vec<Frame> = (0..10_000u32).map(sample_frame).collect();
        let mut stream = BytesMut::new();
        for frame in &frames {
            encode(&codec, frame, &mut stream);
        }
        let mut decoded = Vec::new();
        while let Some(frame) = codec.decode(&mut stream).expect("valid") {
            decoded.push(frame);
        }
        assert!(stream.is_empty());
        assert_eq!(decoded, frames, "{format:?}");
    }
}

fn sample_frame(i: u32) -> Frame {
    let body = Bytes::from(i.to_string().repeat((i % 7) as usize));
    if i % 3 == 0 {
        Frame::Response { session: i, body }
    } else {
        Frame::Request {
            session: i,
            cmd: i % 11,
            trace_id: u64::from(i) << 20,
            body,
        }
    }
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let body = proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
    prop_oneof![
        (0..=0x7fff_ffffu32, any::<u32>(), any::<u64>(), body.clone()).prop_map(
            |(session, cmd, trace_id, body)| {
                Frame::Request {
                    session,
                    cmd,
                    trace_id,
                    body,
                }
            }
        ),
        (0..=0x7fff_ffffu32, body).prop_map(|(session, body)| Frame::Response { session, body }),
    ]
}

proptest! {
    #[test]
    fn any_split_of_the_stream_decodes_to_the_same_frames(
        frames in proptest::collection::vec(arb_frame(), 1..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
        v2 in any::<bool>(),
    ) {
        let codec = default_codec(if v2 { WireFormat::V2 } else { WireFormat::V1 });
        let mut stream = BytesMut::new();
        for frame in &frames {
            encode(&codec, frame, &mut stream);
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let whole = Decoded::complete(frames);
        prop_assert_eq!(&decode_whole(&codec, &stream), &whole);
        prop_assert_eq!(&decode_in_chunks(&codec, &stream, &cuts), &whole);
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        prop_assert_eq!(&decode_in_chunks(&codec, &stream, &every_byte), &whole);
    }
}

/// Inputs kept from fuzzing (`fuzz/`): crashers once fixed, and seeds.
#[test]
fn fuzz_regression_inputs_keep_the_stream_properties() {
    for (format, dir) in [(WireFormat::V1, "frame_v1"), (WireFormat::V2, "frame_v2")] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz")
            .join(dir);
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz fixtures") {
            let path = entry.expect("fixture entry").path();
            let input = std::fs::read(&path).expect("fixture");
            let outcome = std::panic::catch_unwind(|| check_stream(format, &input));
            assert!(outcome.is_ok(), "{} fails again", path.display());
            checked += 1;
        }
        assert!(checked > 0, "no inputs in {}", dir.display());
    }
}

/// The extension's golden frames (PROTOCOL.md), written from its layout.
const EXTENSION_FRAMES: &str = include_str!("fixtures/extension-frames.txt");

/// The hex bytes of a `key=hex` field of a fixture comment.
fn hex_field(comment: &str, key: &str) -> Vec<u8> {
    let value = comment
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{comment}: no {key}"));
    hex(value)
}

#[test]
fn every_extension_golden_frame_decodes_and_encodes_byte_for_byte() {
    use cluster_core::Status;
    use cluster_core::wire::ext;
    let frames = silly_frames(EXTENSION_FRAMES);
    assert_eq!(frames.len(), 16, "eight frames of each wire format");
    for (comment, bytes) in frames {
        let wire = if comment.contains("wire=v2") {
            WireFormat::V2
        } else {
            WireFormat::V1
        };
        let codec = default_codec(wire);
        let kind = comment
            .split_whitespace()
            .find_map(|w| w.strip_prefix("kind="))
            .expect("kind");
        let session = field(comment, "session").expect("session") as u32;
        let frame = codec
            .decode(&mut BytesMut::from(&bytes[..]))
            .expect("valid")
            .expect("complete");
        let mut body = BytesMut::new();
        let encoded_as = match kind {
            "hello" => {
                assert_eq!(
                    frame,
                    Frame::Request {
                        session,
                        cmd: ext::HELLO_CMD,
                        trace_id: 0,
                        body: Bytes::from_static(ext::HELLO),
                    },
                    "{comment}"
                );
                frame.clone()
            }
            "hello_reply" => {
                assert_eq!(
                    frame,
                    Frame::Response {
                        session,
                        body: Bytes::from_static(ext::HELLO),
                    },
                    "{comment}"
                );
                frame.clone()
            }
            "request" | "cancel" => {
                let Frame::Request {
                    body: got,
                    cmd,
                    trace_id,
                    ..
                } = &frame
                else {
                    panic!("{comment}: not a request");
                };
                let (deadline, rest) = ext::split_request(got.clone()).expect("splits");
                let ms = deadline.map_or(0, |d| d.as_millis() as u32);
                let app = if kind == "cancel" {
                    assert_eq!(*cmd, ext::CANCEL_CMD, "{comment}");
                    let target = field(comment, "target").expect("target") as u32;
                    assert_eq!(ext::cancelled_session(&rest), Ok(target), "{comment}");
                    target.to_le_bytes().to_vec()
                } else {
                    assert_eq!(u64::from(ms), field(comment, "deadline").expect("deadline"));
                    assert_eq!(rest, hex_field(comment, "body"), "{comment}");
                    hex_field(comment, "body")
                };
                let word = ext::deadline_word(deadline);
                ext::put_request_body(&mut body, word, &app);
                assert_eq!(*trace_id, field(comment, "trace").expect("trace"));
                Frame::Request {
                    session,
                    cmd: field(comment, "cmd").expect("cmd") as u32,
                    trace_id: *trace_id,
                    body: body.split().freeze(),
                }
            }
            "ok" | "status" => {
                let Frame::Response { body: got, .. } = &frame else {
                    panic!("{comment}: not a response");
                };
                match ext::split_response(got.clone()).expect("splits") {
                    ext::Reply::Ok(value) => {
                        assert_eq!(kind, "ok", "{comment}");
                        assert_eq!(value, hex_field(comment, "body"));
                        ext::put_ok(&mut body, &value);
                    }
                    ext::Reply::Failed(status, message) => {
                        assert_eq!(kind, "status", "{comment}");
                        let code = field(comment, "status").expect("status") as u8;
                        assert_eq!(status, Status::from_code(code));
                        assert_eq!(message, hex_field(comment, "message"));
                        let text = std::str::from_utf8(&message).expect("utf8");
                        ext::put_failed(&mut body, status, text);
                    }
                }
                Frame::Response {
                    session,
                    body: body.split().freeze(),
                }
            }
            other => panic!("unknown kind {other}"),
        };
        let mut again = BytesMut::new();
        encode(&codec, &encoded_as, &mut again);
        assert_eq!(again, bytes, "{comment}: re-encodes byte for byte");
    }
}

/// The extension's fuzz property over the golden frames and random bytes.
#[test]
fn extension_bodies_split_and_join_on_any_frames() {
    let golden: Vec<u8> = silly_frames(EXTENSION_FRAMES)
        .into_iter()
        .filter(|(comment, _)| comment.contains("wire=v1"))
        .flat_map(|(_, bytes)| bytes)
        .collect();
    check_extension(WireFormat::V1, &golden);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let stream: Vec<u8> = (0..64)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        check_extension(WireFormat::V1, &stream);
        check_extension(WireFormat::V2, &stream);
    }
}
