//! Where pack and unpack write: the caller's `BytesMut`, or a fixed stack
//! buffer that a small message is built in before one append (or read from
//! directly), which spares the per-group capacity checks and copies.

use bytes::{BufMut, BytesMut};

use super::{HIGH, gather, nonzero_bytes};

/// How many sparse groups a `BytesMut` gathers on the stack before appending
/// them.
const SPARSE_BATCH: usize = 8 * 16;

/// An output for pack and unpack.
pub(super) trait Out {
    /// Whether `n` more bytes fit; a `BytesMut` always has room.
    fn fits(&self, n: usize) -> bool;

    /// Appends one byte.
    fn put_u8(&mut self, byte: u8);

    /// Appends one whole group.
    fn put_group(&mut self, group: &[u8; 8]);

    /// Appends `bytes`.
    fn put_slice(&mut self, bytes: &[u8]);

    /// Appends `n` zero bytes.
    fn put_zeros(&mut self, n: usize);

    /// Appends the packed form of the whole groups at the start of `src`
    /// up to the first dense one: each one's header and non-zero bytes.
    /// Returns how many bytes of `src` that took.
    fn put_sparse(&mut self, src: &[u8]) -> usize;
}

impl Out for BytesMut {
    #[inline]
    fn fits(&self, _: usize) -> bool {
        true
    }

    #[inline]
    fn put_u8(&mut self, byte: u8) {
        BufMut::put_u8(self, byte);
    }

    #[inline]
    fn put_group(&mut self, group: &[u8; 8]) {
        self.extend_from_slice(group);
    }

    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn put_zeros(&mut self, n: usize) {
        self.put_bytes(0, n);
    }

    fn put_sparse(&mut self, src: &[u8]) -> usize {
        // Between and after dense runs most calls find no sparse group:
        // spare them the stack buffer and the append.
        match src.first_chunk::<8>() {
            Some(group) if nonzero_bytes(group) != HIGH => {}
            _ => return 0,
        }
        // Storing bytes at positions known only as they go needs initialized
        // space to store into: a stack buffer, filled a batch of groups at a
        // time, costs less than zero-filling `self`.
        let mut done = 0;
        for batch in src.chunks(SPARSE_BATCH) {
            // No slack needed: a sparse group packs to at most 8 bytes.
            let mut buf = StackBuf::<SPARSE_BATCH>::new();
            let used = buf.put_sparse(batch);
            self.extend_from_slice(buf.as_slice());
            done += used;
            if used < batch.len() {
                break;
            }
        }
        done
    }
}

/// `N` bytes on the stack, filled from the front.
///
/// Writes past `N` panic: callers size `N` for the most their input can
/// produce, or ask [`Out::fits`] first. [`Out::put_sparse`] takes 8 bytes
/// for each group before it knows how many it keeps, so `N` needs 7 bytes
/// of slack for it.
#[derive(Debug)]
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    #[inline]
    pub(crate) fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// The bytes written so far.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Out for StackBuf<N> {
    #[inline]
    fn fits(&self, n: usize) -> bool {
        n <= N - self.len
    }

    #[inline]
    fn put_u8(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    #[inline]
    fn put_group(&mut self, group: &[u8; 8]) {
        self.buf[self.len..self.len + 8].copy_from_slice(group);
        self.len += 8;
    }

    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[inline]
    fn put_zeros(&mut self, n: usize) {
        self.buf[self.len..self.len + n].fill(0);
        self.len += n;
    }

    #[inline]
    fn put_sparse(&mut self, src: &[u8]) -> usize {
        let mut rest = src;
        while let Some((group, tail)) = rest.split_first_chunk::<8>() {
            let nonzero = nonzero_bytes(group);
            if nonzero == HIGH {
                break;
            }
            rest = tail;
            let at = self.len;
            // A header and at most 7 kept bytes.
            let out = &mut self.buf[at..at + 8];
            let header = gather(nonzero);
            out[0] = header;
            // One step per non-zero byte, the lowest set bit saying which:
            // the groups of small messages are mostly zeros. Masking with 7
            // spares bounds checks; `n` stays below 8 since the group is not
            // dense.
            let mut n = 1;
            let mut bits = header;
            while bits != 0 {
                out[n & 7] = group[bits.trailing_zeros() as usize & 7];
                n += 1;
                bits &= bits - 1;
            }
            self.len = at + n;
        }
        src.len() - rest.len()
    }
}
