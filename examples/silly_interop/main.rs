//! Interop with Lua silly nodes, on silly's own wire (v1) and schema.
//!
//! ```text
//! cargo run --example silly_interop -- server 127.0.0.1:9001   # serve until killed
//! cargo run --example silly_interop -- client 127.0.0.1:9001   # check every command
//! ```
//!
//! Either side may be a silly node running the same schema; the client
//! prints one line per check and `N passed, N failed`, and exits 0 only if
//! every check passed.

mod service;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cluster::{Error, Node};
use service::*;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => serve(addr).await,
        ["client", addr] => return check(addr).await,
        _ => {
            eprintln!("usage: silly_interop server ADDR | client ADDR");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("silly_interop: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> Result<(), Error> {
    let node = Node::builder()
        .handler(InteropServer::new(Server::default()))
        .build();
    let listener = node.listen(addr)?;
    println!("listening on {}", listener.local_addr());
    std::future::pending::<()>().await;
    Ok(())
}

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

async fn check(addr: &str) -> ExitCode {
    let node = Node::builder().build();
    let client = InteropClient::new(node.connect(addr).await);
    let mut report = Report::default();

    let hello = || Ping {
        msg: Some("hello".into()),
    };
    report.check(
        "ping",
        expect(
            client.ping(hello()).await,
            Pong {
                msg: Some("hello".into()),
            },
        ),
    );
    report.check(
        "ping with an empty message",
        expect(
            client
                .ping(Ping {
                    msg: Some(String::new()),
                })
                .await,
            Pong {
                msg: Some(String::new()),
            },
        ),
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
        expect(
            client.ping(hello()).await,
            Pong {
                msg: Some("hello".into()),
            },
        ),
    );

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = client.clone();
        calls.spawn(async move {
            (
                i,
                client
                    .add(Add {
                        a: Some(i),
                        b: Some(1000),
                    })
                    .await,
            )
        });
    }
    let mut matched = 0;
    while let Some(Ok((i, sum))) = calls.join_next().await {
        matched += u32::from(matches!(sum, Ok(Sum { result: Some(r) }) if r == i + 1000));
    }
    report.check(
        "20 concurrent adds, each answered with its own sum",
        (matched == 20)
            .then(|| "20 of 20".to_string())
            .ok_or(format!("{matched} of 20")),
    );

    let before = client.stats(Stats { dummy: Some(0) }).await;
    report.check(
        "stats",
        before
            .as_ref()
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.to_string()),
    );
    let message = format!("hello notify {}", std::process::id());
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

/// Asks for the counts until the notification shows (a one-way request may
/// still be in its handler when the next request is answered), for at most
/// a second.
async fn notified(client: &InteropClient, want: i32, message: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let counts = client
            .stats(Stats { dummy: Some(0) })
            .await
            .map_err(|e| e.to_string())?;
        if counts.notifies == Some(want) && counts.last.as_deref() == Some(message) {
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
