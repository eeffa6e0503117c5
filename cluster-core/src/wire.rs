//! The frame codec: silly's cluster wire formats.
//!
//! A connection carries frames in both directions; requests and responses of
//! both directions interleave. Every payload has a 4-byte session word whose
//! top bit ([`ACK`]) marks a response. The two formats differ only in where
//! the header sits:
//!
//! * [`v1`] (the default): `len:u16 BE | body | traceid:u64 | cmd:u32 | session:u32`,
//!   responses `len:u16 BE | body | session|ACK`;
//! * [`v2`]: `len:u32 | session:u32 | cmd:u32 | traceid:u64 | body`,
//!   responses `len:u32 | session|ACK | body`.
//!
//! Integers are little-endian except v1's length. [`FrameCodec`] selects one
//! format and applies the node's size limits.

pub mod ext;
pub mod v1;
pub mod v2;

use bytes::{Bytes, BytesMut};

use crate::body::Body;
use crate::error::{Error, ProtocolError};

/// The session word's top bit: set on responses, clear on requests.
pub const ACK: u32 = 0x8000_0000;

/// Which of silly's two frame layouts a node speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireFormat {
    /// 2-byte big-endian length, header as a trailer. silly until early 2026.
    #[default]
    V1,
    /// 4-byte little-endian length, header first. silly 2026 and later.
    V2,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A request (or a one-way send: the wire does not tell them apart).
    Request {
        /// Chosen by the sender, below 2^31.
        session: u32,
        /// The command id.
        cmd: u32,
        /// The caller's trace id.
        trace_id: u64,
        /// The encoded message.
        body: Bytes,
    },
    /// A response to the request with the same session.
    Response {
        /// The request's session, without the ACK bit.
        session: u32,
        /// The encoded message.
        body: Bytes,
    },
}

/// Encodes and decodes frames of one wire format under the node's limits.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    format: WireFormat,
    max_frame: usize,
    warn_frame: usize,
}

impl FrameCodec {
    /// A codec for `format`. `max_frame` is v2's hard limit on a payload
    /// (larger frames are refused on send and close the connection on
    /// receive); `warn_frame` is v2's soft limit, above which a frame is only
    /// logged. v1's 16-bit length is its own hard limit.
    pub fn new(format: WireFormat, max_frame: usize, warn_frame: usize) -> Self {
        Self {
            format,
            max_frame,
            warn_frame,
        }
    }

    /// The wire format.
    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// Appends a request frame to `dst`, or returns [`Error::TooLarge`]
    /// (or the body's own error) without touching `dst`.
    pub fn encode_request<B: Body + ?Sized>(
        &self,
        dst: &mut BytesMut,
        session: u32,
        cmd: u32,
        trace_id: u64,
        body: &B,
    ) -> Result<(), Error> {
        match self.format {
            WireFormat::V1 => v1::encode_request(dst, session, cmd, trace_id, body),
            WireFormat::V2 => {
                let start = dst.len();
                v2::encode_request(dst, self.max_frame, session, cmd, trace_id, body)?;
                self.warn_if_large(dst.len() - start - 4);
                Ok(())
            }
        }
    }

    /// Appends a response frame to `dst`, or returns [`Error::TooLarge`]
    /// (or the body's own error) without touching `dst`.
    pub fn encode_response<B: Body + ?Sized>(
        &self,
        dst: &mut BytesMut,
        session: u32,
        body: &B,
    ) -> Result<(), Error> {
        match self.format {
            WireFormat::V1 => v1::encode_response(dst, session, body),
            WireFormat::V2 => {
                let start = dst.len();
                v2::encode_response(dst, self.max_frame, session, body)?;
                self.warn_if_large(dst.len() - start - 4);
                Ok(())
            }
        }
    }

    /// Takes one complete frame off the front of `src`. `Ok(None)` means more
    /// bytes are needed; [`FrameCodec::missing`] tells how many.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        match self.format {
            WireFormat::V1 => v1::decode(src),
            WireFormat::V2 => {
                let frame = v2::decode(src, self.max_frame)?;
                if let Some(Frame::Request { body, .. } | Frame::Response { body, .. }) = &frame {
                    self.warn_if_large(body.len());
                }
                Ok(frame)
            }
        }
    }

    /// How many more bytes `src` needs before the next frame is complete, as
    /// far as its header tells (at least 1 when the header is incomplete).
    /// Used to size reads without trusting the header with an allocation.
    pub fn missing(&self, src: &[u8]) -> usize {
        let (header, len) = match self.format {
            WireFormat::V1 => (
                2,
                src.get(..2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize),
            ),
            WireFormat::V2 => (
                4,
                src.get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
            ),
        };
        match len {
            Some(len) => (header + len).saturating_sub(src.len()),
            None => header - src.len(),
        }
    }

    fn warn_if_large(&self, len: usize) {
        if len > self.warn_frame {
            tracing::warn!(len, soft_limit = self.warn_frame, "large frame");
        }
    }
}

/// Checks a body of known length against `limit` and makes room for its
/// frame (`framing` bytes besides the body); returns where the frame
/// starts.
fn begin<B: Body + ?Sized>(
    dst: &mut BytesMut,
    body: &B,
    limit: usize,
    framing: usize,
) -> Result<usize, Error> {
    if let Some(size) = body.exact_len() {
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        dst.reserve(framing + size);
    }
    Ok(dst.len())
}

/// Writes `body` into the frame that starts at `start`, or cuts the frame
/// off again when the body fails or is longer than `limit`; returns the
/// body's length.
fn put_body<B: Body + ?Sized>(
    dst: &mut BytesMut,
    start: usize,
    body: &B,
    limit: usize,
) -> Result<usize, Error> {
    let at = dst.len();
    let written = body.write_to(dst).map(|()| dst.len() - at);
    match written {
        Ok(size) if size <= limit => Ok(size),
        Ok(size) => {
            dst.truncate(start);
            Err(Error::TooLarge { size, limit })
        }
        Err(error) => {
            dst.truncate(start);
            Err(error)
        }
    }
}

/// Reads a little-endian u32 at `at`; callers have checked the length.
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a little-endian u64 at `at`; callers have checked the length.
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}
