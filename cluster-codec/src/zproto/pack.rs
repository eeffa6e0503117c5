//! Pack and unpack: zproto's schema-independent compression of zero bytes.
//!
//! Input is cut into groups of 8 bytes (the last may be shorter). Each group
//! becomes a header byte whose bit `k` says whether byte `k` is non-zero,
//! followed by the non-zero bytes. After a group of 8 non-zero bytes (header
//! `0xff`) with input left, a count byte `C` says how many of the following
//! groups are copied verbatim: groups with at least 6 non-zero bytes join that
//! run, up to 255 of them. Unpacking always yields a multiple of 8 bytes, so
//! `unpack(pack(x))` is `x` padded with zeros; a struct encoding carries its
//! own size, which makes the padding harmless.
//!
//! Neither direction zero-fills its worst-case output size: pack finds a
//! verbatim run with word tests and copies it whole, and gathers sparse
//! groups in a stack buffer; unpack appends groups and runs. A small message
//! is packed whole in a stack buffer and appended once, and
//! [`unpack_small`] unpacks into one for decoding in place.

use bytes::BytesMut;

use crate::DecodeError;

mod out;

use self::out::Out;
pub(crate) use self::out::StackBuf;

/// A group with at least this many non-zero bytes may join a verbatim run.
const RUN_MIN_NONZERO: u32 = 6;

/// The most groups one run-count byte can announce.
const RUN_MAX: usize = 255;

/// Inputs up to this size are packed in a stack buffer.
const SMALL: usize = 128;

/// The bytes [`run_len`] tests at once for a dense run.
const DENSE_BLOCK: usize = 64;

/// The low 7 bits of every byte of a group read as a `u64`.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte: what [`nonzero_bytes`] gives for a dense group.
const HIGH: u64 = !LOW7;

/// The largest packed size of `len` input bytes (silly sizes its buffer so).
pub const fn packed_bound(len: usize) -> usize {
    len + 2 * len.div_ceil(2048) + 1
}

/// Appends the packed form of `src` to `dst`; empty input packs to nothing.
pub fn pack(src: &[u8], dst: &mut BytesMut) {
    if src.len() <= SMALL {
        // 7 bytes of slack for `put_sparse`.
        let mut out = StackBuf::<{ packed_bound(SMALL) + 7 }>::new();
        pack_into(src, &mut out);
        dst.extend_from_slice(out.as_slice());
    } else {
        // One reservation: no append below reallocates.
        dst.reserve(packed_bound(src.len()));
        pack_into(src, dst);
    }
}

/// [`pack`] into an output with room for [`packed_bound`] bytes.
#[inline]
fn pack_into(src: &[u8], out: &mut impl Out) {
    let mut rest = src;
    loop {
        rest = &rest[out.put_sparse(rest)..];
        let Some((dense, tail)) = rest.split_first_chunk::<8>() else {
            break;
        };
        rest = tail;
        out.put_u8(0xff);
        out.put_group(dense);
        if !rest.is_empty() {
            let (run, tail) = rest.split_at(run_len(rest));
            // At most RUN_MAX groups, so the count fits.
            out.put_u8(run.len().div_ceil(8) as u8);
            // Small messages rarely have a run: spare the copy's call.
            if !run.is_empty() {
                out.put_slice(run);
            }
            rest = tail;
        }
    }
    if !rest.is_empty() {
        // The zeros padding a short last group change neither its header
        // nor its non-zero bytes, and it is never dense: no run follows.
        let mut last = [0; 8];
        last[..rest.len()].copy_from_slice(rest);
        out.put_sparse(&last);
    }
}

/// The length of the verbatim run at the start of `rest`: the groups with at
/// least [`RUN_MIN_NONZERO`] non-zero bytes there, at most [`RUN_MAX`]; a
/// short last group counts as one.
fn run_len(rest: &[u8]) -> usize {
    let window = &rest[..rest.len().min(RUN_MAX * 8)];
    let mut left = window;
    // Dense data: one test for eight groups of non-zero bytes.
    while let Some((block, tail)) = left.split_first_chunk::<DENSE_BLOCK>() {
        if !all_nonzero(block) {
            break;
        }
        left = tail;
    }
    while let Some((group, tail)) = left.split_first_chunk::<8>() {
        if !joins_run(group) {
            return window.len() - left.len();
        }
        left = tail;
    }
    // `left` is empty, or the input's short last group; the length test
    // spares counting in most short groups.
    if left.len() >= RUN_MIN_NONZERO as usize && mask(left).count_ones() >= RUN_MIN_NONZERO {
        window.len()
    } else {
        window.len() - left.len()
    }
}

/// Whether all bytes of `block` are non-zero.
#[inline]
fn all_nonzero(block: &[u8; DENSE_BLOCK]) -> bool {
    // Its least byte is zero only if one is: a minimum without branches,
    // which compiles to vector minimums (SSE2's `pminub`, in baseline
    // x86-64), about 20 instructions for 64 bytes where testing them as
    // words took twice as many.
    block.iter().fold(u8::MAX, |least, &b| least.min(b)) != 0
}

/// Whether `group` has at least [`RUN_MIN_NONZERO`] non-zero bytes.
#[inline]
fn joins_run(group: &[u8; 8]) -> bool {
    // At most two zero bytes: clear the lowest zero byte's mark twice and
    // see none left. Without POPCNT (not in baseline x86-64) a population
    // count costs several times as many instructions.
    let mut zeros = !nonzero_bytes(group) & HIGH;
    for _ in RUN_MIN_NONZERO..8 {
        zeros &= zeros.wrapping_sub(1);
    }
    zeros == 0
}

/// The high bit of each byte of `group` set when that byte is non-zero; all
/// other bits clear.
#[inline]
fn nonzero_bytes(group: &[u8; 8]) -> u64 {
    let word = u64::from_le_bytes(*group);
    // Adding 0x7f to the low 7 bits carries into the high bit unless they are
    // all zero; or-ing in the word itself covers a set high bit.
    (((word & LOW7) + LOW7) | word) & HIGH
}

/// The header for [`nonzero_bytes`]: byte k's high bit moved to bit k.
#[inline]
fn gather(nonzero: u64) -> u8 {
    // One multiplication gathers the 8 bits into the top byte, with byte k's
    // bit landing on bit 56 + k (no two partial products overlap).
    ((nonzero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Bit `k` set when byte `k` of the group (at most 8 bytes) is non-zero.
#[inline]
fn mask(group: &[u8]) -> u8 {
    match <&[u8; 8]>::try_from(group) {
        Ok(group) => gather(nonzero_bytes(group)),
        Err(_) => group
            .iter()
            .enumerate()
            .fold(0, |m, (k, &b)| m | u8::from(b != 0) << k),
    }
}

/// Appends the unpacked form of `src` to `dst` (a multiple of 8 bytes).
///
/// Malformed input is rejected where silly's copy of zproto and its later
/// versions disagree or both fail: a header announcing bytes that are not
/// there, or a run longer than the input (apart from a last group cut short,
/// which is zero-filled as in silly). A run-count byte that ends the input is
/// ignored, as in every version. On error `dst` is left as it was.
pub fn unpack(src: &[u8], dst: &mut BytesMut) -> Result<(), DecodeError> {
    let start = dst.len();
    // Enough for typical input; zero-heavy input grows the buffer as usual.
    dst.reserve(2 * src.len() + 8);
    let result = unpack_groups(src, dst);
    if result.is_err() {
        dst.truncate(start);
    }
    // A `BytesMut` always has room.
    result.map(drop)
}

/// [`unpack`] into a stack buffer: `Ok(false)` if the result does not fit
/// (then `out` holds part of it). Errors are [`unpack`]'s.
pub(crate) fn unpack_small<const N: usize>(
    src: &[u8],
    out: &mut StackBuf<N>,
) -> Result<bool, DecodeError> {
    unpack_groups(src, out)
}

/// [`unpack`]'s loop, which may leave a partial result behind on error or
/// when `out` is full (`Ok(false)`).
#[inline]
fn unpack_groups(src: &[u8], out: &mut impl Out) -> Result<bool, DecodeError> {
    let mut rest = src;
    while let Some((&header, tail)) = rest.split_first() {
        if !out.fits(8) {
            return Ok(false);
        }
        if header != 0xff {
            rest = scatter(header, tail, out)?;
            continue;
        }
        let Some((dense, tail)) = tail.split_first_chunk::<8>() else {
            return Err(missing_data());
        };
        rest = tail;
        out.put_group(dense);
        let Some((&count, tail)) = rest.split_first() else {
            break;
        };
        if tail.is_empty() {
            break;
        }
        rest = tail;
        let run = usize::from(count) * 8;
        if run > rest.len() + 8 {
            return Err(DecodeError::Unpack("run longer than the input"));
        }
        if run == 0 {
            // Small messages rarely have a run: spare the copy's call.
            continue;
        }
        if !out.fits(run) {
            return Ok(false);
        }
        // A last group cut short is zero-filled.
        let (copied, tail) = rest.split_at(run.min(rest.len()));
        out.put_slice(copied);
        if copied.len() < run {
            out.put_zeros(run - copied.len());
        }
        rest = tail;
    }
    Ok(true)
}

/// Appends a group that is not dense: the bytes at the start of `data`, one
/// per set bit of `header`, placed at those bits, zeros elsewhere. Returns
/// the rest of `data`.
#[inline]
fn scatter<'a>(header: u8, data: &'a [u8], out: &mut impl Out) -> Result<&'a [u8], DecodeError> {
    let mut group = [0; 8];
    let mut bits = header;
    let mut data = data.iter();
    // One step per non-zero byte, the lowest set bit saying where it goes;
    // no population count (not in baseline x86-64) to split `data` first.
    while bits != 0 {
        let Some(&byte) = data.next() else {
            return Err(missing_data());
        };
        group[bits.trailing_zeros() as usize & 7] = byte;
        bits &= bits - 1;
    }
    out.put_group(&group);
    Ok(data.as_slice())
}

/// A header announcing more bytes than the input holds. A function, not an
/// `ok_or` argument: built eagerly, the error would be dropped per group.
#[cold]
fn missing_data() -> DecodeError {
    DecodeError::Unpack("group data missing")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::Just;

    use super::*;

    fn packed(src: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        pack(src, &mut dst);
        dst.to_vec()
    }

    #[test]
    fn a_dense_last_group_has_no_run_count() {
        assert_eq!(packed(&[1; 8]), [&[0xff][..], &[1; 8]].concat());
    }

    #[test]
    fn run_count_saturates_at_255_groups() {
        let out = packed(&[0xff; 8 * 257]);
        assert_eq!(out[9], 255);
        assert_eq!(out[10 + 255 * 8], 0xff);
        assert_eq!(out.len(), 1 + 8 + 1 + 255 * 8 + 1 + 8);
    }

    #[test]
    fn packed_size_stays_within_the_bound() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i % 7 + 1) as u8).collect();
        assert!(packed(&src).len() <= packed_bound(src.len()));
    }

    #[test]
    fn group_mask_marks_the_non_zero_bytes() {
        for seed in 0..=255u8 {
            let group: Vec<u8> = (0..8)
                .map(|k| if seed >> k & 1 == 1 { k * 31 + 1 } else { 0 })
                .collect();
            assert_eq!(mask(&group), seed);
            assert_eq!(mask(&group[..5]), seed & 0x1f);
        }
        assert_eq!(mask(&[0x80; 8]), 0xff);
    }

    /// What [`unpack_small`] into `N` bytes gives: `Some` when it fits.
    fn unpacked_small<const N: usize>(src: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        let mut out = StackBuf::<N>::new();
        Ok(unpack_small(src, &mut out)?.then(|| out.as_slice().to_vec()))
    }

    /// Checks [`unpack_small`] against [`unpack`]: the same bytes or error,
    /// or "does not fit" where the result (if any) is larger than `N`.
    fn check_unpack_small<const N: usize>(src: &[u8]) {
        let mut full = BytesMut::new();
        let full = unpack(src, &mut full).map(|()| full.to_vec());
        match (unpacked_small::<N>(src), full) {
            (Ok(Some(small)), Ok(full)) => assert_eq!(small, full, "{src:?}"),
            (Ok(None), Ok(full)) => assert!(full.len() > N, "{src:?}"),
            (Ok(None), Err(_)) | (Err(_), Err(_)) => {}
            (small, full) => panic!("{src:?}: {small:?} against {full:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn unpack_small_agrees_with_unpack(src in proptest::collection::vec(
            proptest::prop_oneof![Just(0u8), Just(0xff), Just(1), proptest::num::u8::ANY],
            0..80,
        )) {
            check_unpack_small::<64>(&src);
            check_unpack_small::<256>(&src);
        }
    }

    #[test]
    fn unpack_small_of_packed_messages_matches_unpack() {
        for len in 0..=200 {
            let src: Vec<u8> = (0..len).map(|i| [0, 7, 0, 0, 3][i % 5]).collect();
            let packed = packed(&src);
            check_unpack_small::<256>(&packed);
            check_unpack_small::<64>(&packed);
        }
        // Dense runs, cut short or not.
        let run = packed(&[9; 8 * 40]);
        check_unpack_small::<256>(&run);
        check_unpack_small::<512>(&run);
        check_unpack_small::<512>(&run[..run.len() - 3]);
    }

    #[test]
    fn small_inputs_pack_on_the_stack_as_in_the_buffer() {
        let patterns: [&[u8]; 4] = [&[0, 7, 0, 0, 3], &[1, 2, 3, 4, 5, 6, 0], &[0], &[5]];
        for pattern in patterns {
            for len in 0..=SMALL {
                let src: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
                let mut buffered = BytesMut::new();
                pack_into(&src, &mut buffered);
                assert_eq!(packed(&src), buffered, "{len} bytes of {pattern:?}");
            }
        }
    }

    #[test]
    fn zero_groups_overflow_a_small_buffer_instead_of_failing() {
        assert_eq!(unpacked_small::<64>(&[0; 9]).ok(), Some(None));
        assert_eq!(unpacked_small::<72>(&[0; 9]).ok(), Some(Some(vec![0; 72])));
    }

    #[test]
    fn truncated_group_data_is_an_error() {
        let mut dst = BytesMut::new();
        assert!(unpack(&[0x03, 0x01], &mut dst).is_err());
    }

    #[test]
    fn a_failed_unpack_leaves_dst_as_it_was() {
        let mut dst = BytesMut::from(&b"kept"[..]);
        // A dense group, a run of 3 groups with only one there.
        let src = [&[0xff][..], &[1; 8], &[3], &[2; 8]].concat();
        assert!(unpack(&src, &mut dst).is_err());
        assert_eq!(&dst[..], b"kept");
    }
}
