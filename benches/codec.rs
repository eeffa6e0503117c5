//! Encode/decode throughput of one representative message (nested struct,
//! arrays, strings) for zproto through generated code, zproto through the
//! dynamic `Value` API, and bincode. Run with `cargo bench --bench codec`
//! (divan: a few seconds; `-- --help` for its options).
//!
//! "raw" is the zproto encoding alone; "body" is what travels in a cluster
//! frame, `pack(encode(msg))`. Encoding writes into a cleared buffer;
//! decoding reads what encoding produced. Throughput counts its bytes.

use std::hint::black_box;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::BytesMut;
use cluster::codec::{Bincode, Decode, Encode, Zproto};
use cluster::zproto::{self, ByteStr, Schema, StructId, StructValue};
use divan::Bencher;
use divan::counter::BytesCount;
use serde::{Deserialize, Serialize};

cluster::zproto!("benches/codec.zproto");

fn player() -> Player {
    let items = (0..8)
        .map(|i| player::Item {
            id: Some(1000 + i),
            name: Some(format!("item number {i}").into()),
            count: Some(i as u16 * 3),
        })
        .collect();
    Player {
        id: Some(0x0102_0304_0506),
        name: Some("a player with a name".into()),
        level: Some(42),
        pos: Some(player::Position {
            x: Some(1.5),
            y: Some(-20.25),
            z: Some(300.0),
        }),
        items: Some(items),
        friends: Some((0..16).map(|i| 0x1_0000_0000 + i).collect()),
        guild: Some("the guild".into()),
    }
}

#[derive(Serialize, Deserialize)]
struct SerdeItem {
    id: i32,
    name: ByteStr,
    count: u16,
}

#[derive(Serialize, Deserialize)]
struct SerdePosition {
    x: f32,
    y: f32,
    z: f32,
}

#[derive(Serialize, Deserialize)]
struct SerdePlayer {
    id: u64,
    name: ByteStr,
    level: u16,
    pos: SerdePosition,
    items: Vec<SerdeItem>,
    friends: Vec<u64>,
    guild: ByteStr,
}

fn serde_player(p: &Player) -> SerdePlayer {
    SerdePlayer {
        id: p.id.unwrap_or_default(),
        name: p.name.clone().unwrap_or_default(),
        level: p.level.unwrap_or_default(),
        pos: SerdePosition {
            x: 1.5,
            y: -20.25,
            z: 300.0,
        },
        items: p
            .items
            .iter()
            .flatten()
            .map(|i| SerdeItem {
                id: i.id.unwrap_or_default(),
                name: i.name.clone().unwrap_or_default(),
                count: i.count.unwrap_or_default(),
            })
            .collect(),
        friends: p.friends.clone().unwrap_or_default(),
        guild: p.guild.clone().unwrap_or_default(),
    }
}

/// One player with 8 items and 16 friends.
static TYPED: LazyLock<Player> = LazyLock::new(player);
static SERDE: LazyLock<SerdePlayer> = LazyLock::new(|| serde_player(&TYPED));
/// The same player as a dynamic value, with its schema.
static DYNAMIC: LazyLock<(Schema, StructId, StructValue)> = LazyLock::new(|| {
    let schema = Schema::parse(include_str!("codec.zproto")).expect("schema");
    let id = schema.find("player").expect("player");
    let mut raw = BytesMut::new();
    zproto::encode(&*TYPED, &mut raw).expect("encode");
    let value = schema.decode(id, &raw).expect("decode");
    (schema, id, value)
});

/// Times `encode` into a cleared buffer.
fn encode(b: Bencher, encode: impl Fn(&mut BytesMut)) {
    let mut buf = BytesMut::with_capacity(4096);
    encode(&mut buf);
    b.counter(BytesCount::new(buf.len())).bench_local(|| {
        buf.clear();
        encode(&mut buf);
    });
}

/// Times `decode` of what `encode` produced.
fn decode<T>(b: Bencher, encode: impl Fn(&mut BytesMut), decode: impl Fn(&[u8]) -> T) {
    let mut buf = BytesMut::new();
    encode(&mut buf);
    let encoded = buf.freeze();
    b.counter(BytesCount::new(encoded.len()))
        .bench_local(|| decode(black_box(&encoded)));
}

fn generated_raw(buf: &mut BytesMut) {
    zproto::encode(black_box(&*TYPED), buf).expect("encode");
}

fn generated_body(buf: &mut BytesMut) {
    Encode::<Zproto>::encode(black_box(&*TYPED), buf).expect("encode");
}

fn dynamic_raw(buf: &mut BytesMut) {
    let (schema, id, value) = &*DYNAMIC;
    schema.encode(*id, black_box(value), buf).expect("encode");
}

fn dynamic_body(buf: &mut BytesMut) {
    let (schema, id, value) = &*DYNAMIC;
    schema
        .encode_body(*id, black_box(value), buf)
        .expect("encode");
}

fn bincode(buf: &mut BytesMut) {
    Encode::<Bincode>::encode(black_box(&*SERDE), buf).expect("encode");
}

/// An `encode` and a `decode` benchmark for each format, in a module
/// named for it: `$encode` writes the player, `$decode` reads it back.
macro_rules! formats {
    ($($module:ident: $encode:expr, $decode:expr;)*) => {$(
        mod $module {
            use super::*;

            #[divan::bench]
            fn encode(b: Bencher) {
                super::encode(b, $encode);
            }

            #[divan::bench]
            fn decode(b: Bencher) {
                super::decode(b, $encode, $decode);
            }
        }
    )*};
}

formats! {
    zproto_generated_raw: generated_raw, |src| zproto::decode::<Player>(src).expect("decode");
    zproto_generated_body: generated_body, |src| {
        <Player as Decode<Zproto>>::decode(src).expect("decode")
    };
    zproto_dynamic_raw: dynamic_raw, |src| {
        let (schema, id, _) = &*DYNAMIC;
        schema.decode(*id, src).expect("decode")
    };
    zproto_dynamic_body: dynamic_body, |src| {
        let (schema, id, _) = &*DYNAMIC;
        schema.decode_body(*id, src).expect("decode")
    };
    bincode_serde: bincode, |src| {
        <SerdePlayer as Decode<Bincode>>::decode(src).expect("decode")
    };
}

fn main() {
    // Short by default (the message is small and the runs are stable);
    // `--max-time` on the command line still wins.
    divan::Divan::default()
        .max_time(Duration::from_millis(500))
        .config_with_args()
        .main();
}
