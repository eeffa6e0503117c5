//! Wire v1, silly's seed format: `len:u16 BE | payload`, where a request
//! payload is `body | traceid:u64 | cmd:u32 | session:u32` and a response
//! payload is `body | (session|ACK):u32`.

use bytes::{Buf, BufMut, BytesMut};

use super::{ACK, Frame, begin, le_u32, le_u64, put_body};
use crate::body::Body;
use crate::error::{Error, ProtocolError};

/// Bytes a request adds after its body.
pub const REQUEST_TRAILER: usize = 16;
/// Bytes a response adds after its body.
pub const RESPONSE_TRAILER: usize = 4;
/// The largest request body: the 16-bit length also covers the trailer.
pub const MAX_REQUEST_BODY: usize = u16::MAX as usize - REQUEST_TRAILER;
/// The largest response body.
pub const MAX_RESPONSE_BODY: usize = u16::MAX as usize - RESPONSE_TRAILER;

/// Appends a request frame, or fails with [`Error::TooLarge`] (or the
/// body's own error) leaving `dst` as it was.
pub fn encode_request<B: Body + ?Sized>(
    dst: &mut BytesMut,
    session: u32,
    cmd: u32,
    trace_id: u64,
    body: &B,
) -> Result<(), Error> {
    let start = begin(dst, body, MAX_REQUEST_BODY, 2 + REQUEST_TRAILER)?;
    dst.put_u16(0);
    let len = put_body(dst, start, body, MAX_REQUEST_BODY)?;
    dst.put_u64_le(trace_id);
    dst.put_u32_le(cmd);
    dst.put_u32_le(session);
    set_len(dst, start, len + REQUEST_TRAILER);
    Ok(())
}

/// Appends a response frame, or fails with [`Error::TooLarge`] (or the
/// body's own error) leaving `dst` as it was.
pub fn encode_response<B: Body + ?Sized>(
    dst: &mut BytesMut,
    session: u32,
    body: &B,
) -> Result<(), Error> {
    let start = begin(dst, body, MAX_RESPONSE_BODY, 2 + RESPONSE_TRAILER)?;
    dst.put_u16(0);
    let len = put_body(dst, start, body, MAX_RESPONSE_BODY)?;
    dst.put_u32_le(session | ACK);
    set_len(dst, start, len + RESPONSE_TRAILER);
    Ok(())
}

/// Fills in the length of the frame that starts at `start`; `put_body`
/// has checked that it fits.
#[inline]
fn set_len(dst: &mut BytesMut, start: usize, payload: usize) {
    let len = u16::try_from(payload).unwrap_or(u16::MAX);
    dst[start..start + 2].copy_from_slice(&len.to_be_bytes());
}

/// Takes one frame off the front of `src`; `Ok(None)` if it is incomplete.
pub fn decode(src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
    let Some(&[hi, lo]) = src.get(..2) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]) as usize;
    if len < 4 {
        return Err(ProtocolError::ShortPayload { len });
    }
    if src.len() < 2 + len {
        return Ok(None);
    }
    let word = le_u32(src, 2 + len - 4);
    if word & ACK == 0 && len < REQUEST_TRAILER {
        return Err(ProtocolError::ShortRequest { len });
    }
    src.advance(2);
    let mut payload = src.split_to(len);
    if word & ACK != 0 {
        payload.truncate(len - RESPONSE_TRAILER);
        return Ok(Some(Frame::Response {
            session: word & !ACK,
            body: payload.freeze(),
        }));
    }
    let body_len = len - REQUEST_TRAILER;
    let trace_id = le_u64(&payload, body_len);
    let cmd = le_u32(&payload, body_len + 8);
    payload.truncate(body_len);
    Ok(Some(Frame::Request {
        session: word,
        cmd,
        trace_id,
        body: payload.freeze(),
    }))
}
