//! Wire v2, silly's 4-byte header format: `len:u32 | payload`, where a
//! request payload is `session:u32 | cmd:u32 | traceid:u64 | body` and a
//! response payload is `(session|ACK):u32 | body`.

use bytes::{Buf, BufMut, BytesMut};

use super::{ACK, Frame, begin, le_u32, le_u64, put_body};
use crate::body::Body;
use crate::error::{Error, ProtocolError};

/// Bytes a request puts before its body.
pub const REQUEST_HEADER: usize = 16;
/// Bytes a response puts before its body.
pub const RESPONSE_HEADER: usize = 4;
/// silly's default hard limit on a payload: 128 MiB.
pub const DEFAULT_MAX_FRAME: usize = 128 * 1024 * 1024;
/// silly's default soft limit, above which frames are logged: 65535.
pub const DEFAULT_WARN_FRAME: usize = 65535;

/// Appends a request frame, or fails with [`Error::TooLarge`] when the
/// payload would exceed `max_frame` (or with the body's own error),
/// leaving `dst` as it was.
pub fn encode_request<B: Body + ?Sized>(
    dst: &mut BytesMut,
    max_frame: usize,
    session: u32,
    cmd: u32,
    trace_id: u64,
    body: &B,
) -> Result<(), Error> {
    let limit = body_limit(max_frame, REQUEST_HEADER);
    let start = begin(dst, body, limit, 4 + REQUEST_HEADER)?;
    dst.put_u32_le(0);
    dst.put_u32_le(session);
    dst.put_u32_le(cmd);
    dst.put_u64_le(trace_id);
    let len = put_body(dst, start, body, limit)?;
    set_len(dst, start, len + REQUEST_HEADER);
    Ok(())
}

/// Appends a response frame, or fails with [`Error::TooLarge`] when the
/// payload would exceed `max_frame` (or with the body's own error),
/// leaving `dst` as it was.
pub fn encode_response<B: Body + ?Sized>(
    dst: &mut BytesMut,
    max_frame: usize,
    session: u32,
    body: &B,
) -> Result<(), Error> {
    let limit = body_limit(max_frame, RESPONSE_HEADER);
    let start = begin(dst, body, limit, 4 + RESPONSE_HEADER)?;
    dst.put_u32_le(0);
    dst.put_u32_le(session | ACK);
    let len = put_body(dst, start, body, limit)?;
    set_len(dst, start, len + RESPONSE_HEADER);
    Ok(())
}

/// The largest body a payload of at most `max_frame` bytes (and of a u32
/// length) holds after its `header`.
fn body_limit(max_frame: usize, header: usize) -> usize {
    max_frame.min(u32::MAX as usize).saturating_sub(header)
}

/// Fills in the length of the frame that starts at `start`; `put_body`
/// has checked that it fits.
#[inline]
fn set_len(dst: &mut BytesMut, start: usize, payload: usize) {
    let len = u32::try_from(payload).unwrap_or(u32::MAX);
    dst[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Takes one frame off the front of `src`; `Ok(None)` if it is incomplete.
/// A length above `max_frame` is refused from the header alone, before any
/// of the payload is buffered.
pub fn decode(src: &mut BytesMut, max_frame: usize) -> Result<Option<Frame>, ProtocolError> {
    if src.len() < 4 {
        return Ok(None);
    }
    let len = le_u32(src, 0) as usize;
    if len > max_frame {
        return Err(ProtocolError::FrameTooLarge {
            len: len as u64,
            limit: max_frame,
        });
    }
    if len < 4 {
        return Err(ProtocolError::ShortPayload { len });
    }
    if src.len() < 4 + len {
        return Ok(None);
    }
    let word = le_u32(src, 4);
    if word & ACK == 0 && len < REQUEST_HEADER {
        return Err(ProtocolError::ShortRequest { len });
    }
    src.advance(4);
    let mut payload = src.split_to(len);
    if word & ACK != 0 {
        payload.advance(RESPONSE_HEADER);
        return Ok(Some(Frame::Response {
            session: word & !ACK,
            body: payload.freeze(),
        }));
    }
    let cmd = le_u32(&payload, 4);
    let trace_id = le_u64(&payload, 8);
    payload.advance(REQUEST_HEADER);
    Ok(Some(Frame::Request {
        session: word,
        cmd,
        trace_id,
        body: payload.freeze(),
    }))
}
