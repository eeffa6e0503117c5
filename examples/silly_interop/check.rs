//! The client side: every command of a server, checked, one line each.
//!
//! Strings are Lua byte strings, so the checks send bytes that are not
//! UTF-8 (every byte value, random bytes) and expect them back unchanged.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use cluster::zproto::ByteStr;
use cluster::{Error, Node, WireFormat};

use crate::service::*;

/// A body above wire v1's 65,519-byte limit and below v2's hard limit.
const LARGE: usize = 70_000;

/// One line per check, then the tally.
#[derive(Default)]
struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn check(&mut self, what: &str, outcome: Result<String, String>) {
        match outcome {
            Ok(detail) => {
                self.passed += 1;
                println!("ok    {what}: {detail}");
            }
            Err(detail) => {
                self.failed += 1;
                println!("FAIL  {what}: {detail}");
            }
        }
    }
}

/// `Ok(detail)` if `got` is `want`.
fn expect<T: PartialEq + std::fmt::Debug>(
    got: Result<T, Error>,
    want: T,
) -> Result<String, String> {
    match got {
        Ok(got) if got == want => Ok(format!("{got:?}")),
        Ok(got) => Err(format!("got {got:?}, want {want:?}")),
        Err(e) => Err(format!("error: {e}")),
    }
}

/// `Ok` if the ping of `msg` comes back with exactly its bytes.
async fn echoes(client: &InteropClient, msg: ByteStr) -> Result<String, String> {
    let len = msg.len();
    match client
        .ping(Ping {
            msg: Some(msg.clone()),
        })
        .await
    {
        Ok(Pong { msg: Some(got) }) if got == msg => Ok(format!("{len} bytes back exactly")),
        Ok(pong) => Err(format!("sent {msg:?}, got {pong:?}")),
        Err(e) => Err(format!("error: {e}")),
    }
}

fn ping(msg: &str) -> Ping {
    Ping {
        msg: Some(msg.into()),
    }
}

fn pong(msg: &str) -> Pong {
    Pong {
        msg: Some(msg.into()),
    }
}

pub async fn run(addr: &str, wire: WireFormat) -> ExitCode {
    let node = Node::builder().wire(wire).build();
    let client = InteropClient::new(node.connect(addr).await);
    let mut report = Report::default();

    // Every later check would fail the same way: say it once.
    match client.ping(ping("hello")).await {
        Err(e @ (Error::Connect { .. } | Error::Resolve { .. })) => {
            eprintln!("silly_interop: cannot reach a server at {addr}: {e}");
            return ExitCode::FAILURE;
        }
        first => report.check("ping", expect(first, pong("hello"))),
    }
    report.check(
        "ping with an empty message",
        expect(client.ping(ping("")).await, pong("")),
    );
    let every_byte: Vec<u8> = (0..=255).collect();
    report.check(
        "ping with every byte value 0..=255",
        echoes(&client, every_byte.into()).await,
    );
    report.check(
        "ping with NULs and a lone 0xff",
        echoes(&client, b"\0\x01\x02\xff\0zero\0".into()).await,
    );
    report.check(
        "add",
        expect(
            client
                .add(Add {
                    a: Some(10),
                    b: Some(20),
                })
                .await,
            Sum { result: Some(30) },
        ),
    );
    report.check(
        "add with negatives",
        expect(
            client
                .add(Add {
                    a: Some(-7),
                    b: Some(3),
                })
                .await,
            Sum { result: Some(-4) },
        ),
    );

    let started = Instant::now();
    let slept = client.sleep(Sleep { ms: Some(100) }).await;
    let took = started.elapsed();
    report.check(
        "sleep 100 ms",
        expect(slept, Slept { ms: Some(100) }).and_then(|detail| {
            (took >= Duration::from_millis(100))
                .then(|| format!("{detail} after {took:?}"))
                .ok_or(format!("answered after only {took:?}"))
        }),
    );
    let impatient = client.clone().with_timeout(Duration::from_millis(50));
    report.check(
        "sleep 300 ms with a 50 ms timeout",
        match impatient.sleep(Sleep { ms: Some(300) }).await {
            Err(Error::Timeout) => Ok("timeout".into()),
            other => Err(format!("{other:?}")),
        },
    );
    report.check(
        "ping after a timed-out call",
        expect(client.ping(ping("hello")).await, pong("hello")),
    );

    report.check(
        "20 concurrent adds, each answered with its own sum",
        concurrent_adds(&client).await,
    );
    report.check(
        "100 concurrent pings, each echoing its own random bytes",
        concurrent_random_pings(&client).await,
    );
    report.check(
        &format!("a {LARGE}-byte message"),
        large_message(&client, wire).await,
    );
    report.check(
        "ping after the large message",
        expect(client.ping(ping("hello")).await, pong("hello")),
    );

    let before = client.stats(Stats { dummy: Some(0) }).await;
    report.check(
        "stats",
        before
            .as_ref()
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.to_string()),
    );
    let message = ByteStr::from(format!("hello notify {}", std::process::id()));
    report.check(
        "notify (one-way)",
        client
            .notify(Notify {
                message: Some(message.clone()),
            })
            .await
            .map(|()| "sent".to_string())
            .map_err(|e| e.to_string()),
    );
    let want = before.ok().and_then(|c| c.notifies).unwrap_or(0) + 1;
    report.check(
        "stats after notify",
        notified(&client, want, &message).await,
    );

    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn concurrent_adds(client: &InteropClient) -> Result<String, String> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = client.clone();
        calls.spawn(async move {
            let sum = client
                .add(Add {
                    a: Some(i),
                    b: Some(1000),
                })
                .await;
            matches!(sum, Ok(Sum { result: Some(r) }) if r == i + 1000)
        });
    }
    let matched = calls.join_all().await.into_iter().filter(|ok| *ok).count();
    (matched == 20)
        .then(|| "20 of 20".to_string())
        .ok_or(format!("{matched} of 20"))
}

async fn concurrent_random_pings(client: &InteropClient) -> Result<String, String> {
    let mut random = Random::seeded();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let len = (random.next() % 512) as usize;
        let msg = ByteStr::from(random.bytes(len));
        let client = client.clone();
        calls.spawn(async move { echoes(&client, msg).await });
    }
    let outcomes = calls.join_all().await;
    let failed: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    match failed.first() {
        None => Ok("100 of 100".to_string()),
        Some(first) => Err(format!("{} of 100 altered; first: {first}", failed.len())),
    }
}

/// On v2 the message is echoed; on v1 it cannot fit a frame and is refused
/// before anything is written.
async fn large_message(client: &InteropClient, wire: WireFormat) -> Result<String, String> {
    let msg = ByteStr::from(Random::seeded().bytes(LARGE));
    if wire == WireFormat::V2 {
        return echoes(client, msg).await;
    }
    match client.ping(Ping { msg: Some(msg) }).await {
        Err(e @ Error::TooLarge { .. }) => Ok(format!("refused locally: {e}")),
        other => Err(format!("want TooLarge on wire v1, got {other:?}")),
    }
}

/// Asks for the counts until the notification shows (a one-way request may
/// still be in its handler when the next request is answered), for at most
/// a second.
async fn notified(client: &InteropClient, want: i32, message: &ByteStr) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let counts = client
            .stats(Stats { dummy: Some(0) })
            .await
            .map_err(|e| e.to_string())?;
        if counts.notifies == Some(want) && counts.last.as_ref() == Some(message) {
            return Ok(format!("{counts:?}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "got {counts:?}, want notifies={want} last={message:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// splitmix64: different bytes on every run, no dependency for it.
struct Random(u64);

impl Random {
    fn seeded() -> Self {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Random(now.as_nanos() as u64 ^ u64::from(std::process::id()))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
