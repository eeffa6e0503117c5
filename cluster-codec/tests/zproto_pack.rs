//! pack and unpack against a byte-at-a-time reference written from the
//! format description, on the inputs their word-at-a-time paths treat apart:
//! long dense runs, runs of exactly 255 groups, runs cut by a sparse group,
//! short last groups, all zeros, and damaged packed input.

use bytes::BytesMut;
use cluster_codec::zproto::{pack, packed_bound, unpack};
use proptest::prelude::*;

/// The most groups one run-count byte announces.
const RUN_MAX: usize = 255;

/// pack, one group and one byte at a time.
fn reference_pack(src: &[u8]) -> Vec<u8> {
    let nonzero = |group: &[u8]| group.iter().filter(|&&b| b != 0).count();
    let groups: Vec<&[u8]> = src.chunks(8).collect();
    let mut out = Vec::new();
    let mut next = 0;
    while next < groups.len() {
        let group = groups[next];
        next += 1;
        let header = (0..group.len())
            .filter(|&k| group[k] != 0)
            .fold(0u8, |h, k| h | 1 << k);
        out.push(header);
        out.extend(group.iter().filter(|&&b| b != 0));
        if header != 0xff || next == groups.len() {
            continue;
        }
        let count_at = out.len();
        out.push(0);
        let mut count = 0;
        while count < RUN_MAX && next < groups.len() && nonzero(groups[next]) >= 6 {
            out.extend_from_slice(groups[next]);
            next += 1;
            count += 1;
        }
        out[count_at] = count as u8;
    }
    out
}

/// unpack, one byte at a time; `None` where unpack must fail.
fn reference_unpack(src: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < src.len() {
        let header = src[at];
        at += 1;
        for k in 0..8 {
            if header >> k & 1 == 1 {
                out.push(*src.get(at)?);
                at += 1;
            } else {
                out.push(0);
            }
        }
        if header != 0xff || at == src.len() {
            continue;
        }
        let run = usize::from(src[at]) * 8;
        at += 1;
        // A run count that ends the input is ignored.
        if at == src.len() {
            break;
        }
        // At most a last group may be missing; it reads as zeros.
        if run > src.len() - at + 8 {
            return None;
        }
        for _ in 0..run {
            out.push(src.get(at).copied().unwrap_or(0));
            at = (at + 1).min(src.len());
        }
    }
    Some(out)
}

fn packed(src: &[u8]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    pack(src, &mut dst);
    dst.to_vec()
}

fn unpacked(src: &[u8]) -> Option<Vec<u8>> {
    let mut dst = BytesMut::new();
    unpack(src, &mut dst).ok().map(|()| dst.to_vec())
}

/// Checks pack against the reference and the round trip through unpack.
fn check_pack(src: &[u8]) {
    let out = packed(src);
    assert_eq!(out, reference_pack(src), "pack of {} bytes", src.len());
    assert!(out.len() <= packed_bound(src.len()));
    let mut padded = src.to_vec();
    padded.resize(src.len().div_ceil(8) * 8, 0);
    assert_eq!(unpacked(&out), Some(padded), "unpack of pack");
}

/// `groups` groups of non-zero bytes, then `tail` more.
fn dense(groups: usize, tail: usize) -> Vec<u8> {
    (0..groups * 8 + tail)
        .map(|i| (i % 251 + 1) as u8)
        .collect()
}

/// One stretch of input: what pack treats apart, in arbitrary order.
fn stretch() -> impl Strategy<Value = Vec<u8>> {
    let nonzero = 1..=255u8;
    prop_oneof![
        // Long dense runs, around the 255-group limit.
        (0..600usize, nonzero.clone()).prop_map(|(groups, b)| vec![b; groups * 8]),
        (250..262usize).prop_map(|groups| dense(groups, 0)),
        // Groups with 2 zero bytes (they join a run) or 3 (they end one).
        (
            prop::collection::vec(nonzero.clone(), 8),
            0..8usize,
            0..8usize,
            any::<bool>()
        )
            .prop_map(|(mut group, a, b, third)| {
                group[a] = 0;
                group[b] = 0;
                if third {
                    group[(a + 1) % 8] = 0;
                    group[(a + 2) % 8] = 0;
                }
                group
            }),
        // Zeros, and bytes of every kind.
        (0..100usize).prop_map(|n| vec![0; n]),
        prop::collection::vec(
            prop_oneof![2 => Just(0u8), 1 => Just(0xffu8), 3 => any::<u8>()],
            0..40
        ),
    ]
}

/// Stretches joined, cut anywhere so that the last group may be short.
fn packable() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(stretch(), 0..8),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(stretches, cut)| {
            let mut src = stretches.concat();
            let len = src.len();
            src.truncate(len - cut.index(len.min(16) + 1));
            src
        })
}

proptest! {
    #[test]
    fn pack_matches_the_reference_and_unpack_inverts_it(src in packable()) {
        check_pack(&src);
    }

    #[test]
    fn pack_appends_after_what_dst_holds(src in packable(), held in prop::collection::vec(any::<u8>(), 0..20)) {
        let mut dst = BytesMut::from(&held[..]);
        pack(&src, &mut dst);
        prop_assert_eq!(&dst[..held.len()], &held[..]);
        prop_assert_eq!(&dst[held.len()..], &reference_pack(&src)[..]);
    }

    #[test]
    fn unpack_of_damaged_input_matches_the_reference(
        src in packable(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        to in any::<u8>(),
        held in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut damaged = reference_pack(&src);
        if !damaged.is_empty() {
            let at = flip.index(damaged.len());
            damaged[at] = to;
            damaged.truncate(cut.index(damaged.len() + 1));
        }
        let mut dst = BytesMut::from(&held[..]);
        let result = unpack(&damaged, &mut dst);
        match reference_unpack(&damaged) {
            Some(expected) => {
                prop_assert!(result.is_ok());
                prop_assert_eq!(&dst[held.len()..], &expected[..]);
            }
            None => prop_assert!(result.is_err()),
        }
        prop_assert_eq!(&dst[..held.len()], &held[..]);
    }
}

#[test]
fn runs_around_255_groups_with_every_short_last_group() {
    for groups in [1, 2, 4, 5, 254, 255, 256, 257, 258, 510, 511, 512, 1000] {
        for tail in 0..8 {
            check_pack(&dense(groups, tail));
        }
    }
}

#[test]
fn a_short_last_group_joins_a_run_with_6_non_zero_bytes() {
    for tail in 1..8 {
        for zeros in 0..tail {
            let mut src = dense(3, tail);
            let len = src.len();
            src[len - tail..len - tail + zeros].fill(0);
            check_pack(&src);
        }
    }
}

#[test]
fn a_sparse_group_cuts_a_run_anywhere() {
    for groups in [2, 5, 33, 255, 256, 300] {
        for at in 1..groups {
            for zeros in [3, 8] {
                let mut src = dense(groups, 3);
                src[at * 8..at * 8 + zeros].fill(0);
                check_pack(&src);
            }
        }
    }
}

#[test]
fn all_zero_input_packs_to_headers_only() {
    for len in 0..80 {
        let out = packed(&vec![0; len]);
        assert_eq!(out, vec![0; len.div_ceil(8)]);
        check_pack(&vec![0; len]);
    }
}

#[test]
fn the_reference_agrees_with_the_format_on_a_small_case() {
    // A dense group, a run of one dense group and one with two zero bytes,
    // then a sparse group.
    let src = [
        &[1; 8][..],
        &[2; 8],
        &[3, 0, 3, 3, 0, 3, 3, 3],
        &[0, 0, 0, 4, 0, 0, 0, 0],
    ]
    .concat();
    let expected = [
        &[0xff][..],
        &[1; 8],
        &[2],
        &[2; 8],
        &[3, 0, 3, 3, 0, 3, 3, 3],
        &[0x08, 4],
    ]
    .concat();
    assert_eq!(reference_pack(&src), expected);
    assert_eq!(packed(&src), expected);
    assert_eq!(reference_unpack(&expected), Some(src.clone()));
}
