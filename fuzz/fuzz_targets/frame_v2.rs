//! The wire v2 frame decoder on arbitrary bytes cut into arbitrary reads:
//! never panics, agrees with itself however the stream is cut, and
//! re-encodes what it decodes byte for byte (see the properties in
//! `cluster-core/tests/support/frames.rs`).
#![no_main]

#[path = "../../cluster-core/tests/support/frames.rs"]
#[allow(dead_code)] // the tests use the rest
mod frames;

use cluster_core::wire::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| frames::check_stream(WireFormat::V2, input));
