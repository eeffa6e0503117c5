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

use bytes::BytesMut;

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
    let start = dst.len();
    // Writing into a zeroed slice of the worst-case size (plus slack for the
    // branch-free stores below) and cutting it afterwards is much faster
    // than appending a few bytes at a time.
    dst.resize(start + packed_bound(src.len()) + 8, 0);
    let out = &mut dst[start..];
    let mut at = 0;
    let mut rest = src;
    while !rest.is_empty() {
        let (group, tail) = rest.split_at(rest.len().min(8));
        rest = tail;
        let header = mask(group);
        out[at] = header;
        at += 1;
        match header {
            0 => {}
            0xff => {
                out[at..at + 8].copy_from_slice(group);
                at += 8;
            }
            _ => {
                for &b in group {
                    // Always store, advance only past non-zero bytes.
                    out[at] = b;
                    at += usize::from(b != 0);
                }
            }
        }
        if header != 0xff || rest.is_empty() {
            continue;
        }
        let count_at = at;
        at += 1;
        let mut count = 0;
        while count < RUN_MAX && !rest.is_empty() {
            let (dense, tail) = rest.split_at(rest.len().min(8));
            if (mask(dense).count_ones() as usize) < RUN_MIN_NONZERO {
                break;
            }
            out[at..at + dense.len()].copy_from_slice(dense);
            at += dense.len();
            rest = tail;
            count += 1;
        }
        out[count_at] = count;
    }
    dst.truncate(start + at);
}

/// Bit `k` set when byte `k` of the group (at most 8 bytes) is non-zero.
#[inline]
fn mask(group: &[u8]) -> u8 {
    let Ok(&bytes) = <&[u8; 8]>::try_from(group) else {
        return group
            .iter()
            .enumerate()
            .fold(0, |m, (k, &b)| m | u8::from(b != 0) << k);
    };
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let word = u64::from_le_bytes(bytes);
    // The high bit of each byte is set when the byte is non-zero...
    let nonzero = (((word & LOW7) + LOW7) | word) & !LOW7;
    // ...and one multiplication gathers those 8 bits into the top byte, with
    // byte k's bit landing on bit 56 + k (no two partial products overlap).
    ((nonzero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
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
    // As in `pack`: write into zeroed space (so only non-zero bytes need
    // storing), grown geometrically, and cut to size at the end.
    dst.resize(start + 2 * src.len() + 8, 0);
    let mut at = start;
    let mut rest = src;
    let result = loop {
        let Some((&header, tail)) = rest.split_first() else {
            break Ok(());
        };
        rest = tail;
        let used = header.count_ones() as usize;
        if rest.len() < used {
            break Err(DecodeError::Unpack("group data missing"));
        }
        let (data, tail) = rest.split_at(used);
        rest = tail;
        make_room(dst, at + 8);
        let group = &mut dst[at..at + 8];
        match header {
            0 => {}
            0xff => group.copy_from_slice(data),
            _ => {
                let mut data = data.iter();
                for (k, byte) in group.iter_mut().enumerate() {
                    if header & 1 << k != 0 {
                        *byte = data.next().copied().unwrap_or_default();
                    }
                }
            }
        }
        at += 8;
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
            break Err(DecodeError::Unpack("run longer than the input"));
        }
        // A last group cut short is zero-filled: the space already is.
        let copied = run.min(rest.len());
        make_room(dst, at + run);
        dst[at..at + copied].copy_from_slice(&rest[..copied]);
        at += run;
        rest = &rest[copied..];
    };
    dst.truncate(if result.is_ok() { at } else { start });
    result
}

/// Grows `dst` (with zeros) to at least `end` bytes.
fn make_room(dst: &mut BytesMut, end: usize) {
    if dst.len() < end {
        dst.resize(end.max(2 * dst.len()), 0);
    }
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
}
