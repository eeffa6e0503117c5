//! `cluster bench`: many callers repeating one request, over one or more
//! connections, for a number of calls or a time; then calls per second,
//! latency percentiles and errors by kind.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::BenchArgs;
use crate::call::Client;
use crate::exit::Error;
use crate::request::Prepared;

/// Latencies are recorded in microseconds, up to an hour, to 3 digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;
const PERCENTILES: [(&str, f64); 4] =
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)];

/// When the run ends.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// After this many calls in all.
    Calls(u64),
    /// When this instant has passed (calls in flight then still finish).
    Until(Instant),
}

/// Counters the progress display reads while the callers run.
#[derive(Debug, Default)]
struct Progress {
    /// Set by Ctrl-C: callers finish the call they are in and stop.
    stop: AtomicBool,
    /// Calls handed out (for [`Plan::Calls`]).
    started: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
}

/// What one caller saw.
struct Tally {
    latency_us: Histogram<u64>,
    /// Failures by kind, with the first message of each kind.
    errors: BTreeMap<&'static str, (u64, String)>,
}

impl Tally {
    fn new() -> Result<Tally, Error> {
        let latency_us =
            Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(io::Error::other)?;
        Ok(Tally {
            latency_us,
            errors: BTreeMap::new(),
        })
    }

    fn merge(&mut self, other: Tally) -> Result<(), Error> {
        self.latency_us
            .add(&other.latency_us)
            .map_err(io::Error::other)?;
        for (kind, (count, example)) in other.errors {
            self.errors.entry(kind).or_insert((0, example)).0 += count;
        }
        Ok(())
    }

    fn fail(&mut self, kind: &'static str, e: &dyn std::fmt::Display) {
        self.errors.entry(kind).or_insert((0, e.to_string())).0 += 1;
    }

    fn failed(&self) -> u64 {
        self.errors.values().map(|(n, _)| n).sum()
    }
}

/// `cluster bench`.
pub async fn run(args: BenchArgs) -> Result<(), Error> {
    let request = Arc::new(Prepared::new(&args.request)?);
    let mut clients = Vec::new();
    for _ in 0..args.conns {
        clients.push(Arc::new(Client::connect(&args.addr, &args.conn).await));
    }
    let start = Instant::now();
    let plan = match args.duration {
        Some(secs) => Plan::Until(start + Duration::from_secs_f64(secs)),
        None => Plan::Calls(args.calls),
    };
    let progress = Arc::new(Progress::default());
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| progress_bar(&args, plan));
    let display = tokio::spawn(show_progress(progress.clone(), bar.clone(), plan, start));
    let interrupt = tokio::spawn(stop_on_ctrl_c(progress.clone()));

    let mut callers = JoinSet::new();
    for i in 0..args.callers as usize {
        let client = clients[i % clients.len()].clone();
        callers.spawn(caller(client, request.clone(), plan, progress.clone()));
    }
    let mut total = Tally::new()?;
    while let Some(joined) = callers.join_next().await {
        total.merge(joined.map_err(io::Error::other)??)?;
    }
    if request.is_oneway() {
        for client in &clients {
            if let Err(e) = client.flush().await {
                // Some sends may never have left: count it as a failure.
                total.fail(kind(&e), &e);
            }
        }
    }
    let elapsed = start.elapsed();
    display.abort();
    interrupt.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let report = match args.json_report {
        true => json_report(&total, elapsed),
        false => text_report(&total, elapsed),
    };
    io::stdout().lock().write_all(report.as_bytes())?;
    match total.failed() {
        0 => Ok(()),
        failed => Err(Error::BenchFailed {
            failed,
            calls: total.latency_us.len() + failed,
        }),
    }
}

async fn caller(
    client: Arc<Client>,
    request: Arc<Prepared>,
    plan: Plan,
    progress: Arc<Progress>,
) -> Result<Tally, Error> {
    let mut tally = Tally::new()?;
    loop {
        let more = !progress.stop.load(Ordering::Relaxed)
            && match plan {
                Plan::Calls(n) => progress.started.fetch_add(1, Ordering::Relaxed) < n,
                Plan::Until(end) => Instant::now() < end,
            };
        if !more {
            return Ok(tally);
        }
        let began = Instant::now();
        let outcome = match request.is_oneway() {
            true => client
                .send(request.cmd, request.body.clone())
                .await
                .map_err(Error::Call),
            false => match client.call(request.cmd, request.body.clone()).await {
                Ok(body) => request.decode(body).map(drop),
                Err(e) => Err(Error::Call(e)),
            },
        };
        match outcome {
            Ok(()) => {
                let us = began.elapsed().as_micros().try_into().unwrap_or(u64::MAX);
                tally.latency_us.saturating_record(us.max(1));
            }
            Err(e) => {
                let kind = match &e {
                    Error::Call(call) => kind(call),
                    _ => "bad response",
                };
                tally.fail(kind, &e);
                progress.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The first Ctrl-C ends the run early, with a report of what was done; a
/// second one exits at once.
async fn stop_on_ctrl_c(progress: Arc<Progress>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        progress.stop.store(true, Ordering::Relaxed);
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

/// A short name per kind of failure, so that errors group (a connect error's
/// message names the address and the OS error, which the example keeps).
fn kind(e: &cluster_core::Error) -> &'static str {
    use cluster_core::Error as E;
    match e {
        E::Timeout => "timeout",
        E::Closed => "connection closed",
        E::PeerClosed => "peer closed",
        E::Connect { .. } => "connect",
        E::Resolve { .. } => "resolve",
        E::TooLarge { .. } => "too large",
        E::Overloaded { .. } => "overloaded",
        E::Protocol(_) => "protocol",
        E::Io(_) => "io",
        _ => "other",
    }
}

fn progress_bar(args: &BenchArgs, plan: Plan) -> ProgressBar {
    let (len, template) = match plan {
        Plan::Calls(n) => (n, "{elapsed_precise} [{bar:40}] {pos}/{len} calls {msg}"),
        Plan::Until(_) => (
            (args.duration.unwrap_or_default() * 1000.0) as u64,
            "{elapsed_precise} [{bar:40}] {msg}",
        ),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Updates the bar ten times a second, or prints a plain line each second
/// when stderr is not a terminal. Runs until aborted.
async fn show_progress(
    progress: Arc<Progress>,
    bar: Option<ProgressBar>,
    plan: Plan,
    start: Instant,
) {
    let every = match bar {
        Some(_) => Duration::from_millis(100),
        None => Duration::from_secs(1),
    };
    let mut ticks = tokio::time::interval_at(start + every, every);
    loop {
        ticks.tick().await;
        let done = progress.done.load(Ordering::Relaxed);
        let failed = progress.failed.load(Ordering::Relaxed);
        match &bar {
            Some(bar) => {
                match plan {
                    Plan::Calls(_) => bar.set_position(done),
                    Plan::Until(_) => bar.set_position(start.elapsed().as_millis() as u64),
                }
                bar.set_message(format!("{done} calls, {failed} failed"));
            }
            None => eprintln!(
                "{:.0}s: {done} calls, {failed} failed",
                start.elapsed().as_secs_f64()
            ),
        }
    }
}

/// Successful calls per second.
fn rate(ok: u64, elapsed: Duration) -> f64 {
    match elapsed.as_secs_f64() {
        0.0 => 0.0,
        secs => ok as f64 / secs,
    }
}

fn text_report(total: &Tally, elapsed: Duration) -> String {
    let ok = total.latency_us.len();
    let failed = total.failed();
    let secs = elapsed.as_secs_f64();
    let mut out = format!(
        "calls       {} ({ok} ok, {failed} failed) in {secs:.2} s\n\
         throughput  {:.0} calls/s\n",
        ok + failed,
        rate(ok, elapsed)
    );
    let h = &total.latency_us;
    if ok == 0 {
        out.push_str("latency     none: no call succeeded\n");
    } else {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut parts = vec![format!("min {:.3} ms", ms(h.min()))];
        for (name, q) in PERCENTILES {
            parts.push(format!(
                "{name} {:.3} ms",
                ms(h.value_at_quantile(q / 100.0))
            ));
        }
        parts.push(format!("max {:.3} ms", ms(h.max())));
        out.push_str(&format!("latency     {}\n", parts.join(", ")));
    }
    for (kind, (count, example)) in &total.errors {
        out.push_str(&format!("error       {kind}: {count} (first: {example})\n"));
    }
    out
}

fn json_report(total: &Tally, elapsed: Duration) -> String {
    let h = &total.latency_us;
    let ok = h.len();
    let failed = total.failed();
    let mut latency = serde_json::Map::new();
    if ok > 0 {
        let ms = |us: u64| serde_json::json!(us as f64 / 1000.0);
        latency.insert("min".into(), ms(h.min()));
        latency.insert("mean".into(), serde_json::json!(h.mean() / 1000.0));
        for (name, q) in PERCENTILES {
            latency.insert(name.into(), ms(h.value_at_quantile(q / 100.0)));
        }
        latency.insert("max".into(), ms(h.max()));
    }
    let errors: serde_json::Map<_, _> = total
        .errors
        .iter()
        .map(|(kind, (count, _))| ((*kind).to_owned(), serde_json::json!(count)))
        .collect();
    let report = serde_json::json!({
        "calls": ok + failed,
        "ok": ok,
        "failed": failed,
        "seconds": elapsed.as_secs_f64(),
        "calls_per_second": rate(ok, elapsed),
        "latency_ms": latency,
        "errors": errors,
    });
    format!("{report}\n")
}
