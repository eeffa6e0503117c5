//! The extension: status replies, deadlines and cancel notices between
//! two nodes that agreed on it, carried inside silly's own frames (see
//! PROTOCOL.md). Nothing here is ever sent on a connection without the
//! agreement, so a silly node never sees it.
//!
//! * hello: a request on [`HELLO_CMD`] whose body is [`HELLO`]; the reply
//!   echoes [`HELLO`]. Both travel as plain frames.
//! * after it, every request body starts with `deadline_ms:u32` (the
//!   caller's remaining time, 0 for none) and every response body with
//!   `status:u8` (0: the rest is the body; otherwise the rest is a UTF-8
//!   message, see [`Status`]).
//! * a cancel notice is a request on [`CANCEL_CMD`] whose body (after its
//!   deadline word) is the cancelled request's `session:u32`.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::ProtocolError;
pub use crate::error::Status;

/// The capability a node's directory record lists when it answers hellos,
/// so that nodes calling it by name dial it with one.
pub const CAPABILITY: &str = "cluster-ext/1";
/// The command id of the hello. Above every id silly's tooling allocates.
pub const HELLO_CMD: u32 = 0xFFFF_FF00;
/// The command id of a cancel notice.
pub const CANCEL_CMD: u32 = 0xFFFF_FF01;
/// The hello's body: magic and extension version 1.
pub const HELLO: &[u8] = b"CLX\x01";
/// Bytes an agreed request body starts with.
pub const REQUEST_PREFIX: usize = 4;
/// Bytes an agreed response body starts with.
pub const RESPONSE_PREFIX: usize = 1;
/// The status byte of a successful agreed response.
pub const OK: u8 = 0;

/// What an agreed response body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The handler's response.
    Ok(Bytes),
    /// A status and its message.
    Failed(Status, Bytes),
}

/// The deadline word of a request sent with `remaining` time left: whole
/// milliseconds rounded up (a call with time left never says "none"),
/// saturating at `u32::MAX`; `None` is 0.
pub fn deadline_word(remaining: Option<Duration>) -> u32 {
    match remaining {
        None => 0,
        Some(d) => u32::try_from(d.as_nanos().div_ceil(1_000_000))
            .unwrap_or(u32::MAX)
            .max(1),
    }
}

/// Writes an agreed request body: the deadline word, then `body`.
pub fn put_request_body(dst: &mut BytesMut, deadline: u32, body: &[u8]) {
    dst.put_u32_le(deadline);
    dst.put_slice(body);
}

/// Writes an agreed successful response body.
pub fn put_ok(dst: &mut BytesMut, body: &[u8]) {
    dst.put_u8(OK);
    dst.put_slice(body);
}

/// Writes an agreed failed response body.
pub fn put_failed(dst: &mut BytesMut, status: Status, message: &str) {
    dst.put_u8(status.code());
    dst.put_slice(message.as_bytes());
}

/// Splits an agreed request body into its deadline (`None` for 0) and body.
pub fn split_request(mut body: Bytes) -> Result<(Option<Duration>, Bytes), ProtocolError> {
    if body.len() < REQUEST_PREFIX {
        return Err(ProtocolError::ShortExtension { len: body.len() });
    }
    let ms = body.get_u32_le();
    Ok((
        (ms != 0).then(|| Duration::from_millis(u64::from(ms))),
        body,
    ))
}

/// Reads an agreed response body.
pub fn split_response(mut body: Bytes) -> Result<Reply, ProtocolError> {
    if body.is_empty() {
        return Err(ProtocolError::ShortExtension { len: 0 });
    }
    match body.get_u8() {
        OK => Ok(Reply::Ok(body)),
        code => Ok(Reply::Failed(Status::from_code(code), body)),
    }
}

/// The session a cancel notice's body (after its deadline word) names.
pub fn cancelled_session(body: &[u8]) -> Result<u32, ProtocolError> {
    match body {
        &[a, b, c, d] => Ok(u32::from_le_bytes([a, b, c, d])),
        _ => Err(ProtocolError::ShortExtension { len: body.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_and_saturates() {
        assert_eq!(deadline_word(None), 0);
        assert_eq!(deadline_word(Some(Duration::from_micros(1))), 1);
        assert_eq!(deadline_word(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(deadline_word(Some(Duration::MAX)), u32::MAX);
    }

    #[test]
    fn status_codes_round_trip() {
        for code in 1..=u8::MAX {
            assert_eq!(Status::from_code(code).code(), code);
        }
    }

    #[test]
    fn short_bodies_are_protocol_errors() {
        assert!(split_request(Bytes::from_static(b"abc")).is_err());
        assert!(split_response(Bytes::new()).is_err());
        assert!(cancelled_session(b"abc").is_err());
    }
}
