//! Whole messages: raw encodings, and cluster bodies (`pack(encode(msg))`).
//!
//! Packing needs the complete encoding first, so bodies are encoded into a
//! per-thread scratch buffer that is reused from message to message: steady
//! state encoding and decoding allocate nothing but the decoded values. A
//! small body is unpacked on the stack instead.

use std::cell::RefCell;

use bytes::BytesMut;

use crate::zproto::pack::{StackBuf, unpack_small};
use crate::zproto::{Reader, Writer, pack, unpack};
use crate::{DecodeError, EncodeError};

/// Packed bodies up to this size are first unpacked on the stack.
const SMALL_PACKED: usize = 128;

/// The stack buffer for them, as large as a small body (see `pack`) and
/// small enough to zero-fill without a call.
const SMALL_UNPACKED: usize = 128;

/// Scratch buffers larger than this are not kept after use.
const SCRATCH_KEEP: usize = 1 << 20;

thread_local! {
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `f` with an empty scratch buffer.
fn with_scratch<T>(f: impl FnOnce(&mut BytesMut) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            let out = f(&mut scratch);
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = BytesMut::new();
            }
            out
        }
        // Only reachable if `f` itself encodes a body: use a fresh buffer.
        Err(_) => f(&mut BytesMut::new()),
    })
}

/// Appends an encoding made by `f`; on error `dst` is left as it was.
pub(crate) fn encode_raw(
    dst: &mut BytesMut,
    f: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = dst.len();
    let result = f(&mut Writer::new(dst));
    if result.is_err() {
        dst.truncate(start);
    }
    result
}

/// Appends `pack` of the encoding made by `f`.
pub(crate) fn encode_packed(
    dst: &mut BytesMut,
    f: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    with_scratch(|scratch| {
        encode_raw(scratch, f)?;
        pack(scratch, dst);
        Ok(())
    })
}

/// Unpacks `src` and decodes the result with `f`.
pub(crate) fn decode_packed<T>(
    src: &[u8],
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    if src.len() <= SMALL_PACKED {
        let mut buf = StackBuf::<SMALL_UNPACKED>::new();
        if unpack_small(src, &mut buf)? {
            return f(&mut Reader::new(buf.as_slice()));
        }
    }
    with_scratch(|scratch| {
        unpack(src, scratch)?;
        f(&mut Reader::new(scratch))
    })
}
