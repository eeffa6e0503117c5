//! The client process: drives load against a server process and measures.
//!
//! Every caller checks every answer (an echo of a body that names the
//! caller), so a run that completes is also a correctness check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::stats::{Histogram, cpu_time, rss};
use crate::system::{CallResult, Cmd, Sent, System, decode_count};

/// Sends a caller makes before it yields, as a task producing a burst of
/// notifications would.
const SEND_BURST: usize = 16;
/// How long queued one-way messages may take to arrive after the window.
const DRAIN_PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Request and response.
    Call,
    /// One-way messages.
    Send,
}

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub conns: usize,
    pub callers_per_conn: usize,
    pub payload: usize,
    pub kind: Kind,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one measured window gave.
pub struct Measured {
    /// Calls completed, or one-way messages received by the server.
    pub ops: u64,
    pub secs: f64,
    /// CPU time of client and server together over the window.
    pub cpu: Duration,
    /// Call latencies (empty for one-way messages).
    pub latency: Histogram,
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Both processes' CPU time so far.
fn cpu_both(server_pid: u32) -> Duration {
    cpu_time(std::process::id()) + cpu_time(server_pid)
}

async fn count<S: System>(client: &S::Client) -> CallResult<u64> {
    decode_count(&S::call(client, Cmd::Count, Bytes::new()).await?)
}

pub async fn run<S: System>(addr: &str, server_pid: u32, load: Load) -> CallResult<Measured> {
    let mut clients = Vec::with_capacity(load.conns);
    for _ in 0..load.conns {
        clients.push(S::connect(addr).await.map_err(|e| e.to_string())?);
    }
    // Counts go over a connection of their own, not behind queued notes.
    let probe = S::connect(addr).await.map_err(|e| e.to_string())?;
    let base = count::<S>(&probe).await?;
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for i in 0..load.callers_per_conn {
            let tag = (c * load.callers_per_conn + i) as u8;
            let body = Bytes::from(vec![tag; load.payload]);
            let (client, phase) = (client.clone(), phase.clone());
            tasks.push(tokio::spawn(async move {
                match load.kind {
                    Kind::Call => caller::<S>(client, body, phase).await,
                    Kind::Send => sender::<S>(client, body, phase).await,
                }
            }));
        }
    }

    tokio::time::sleep(load.warmup).await;
    let arrived_before = match load.kind {
        Kind::Send => count::<S>(&probe).await?,
        Kind::Call => 0,
    };
    let (cpu_before, start) = (cpu_both(server_pid), Instant::now());
    phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(load.measure).await;
    let arrived_after = match load.kind {
        Kind::Send => count::<S>(&probe).await?,
        Kind::Call => 0,
    };
    phase.store(STOP, Ordering::Relaxed);
    let (cpu_after, secs) = (cpu_both(server_pid), start.elapsed().as_secs_f64());

    let mut completed = 0;
    let mut latency = Histogram::default();
    for task in tasks {
        let (n, hist) = task.await.map_err(|e| e.to_string())??;
        completed += n;
        latency.merge(&hist);
    }
    let ops = match load.kind {
        Kind::Call => completed,
        Kind::Send => {
            // Every message queued must arrive, none twice.
            let deadline = Instant::now() + DRAIN_PATIENCE;
            loop {
                let arrived = count::<S>(&probe).await? - base;
                if arrived == completed {
                    break;
                }
                if arrived > completed || Instant::now() > deadline {
                    return Err(format!("{completed} notes sent, {arrived} arrived"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            arrived_after - arrived_before
        }
    };
    if ops == 0 {
        return Err("no call completed in the window".into());
    }
    Ok(Measured {
        ops,
        secs,
        cpu: cpu_after.saturating_sub(cpu_before),
        latency,
    })
}

/// Calls in a loop; returns the calls made and timed in the window. For
/// one-way loads it returns every message queued instead.
async fn caller<S: System>(
    client: S::Client,
    body: Bytes,
    phase: Arc<AtomicU8>,
) -> CallResult<(u64, Histogram)> {
    let mut latency = Histogram::default();
    let mut timed = 0;
    loop {
        let now = phase.load(Ordering::Relaxed);
        if now == STOP {
            return Ok((timed, latency));
        }
        let start = Instant::now();
        let reply = S::call(&client, Cmd::Echo, body.clone()).await?;
        if reply != body {
            return Err(format!("answer {reply:?} to {body:?}"));
        }
        if now == MEASURE {
            latency.record(start.elapsed());
            timed += 1;
        }
    }
}

async fn sender<S: System>(
    client: S::Client,
    body: Bytes,
    phase: Arc<AtomicU8>,
) -> CallResult<(u64, Histogram)> {
    let mut queued = 0;
    while phase.load(Ordering::Relaxed) != STOP {
        for _ in 0..SEND_BURST {
            match S::send(&client, body.clone()).await? {
                Sent::Queued => queued += 1,
                Sent::Full => break,
            }
        }
        tokio::task::yield_now().await;
    }
    Ok((queued, Histogram::default()))
}

/// Resident memory of the client and the server, per item added.
pub struct MemoryCost {
    pub client: f64,
    pub server: f64,
    /// The size of one call's future, for the in-flight measurement.
    pub future: usize,
}

/// The body of the memory measurements' calls.
const LITTLE: &[u8] = &[7; 16];

/// A connection that has carried a call, so its buffers are as they stay.
async fn used_connection<S: System>(addr: &str) -> CallResult<S::Client> {
    let conn = S::connect(addr).await.map_err(|e| e.to_string())?;
    S::call(&conn, Cmd::Echo, Bytes::from_static(LITTLE)).await?;
    Ok(conn)
}

/// Memory per idle connection: `n` connections, each used once.
pub async fn idle<S: System>(addr: &str, server_pid: u32, n: usize) -> CallResult<MemoryCost> {
    let _warm = used_connection::<S>(addr).await?;
    let before = settled_rss(server_pid).await;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(used_connection::<S>(addr).await?);
    }
    let after = settled_rss(server_pid).await;
    Ok(per_item(before, after, n))
}

/// Memory per call in flight: `n` calls of 16 bytes held by the server.
pub async fn in_flight<S: System>(addr: &str, server_pid: u32, n: usize) -> CallResult<MemoryCost> {
    let body = Bytes::from_static(LITTLE);
    let client = used_connection::<S>(addr).await?;
    let probe = used_connection::<S>(addr).await?;
    let base = count::<S>(&probe).await?;
    let before = settled_rss(server_pid).await;

    let future = std::mem::size_of_val(&S::call(&client, Cmd::Hold, body.clone()));
    let held = body.clone();
    let answers = tokio::spawn(async move {
        let calls = (0..n).map(|_| Box::pin(S::call(&client, Cmd::Hold, held.clone())));
        all(calls.collect()).await
    });
    let deadline = Instant::now() + DRAIN_PATIENCE;
    while count::<S>(&probe).await? - base < n as u64 {
        if Instant::now() > deadline {
            return Err("held calls did not all arrive".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = settled_rss(server_pid).await;

    S::call(&probe, Cmd::Release, Bytes::new()).await?;
    let answers = answers.await.map_err(|e| e.to_string())?;
    if answers.len() != n || answers.iter().any(|a| a.as_ref() != Ok(&body)) {
        return Err("a held call failed".into());
    }
    Ok(MemoryCost {
        future,
        ..per_item(before, after, n)
    })
}

/// Both processes' resident memory once allocations have settled.
async fn settled_rss(server_pid: u32) -> (u64, u64) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    (rss(std::process::id()), rss(server_pid))
}

fn per_item(before: (u64, u64), after: (u64, u64), n: usize) -> MemoryCost {
    let per = |b: u64, a: u64| (a as f64 - b as f64) / n as f64;
    MemoryCost {
        client: per(before.0, after.0),
        server: per(before.1, after.1),
        future: 0,
    }
}

/// Drives `calls` to completion. Each call is in a box of its own size, as
/// an application holding it would keep it, and no container adds a node
/// per call: the client's memory per call is the call's own.
async fn all<F: Future>(mut calls: Vec<Pin<Box<F>>>) -> Vec<F::Output> {
    let mut done = Vec::with_capacity(calls.len());
    std::future::poll_fn(move |cx| {
        calls.retain_mut(|call| match call.as_mut().poll(cx) {
            Poll::Ready(answer) => {
                done.push(answer);
                false
            }
            Poll::Pending => true,
        });
        if calls.is_empty() {
            Poll::Ready(std::mem::take(&mut done))
        } else {
            Poll::Pending
        }
    })
    .await
}
