//! Decode arbitrary bytes as each struct of the golden-vector schema through
//! the dynamic API: never panics, and whatever decodes re-encodes to bytes
//! that decode and encode to the same bytes again (bytes, not values, are
//! compared: a NaN float is not equal to itself).
#![no_main]

use std::sync::LazyLock;

use bytes::BytesMut;
use cluster_codec::zproto::Schema;
use libfuzzer_sys::fuzz_target;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse(include_str!("../../cluster-codec/tests/fixtures/schema.zproto"))
        .expect("vector schema parses")
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let messages: Vec<_> = SCHEMA.messages().collect();
    let id = messages[usize::from(selector) % messages.len()];
    let Ok(value) = SCHEMA.decode(id, input) else {
        return;
    };
    let mut encoded = BytesMut::new();
    SCHEMA.encode(id, &value, &mut encoded).expect("decoded values encode");
    let again = SCHEMA.decode(id, &encoded).expect("re-encoded bytes decode");
    let mut reencoded = BytesMut::new();
    SCHEMA.encode(id, &again, &mut reencoded).expect("encode again");
    assert_eq!(reencoded, encoded);
});
