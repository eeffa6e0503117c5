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

use bytes::{BufMut, BytesMut};

use crate::DecodeError;

/// A group with at least this many non-zero bytes may join a verbatim run.
const RUN_MIN_NONZERO: usize = 6;

/// The most groups one run-count byte can announce.
const RUN_MAX: u8 = 255;

/// The largest packed size of `len` input bytes (silly sizes its buffer so).
pub fn packed_bound(len: usize) -> usize {
    len + 2 * len.div_ceil(2048) + 1
}

/// Appends the packed form of `src` to `dst`; empty input packs to nothing.
pub fn pack(src: &[u8], dst: &mut BytesMut) {
    dst.reserve(packed_bound(src.len()));
    let mut rest = src;
    while !rest.is_empty() {
        let (group, tail) = rest.split_at(rest.len().min(8));
        rest = tail;
        let (packed, len) = pack_group(group);
        dst.extend_from_slice(&packed[..len]);
        if packed[0] != 0xff || rest.is_empty() {
            continue;
        }
        let count_at = dst.len();
        dst.put_u8(0);
        let mut count = 0;
        while count < RUN_MAX && !rest.is_empty() {
            let (dense, tail) = rest.split_at(rest.len().min(8));
            if (mask(dense).count_ones() as usize) < RUN_MIN_NONZERO {
                break;
            }
            dst.extend_from_slice(dense);
            rest = tail;
            count += 1;
        }
        dst[count_at] = count;
    }
}

/// Bit `k` set when byte `k` of the group is non-zero.
#[inline]
fn mask(group: &[u8]) -> u8 {
    group
        .iter()
        .enumerate()
        .fold(0, |m, (k, &b)| m | u8::from(b != 0) << k)
}

/// The header byte followed by the group's non-zero bytes, and its length.
#[inline]
fn pack_group(group: &[u8]) -> ([u8; 9], usize) {
    let mut out = [0u8; 9];
    let mut len = 1;
    for &b in group {
        // Branch-free: always store, advance only past non-zero bytes.
        out[len] = b;
        len += usize::from(b != 0);
    }
    out[0] = mask(group);
    (out, len)
}

/// Appends the unpacked form of `src` to `dst` (a multiple of 8 bytes).
///
/// Malformed input is rejected where silly's copy of zproto and its later
/// versions disagree or both fail: a header announcing bytes that are not
/// there, or a run longer than the input (apart from a last group cut short,
/// which is zero-filled as in silly). A run-count byte that ends the input is
/// ignored, as in every version.
pub fn unpack(src: &[u8], dst: &mut BytesMut) -> Result<(), DecodeError> {
    // Zero-heavy input expands, so this is only a first guess.
    dst.reserve(src.len() * 2);
    let mut rest = src;
    while let Some((&header, tail)) = rest.split_first() {
        rest = tail;
        let used = header.count_ones() as usize;
        if rest.len() < used {
            return Err(DecodeError::Unpack("group data missing"));
        }
        let (data, tail) = rest.split_at(used);
        rest = tail;
        let mut group = [0u8; 8];
        let mut next = 0;
        for (k, byte) in group.iter_mut().enumerate() {
            if header & 1 << k != 0 {
                *byte = data[next];
                next += 1;
            }
        }
        dst.extend_from_slice(&group);
        if header != 0xff {
            continue;
        }
        let Some((&count, tail)) = rest.split_first() else {
            continue;
        };
        rest = tail;
        if rest.is_empty() {
            continue;
        }
        let run = usize::from(count) * 8;
        if run > rest.len() + 8 {
            return Err(DecodeError::Unpack("run longer than the input"));
        }
        let copied = run.min(rest.len());
        dst.extend_from_slice(&rest[..copied]);
        dst.put_bytes(0, run - copied);
        rest = &rest[copied..];
    }
    Ok(())
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
    fn truncated_group_data_is_an_error() {
        let mut dst = BytesMut::new();
        assert!(unpack(&[0x03, 0x01], &mut dst).is_err());
    }
}
