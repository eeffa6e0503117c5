//! Properties of the frame decoder over a byte stream, shared by the tests
//! and the fuzz targets (`fuzz/` includes this file by path, so it uses
//! nothing but `cluster_core` and `bytes`).
//!
//! Whatever the bytes, and however they are cut into reads:
//! * decoding never panics;
//! * it yields the same frames, then the same error or the same number of
//!   bytes left waiting, as decoding the whole stream at once;
//! * re-encoding the frames reproduces exactly the bytes they came from;
//! * [`FrameCodec::missing`] never promises a frame early nor holds one back:
//!   fewer bytes than it asks for decode nothing, and once the header is in,
//!   exactly that many complete the frame.

use bytes::BytesMut;
use cluster_core::ProtocolError;
use cluster_core::wire::{Frame, FrameCodec, WireFormat, v2};

/// A codec with the limits a node has by default.
pub fn default_codec(format: WireFormat) -> FrameCodec {
    FrameCodec::new(format, v2::DEFAULT_MAX_FRAME, v2::DEFAULT_WARN_FRAME)
}

/// Appends `frame` to `dst`; panics if it does not fit the codec's limits.
pub fn encode(codec: &FrameCodec, frame: &Frame, dst: &mut BytesMut) {
    match frame {
        Frame::Request {
            session,
            cmd,
            trace_id,
            body,
        } => codec.encode_request(dst, *session, *cmd, *trace_id, body),
        Frame::Response { session, body } => codec.encode_response(dst, *session, body),
    }
    .expect("within limits")
}

/// What a stream decodes to.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Every frame, in order.
    pub frames: Vec<Frame>,
    /// The error that ended the stream, or how many bytes wait for more.
    pub end: Result<usize, ProtocolError>,
}

impl Decoded {
    /// A stream of whole frames with nothing left over.
    pub fn complete(frames: Vec<Frame>) -> Self {
        Self { frames, end: Ok(0) }
    }
}

/// Decodes `stream` fed in pieces ending at each of `cuts` (ascending
/// offsets; out-of-range ones are clamped) and then the rest, checking after
/// every piece what [`FrameCodec::missing`] promised.
pub fn decode_in_chunks(codec: &FrameCodec, stream: &[u8], cuts: &[usize]) -> Decoded {
    let header = codec.missing(&[]);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    // Set while the front frame is incomplete: the buffer length at which
    // `missing` said it would be (or, header still incomplete, its header
    // would be) complete, and whether the header was already in.
    let mut promise: Option<(usize, bool)> = None;
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        let cut = cut.clamp(at, stream.len());
        buf.extend_from_slice(&stream[at..cut]);
        at = cut;
        loop {
            let buffered = buf.len();
            let decoded = codec.decode(&mut buf);
            if let Some((target, header_was_in)) = promise.take() {
                let early = buffered < target;
                let waiting = matches!(decoded, Ok(None));
                assert!(!early || waiting, "decoded before `missing` said it could");
                assert!(
                    early || !header_was_in || !waiting,
                    "`missing` asked for {target} bytes, yet the frame is still incomplete"
                );
                if early {
                    promise = Some((target, header_was_in));
                }
            }
            match decoded {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {
                    if promise.is_none() {
                        let missing = codec.missing(&buf);
                        assert!(missing > 0, "an incomplete frame needs at least a byte");
                        promise = Some((buf.len() + missing, buf.len() >= header));
                    }
                    break;
                }
                Err(error) => {
                    return Decoded {
                        frames,
                        end: Err(error),
                    };
                }
            }
        }
    }
    Decoded {
        frames,
        end: Ok(buf.len()),
    }
}

/// Decodes `stream` whole and checks that the frames re-encode to exactly
/// the bytes they were decoded from.
pub fn decode_whole(codec: &FrameCodec, stream: &[u8]) -> Decoded {
    let decoded = decode_in_chunks(codec, stream, &[]);
    let mut reencoded = BytesMut::new();
    for frame in &decoded.frames {
        encode(codec, frame, &mut reencoded);
    }
    assert_eq!(
        &reencoded[..],
        &stream[..reencoded.len()],
        "frames re-encode to the bytes they came from"
    );
    decoded
}

/// The fuzz property. `input` is `n | n piece lengths | stream`: the stream
/// is decoded whole, in pieces of those lengths (cycled), and a byte at a
/// time, and all three must agree.
pub fn check_stream(format: WireFormat, input: &[u8]) {
    let codec = default_codec(format);
    let (pieces, stream) = match input.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n % 16).min(rest.len())),
        None => (&[][..], input),
    };
    let whole = decode_whole(&codec, stream);
    if !pieces.is_empty() {
        let mut cuts = Vec::new();
        let mut at = 0;
        for &piece in pieces.iter().cycle() {
            at += usize::from(piece) + 1;
            if at >= stream.len() {
                break;
            }
            cuts.push(at);
        }
        assert_eq!(decode_in_chunks(&codec, stream, &cuts), whole, "in pieces");
    }
    let every_byte: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(
        decode_in_chunks(&codec, stream, &every_byte),
        whole,
        "a byte at a time"
    );
}

/// The fuzz property of the extension: the frames of `stream`, read as a
/// connection that agreed on it reads them, either fail to split with a
/// protocol error or split into parts that put back together give the
/// body they came from. Never a panic.
pub fn check_extension(format: WireFormat, stream: &[u8]) {
    use cluster_core::wire::ext;
    let codec = default_codec(format);
    for frame in decode_whole(&codec, stream).frames {
        match frame {
            Frame::Request { cmd, body, .. } => {
                let Ok((deadline, rest)) = ext::split_request(body.clone()) else {
                    continue;
                };
                if cmd == ext::CANCEL_CMD {
                    let _ = ext::cancelled_session(&rest);
                }
                let word = deadline.map_or(0, |d| d.as_millis() as u32);
                let mut again = BytesMut::new();
                ext::put_request_body(&mut again, word, &rest);
                assert_eq!(again, body, "request body splits and joins");
            }
            Frame::Response { body, .. } => {
                let Ok(reply) = ext::split_response(body.clone()) else {
                    continue;
                };
                let mut again = BytesMut::new();
                match reply {
                    ext::Reply::Ok(value) => ext::put_ok(&mut again, &value),
                    ext::Reply::Failed(status, message) => {
                        again.extend_from_slice(&[status.code()]);
                        again.extend_from_slice(&message);
                    }
                }
                assert_eq!(again, body, "response body splits and joins");
            }
        }
    }
}
