//! Measuring: latency histograms, process CPU time and resident memory from
//! /proc, and medians.

use std::time::Duration;

/// The longest latency kept apart; longer ones count as this (a call
/// outlives its timeout long before).
const MAX_NS: u64 = 60_000_000_000;

/// Call latencies in nanoseconds, over `hdrhistogram` (2 significant
/// digits: 1 % steps, 1 ns to 60 s, allocated once): cheap enough to record
/// every call. Each caller has its own, and at 3 digits 128 callers' counts
/// spilled out of the CPU's caches: recording took 68 ns per call (`perf
/// record` of the client at 1 × 128), about 4 % of a 16 B call's CPU.
#[derive(Clone)]
pub struct Histogram(hdrhistogram::Histogram<u64>);

impl Default for Histogram {
    fn default() -> Self {
        Self(hdrhistogram::Histogram::new_with_bounds(1, MAX_NS, 2).expect("valid bounds"))
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.saturating_record(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        // Same bounds on both sides: adding cannot run out of range.
        let _ = self.0.add(&other.0);
    }

    /// The value at quantile `q` (0..=1), in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.value_at_quantile(q) as f64 / 1000.0
    }
}

/// CPU time (user + system, all threads) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    // Fields after the command name, which is parenthesised and may hold spaces.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the name.
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_secs_f64(ticks as f64 / CLOCK_TICKS)
}

/// sysconf(_SC_CLK_TCK): 100 on every Linux this runs on.
const CLOCK_TICKS: f64 = 100.0;

/// Resident memory of a process, in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The median of `values` (the lower middle for an even count); NaN if empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}
