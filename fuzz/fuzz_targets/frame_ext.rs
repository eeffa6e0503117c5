//! The extension's bodies (PROTOCOL.md) inside frames of either wire
//! format: the first byte picks the format, the rest is the stream. Never
//! panics; whatever splits joins back to the same bytes (see
//! `check_extension` in `cluster-core/tests/support/frames.rs`).
#![no_main]

#[path = "../../cluster-core/tests/support/frames.rs"]
#[allow(dead_code)] // the tests use the rest
mod frames;

use cluster_core::wire::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, stream)) = input.split_first() else {
        return;
    };
    let format = if pick & 1 == 0 { WireFormat::V1 } else { WireFormat::V2 };
    frames::check_stream(format, stream);
    frames::check_extension(format, stream);
});
