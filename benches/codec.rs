//! Encode/decode throughput of one representative message (nested struct,
//! arrays, strings) for zproto through generated code, zproto through the
//! dynamic `Value` API, and bincode. Run with `cargo bench --bench codec`.
//!
//! Each measurement warms up, then times several repetitions and reports
//! the median. "raw" is the zproto encoding alone; "body" is what travels in
//! a cluster frame, `pack(encode(msg))`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cluster::codec::{Bincode, Decode, Encode, Zproto};
use cluster::zproto::{self, ByteStr, Schema, StructValue};
use serde::{Deserialize, Serialize};

cluster::zproto!("benches/codec.zproto");

const WARM_UP: Duration = Duration::from_millis(300);
const REPETITION: Duration = Duration::from_millis(100);
const REPETITIONS: usize = 11;

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

/// Median time of one call of `f`, after a warm-up.
fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < WARM_UP {
        f();
        calls += 1;
    }
    let per_rep = (calls as u128 * REPETITION.as_nanos() / WARM_UP.as_nanos()).max(1) as u32;
    let mut samples: Vec<Duration> = (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_rep {
                f();
            }
            start.elapsed() / per_rep
        })
        .collect();
    samples.sort();
    samples[REPETITIONS / 2]
}

/// Times `encode` (into a cleared buffer) and `decode` (of what `encode`
/// produced) and prints one line.
fn measure(name: &str, mut encode: impl FnMut(&mut BytesMut), mut decode: impl FnMut(&[u8])) {
    let mut buf = BytesMut::with_capacity(4096);
    encode(&mut buf);
    let encoded = buf.split().freeze();
    let enc = time(|| {
        buf.clear();
        encode(&mut buf);
    });
    let dec = time(|| decode(black_box(&encoded)));
    let mbps = |d: Duration| encoded.len() as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{name:<26} {:>5} B   encode {:>7.0} ns {:>7.0} MB/s   decode {:>7.0} ns {:>7.0} MB/s",
        encoded.len(),
        enc.as_nanos(),
        mbps(enc),
        dec.as_nanos(),
        mbps(dec),
    );
}

fn main() {
    println!("one message: player with 8 items and 16 friends (median of {REPETITIONS} runs)");
    let typed = player();
    measure(
        "zproto generated, raw",
        |buf| zproto::encode(black_box(&typed), buf).expect("encode"),
        |src| drop(black_box(zproto::decode::<Player>(src).expect("decode"))),
    );
    measure(
        "zproto generated, body",
        |buf| Encode::<Zproto>::encode(black_box(&typed), buf).expect("encode"),
        |src| {
            drop(black_box(
                <Player as Decode<Zproto>>::decode(src).expect("decode"),
            ))
        },
    );

    let schema = Schema::parse(include_str!("codec.zproto")).expect("schema");
    let id = schema.find("player").expect("player");
    let mut raw = BytesMut::new();
    zproto::encode(&typed, &mut raw).expect("encode");
    let value: StructValue = schema.decode(id, &raw).expect("decode");
    measure(
        "zproto dynamic Value, raw",
        |buf| schema.encode(id, black_box(&value), buf).expect("encode"),
        |src| drop(black_box(schema.decode(id, src).expect("decode"))),
    );
    measure(
        "zproto dynamic Value, body",
        |buf| {
            schema
                .encode_body(id, black_box(&value), buf)
                .expect("encode")
        },
        |src| drop(black_box(schema.decode_body(id, src).expect("decode"))),
    );

    let serde = serde_player(&typed);
    measure(
        "bincode (serde)",
        |buf| Encode::<Bincode>::encode(black_box(&serde), buf).expect("encode"),
        |src| {
            drop(black_box(
                <SerdePlayer as Decode<Bincode>>::decode(src).expect("decode"),
            ))
        },
    );
}
