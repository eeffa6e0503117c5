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
//! groups in a stack buffer; unpack appends groups and runs.

use bytes::{BufMut, BytesMut};

use crate::DecodeError;

/// A group with at least this many non-zero bytes may join a verbatim run.
const RUN_MIN_NONZERO: u32 = 6;

/// The most groups one run-count byte can announce.
const RUN_MAX: usize = 255;

/// How many sparse groups `put_sparse` gathers before appending them.
const SPARSE_BATCH: usize = 16;

/// The low 7 bits of every byte of a group read as a `u64`.
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte: what [`nonzero_bytes`] gives for a dense group.
const HIGH: u64 = !LOW7;

/// The largest packed size of `len` input bytes (silly sizes its buffer so).
pub fn packed_bound(len: usize) -> usize {
    len + 2 * len.div_ceil(2048) + 1
}

/// Appends the packed form of `src` to `dst`; empty input packs to nothing.
pub fn pack(src: &[u8], dst: &mut BytesMut) {
    // One reservation: no append below reallocates.
    dst.reserve(packed_bound(src.len()));
    let mut rest = src;
    loop {
        let (sparse, tail) = rest.split_at(sparse_len(rest));
        put_sparse(sparse, dst);
        rest = tail;
        let Some((dense, tail)) = rest.split_first_chunk::<8>() else {
            break;
        };
        rest = tail;
        dst.put_u8(0xff);
        dst.extend_from_slice(dense);
        if !rest.is_empty() {
            let (run, tail) = rest.split_at(run_len(rest));
            // At most RUN_MAX groups, so the count fits.
            dst.put_u8(run.len().div_ceil(8) as u8);
            dst.extend_from_slice(run);
            rest = tail;
        }
    }
    if !rest.is_empty() {
        // The zeros padding a short last group change neither its header
        // nor its non-zero bytes, and it is never dense: no run follows.
        let mut last = [0; 8];
        last[..rest.len()].copy_from_slice(rest);
        put_sparse(&last, dst);
    }
}

/// The length of the whole groups at the start of `rest` that are not dense.
fn sparse_len(rest: &[u8]) -> usize {
    let mut left = rest;
    while let Some((group, tail)) = left.split_first_chunk::<8>() {
        if nonzero_bytes(group) == HIGH {
            break;
        }
        left = tail;
    }
    rest.len() - left.len()
}

/// Appends `groups` (whole groups, none of them dense): each one's header
/// and non-zero bytes.
fn put_sparse(groups: &[u8], dst: &mut BytesMut) {
    // Storing every byte and advancing only past the non-zero ones needs
    // initialized space to store into: a stack buffer, filled a batch of
    // groups at a time, costs less than zero-filling `dst`. A group takes at
    // most 8 bytes (no more than 7 are non-zero); the last one stores one
    // byte past them.
    let mut buf = [0; 8 * SPARSE_BATCH + 1];
    for batch in groups.chunks(8 * SPARSE_BATCH) {
        let mut at = 0;
        let mut rest = batch;
        while let Some((group, tail)) = rest.split_first_chunk::<8>() {
            rest = tail;
            buf[at] = gather(nonzero_bytes(group));
            let kept = &mut buf[at + 1..at + 9];
            let mut n = 0;
            for &b in group {
                // No branch to mispredict. `n` is at most the index, so it
                // stays below 8.
                kept[n & 7] = b;
                n += usize::from(b != 0);
            }
            at += 1 + n;
        }
        dst.extend_from_slice(&buf[..at]);
    }
}

/// The length of the verbatim run at the start of `rest`: the groups with at
/// least [`RUN_MIN_NONZERO`] non-zero bytes there, at most [`RUN_MAX`]; a
/// short last group counts as one.
fn run_len(rest: &[u8]) -> usize {
    let window = &rest[..rest.len().min(RUN_MAX * 8)];
    let mut left = window;
    // Dense data: one test for four groups of non-zero bytes.
    while let Some((block, tail)) = left.split_first_chunk::<32>() {
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
    // `left` is empty, or the input's short last group.
    if mask(left).count_ones() >= RUN_MIN_NONZERO {
        window.len()
    } else {
        window.len() - left.len()
    }
}

/// Whether all 32 bytes of `block` are non-zero.
#[inline]
fn all_nonzero(block: &[u8; 32]) -> bool {
    let group = |k: usize| {
        let mut group = [0; 8];
        group.copy_from_slice(&block[8 * k..8 * k + 8]);
        nonzero_bytes(&group)
    };
    group(0) & group(1) & group(2) & group(3) == HIGH
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
    result
}

/// [`unpack`]'s loop, which may leave a partial result behind on error.
fn unpack_groups(src: &[u8], dst: &mut BytesMut) -> Result<(), DecodeError> {
    let mut rest = src;
    while let Some((&header, tail)) = rest.split_first() {
        let used = header.count_ones() as usize;
        let (data, tail) = tail
            .split_at_checked(used)
            .ok_or(DecodeError::Unpack("group data missing"))?;
        rest = tail;
        let Some(dense) = data.first_chunk::<8>() else {
            dst.extend_from_slice(&scatter(header, data));
            continue;
        };
        dst.extend_from_slice(dense);
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
        // A last group cut short is zero-filled.
        let (copied, tail) = rest.split_at(run.min(rest.len()));
        dst.extend_from_slice(copied);
        dst.put_bytes(0, run - copied.len());
        rest = tail;
    }
    Ok(())
}

/// A group that is not dense: `data` (one byte per set bit of `header`, as
/// [`unpack_groups`] checked) placed at the set bits, zeros elsewhere.
#[inline]
fn scatter(header: u8, data: &[u8]) -> [u8; 8] {
    let mut group = [0; 8];
    let mut data = data.iter();
    for (k, byte) in group.iter_mut().enumerate() {
        if header & 1 << k != 0 {
            *byte = data.next().copied().unwrap_or_default();
        }
    }
    group
}

#[cfg(test)]
mod tests {
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
