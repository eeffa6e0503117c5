//! Unpack arbitrary bytes: never panics, output is a multiple of 8 bytes and
//! at most 8 bytes per input byte, and packing the output round-trips.
#![no_main]

use bytes::BytesMut;
use cluster_codec::zproto::{pack, unpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = BytesMut::new();
    if unpack(data, &mut out).is_err() {
        return;
    }
    assert_eq!(out.len() % 8, 0);
    assert!(out.len() <= 8 * data.len() + 8);
    let mut packed = BytesMut::new();
    pack(&out, &mut packed);
    let mut again = BytesMut::new();
    unpack(&packed, &mut again).expect("packed output unpacks");
    assert_eq!(again, out);
});
