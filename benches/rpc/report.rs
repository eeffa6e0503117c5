//! The matrix of points, results, and the report: tables, ratios, memory
//! and the goals checked against the figures.

use std::fmt::{self, Write};
use std::str::FromStr;

use crate::load::{Kind, Measured};
use crate::stats::median;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// What `#[tokio::main]` gives: one worker per core.
    MultiThread,
    CurrentThread,
}

/// `Display` and `FromStr` by name for enums of unit variants.
macro_rules! names {
    ($ty:ty { $($variant:path => $name:literal),+ $(,)? }) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $($variant => $name),+
                })
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($variant),)+
                    _ => Err(format!("{s}: expected one of {}", [$($name),+].join(", "))),
                }
            }
        }
    };
}

names!(Flavor {
    Flavor::MultiThread => "mt",
    Flavor::CurrentThread => "ct",
});
names!(Kind {
    Kind::Call => "call",
    Kind::Send => "send",
});

/// One point of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub conns: usize,
    pub callers: usize,
    pub payload: usize,
    pub kind: Kind,
}

impl Point {
    const fn new(conns: usize, callers: usize, payload: usize, kind: Kind) -> Self {
        Self {
            conns,
            callers,
            payload,
            kind,
        }
    }

    pub fn matrix() -> Vec<Point> {
        let mut points = Vec::new();
        for payload in [16, 1024] {
            for (conns, callers) in [(1, 1), (1, 16), (1, 128), (8, 16)] {
                points.push(Point::new(conns, callers, payload, Kind::Call));
            }
            points.push(Point::new(1, 128, payload, Kind::Send));
        }
        points
    }

    pub fn quick_matrix() -> Vec<Point> {
        let quick = [
            Point::new(1, 1, 16, Kind::Call),
            Point::new(1, 16, 16, Kind::Call),
            Point::new(1, 128, 16, Kind::Call),
            Point::new(8, 16, 16, Kind::Call),
            Point::new(1, 128, 16, Kind::Send),
            Point::new(1, 128, 1024, Kind::Call),
        ];
        quick.to_vec()
    }

    /// The name `--points` selects it by, e.g. `1x128-16-call`.
    pub fn id(&self) -> String {
        format!(
            "{}x{}-{}-{}",
            self.conns, self.callers, self.payload, self.kind
        )
    }

    fn label(&self) -> String {
        let size = if self.payload >= 1024 {
            format!("{} KiB", self.payload / 1024)
        } else {
            format!("{} B", self.payload)
        };
        let what = match self.kind {
            Kind::Call => "call",
            Kind::Send => "one-way",
        };
        format!("{} × {} {what}, {size}", self.conns, self.callers)
    }
}

/// The figures of one repetition.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub per_sec: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    pub cpu_us: f64,
}

impl From<&Measured> for Sample {
    fn from(m: &Measured) -> Self {
        let ops = m.ops as f64;
        Self {
            per_sec: ops / m.secs,
            p50: m.latency.quantile_us(0.5),
            p99: m.latency.quantile_us(0.99),
            p999: m.latency.quantile_us(0.999),
            cpu_us: m.cpu.as_secs_f64() * 1e6 / ops,
        }
    }
}

impl Sample {
    pub fn to_line(self) -> String {
        format!(
            "{} {} {} {} {}",
            self.per_sec, self.p50, self.p99, self.p999, self.cpu_us
        )
    }

    pub fn from_line(line: &str) -> Result<Self, String> {
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|f| f.parse().map_err(|_| format!("bad result line {line:?}")))
            .collect::<Result<_, _>>()?;
        let &[per_sec, p50, p99, p999, cpu_us] = v.as_slice() else {
            return Err(format!("bad result line {line:?}"));
        };
        Ok(Self {
            per_sec,
            p50,
            p99,
            p999,
            cpu_us,
        })
    }
}

/// A memory result line: client bytes, server bytes, call future bytes.
pub fn parse_memory(line: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    v.try_into()
        .map_err(|_| format!("bad memory line {line:?}"))
}

/// The medians of one system at one point.
pub struct Row {
    pub system: String,
    pub flavor: Flavor,
    pub point: Point,
    pub m: Sample,
}

impl Row {
    pub fn new(system: &str, flavor: Flavor, point: Point, samples: &[Sample]) -> Self {
        let med = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        Self {
            system: system.to_owned(),
            flavor,
            point,
            m: Sample {
                per_sec: med(|s| s.per_sec),
                p50: med(|s| s.p50),
                p99: med(|s| s.p99),
                p999: med(|s| s.p999),
                cpu_us: med(|s| s.cpu_us),
            },
        }
    }

    pub fn progress(&self) -> String {
        format!(
            "{} {:<24} {:<10} {:>10.0}/s  p99 {:>8.1} µs  {:>5.2} µs CPU",
            self.flavor,
            self.point.label(),
            self.system,
            self.m.per_sec,
            self.m.p99,
            self.m.cpu_us
        )
    }
}

/// Resident memory per item, client and server, of one system.
pub struct Memory {
    pub system: String,
    /// Per idle connection: client, server.
    pub idle: (f64, f64),
    /// Per call in flight: client, server.
    pub in_flight: (f64, f64),
    /// The size of one call's future.
    pub future: f64,
}

/// What the machine was doing at one moment.
pub struct Machine {
    loadavg: String,
}

impl Machine {
    pub fn now() -> Self {
        let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        Self {
            loadavg: loadavg
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown CPU", |m| m.trim_start_matches([' ', '\t', ':']));
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} × {model}, Linux {}", kernel.trim())
}

const CLUSTER: &str = "cluster";
const TARPC: &str = "tarpc";
const REFERENCE: &str = "reference";

fn find<'a>(rows: &'a [Row], system: &str, flavor: Flavor, point: Point) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.system == system && r.flavor == flavor && r.point == point)
}

fn ratio(rows: &[Row], row: &Row, against: &str) -> Option<f64> {
    let other = find(rows, against, row.flavor, row.point)?;
    Some(row.m.per_sec / other.m.per_sec)
}

fn us(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else {
        format!("{:.0}K", v / 1e3)
    }
}

pub fn render(
    rows: &[Row],
    memory: &[Memory],
    plan: &str,
    started: &Machine,
    finished: &Machine,
    smoke: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nMachine: {}", machine_description());
    let _ = writeln!(
        out,
        "Load average (1, 5, 15 min): {} at start, {} at end",
        started.loadavg, finished.loadavg
    );
    let _ = writeln!(out, "Plan: {plan}\n");
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let of_flavor: Vec<&Row> = rows.iter().filter(|r| r.flavor == flavor).collect();
        if of_flavor.is_empty() {
            continue;
        }
        let title = match flavor {
            Flavor::MultiThread => "multi-thread runtimes (`#[tokio::main]`: one worker per core)",
            Flavor::CurrentThread => "current_thread runtimes",
        };
        table_head(
            &mut out,
            title,
            &["conns × callers, payload", "system"],
            &[
                "calls/s",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "CPU µs/call",
                "cluster ÷ this",
            ],
        );
        for row in of_flavor {
            let vs = match row.system.as_str() {
                CLUSTER => String::new(),
                other => find(rows, CLUSTER, row.flavor, row.point)
                    .and_then(|c| ratio(rows, c, other))
                    .map_or(String::new(), |r| format!("{r:.2}×")),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.2} | {vs} |",
                row.point.label(),
                row.system,
                rate(row.m.per_sec),
                us(row.m.p50),
                us(row.m.p99),
                us(row.m.p999),
                row.m.cpu_us,
            );
        }
        let _ = writeln!(out);
    }
    if !memory.is_empty() {
        table_head(
            &mut out,
            "memory (multi-thread runtimes, resident bytes)",
            &["system"],
            &[
                "per idle connection: client",
                "server",
                "per 16 B call in flight: client",
                "server",
                "call future",
            ],
        );
        for m in memory {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
                m.system, m.idle.0, m.idle.1, m.in_flight.0, m.in_flight.1, m.future
            );
        }
        let _ = writeln!(out);
    }
    if smoke {
        let _ = writeln!(
            out,
            "Smoke run: too short to measure anything; goals not checked."
        );
        return out;
    }
    let _ = writeln!(out, "### goals\n");
    for (met, goal) in goals(rows, memory) {
        let _ = writeln!(out, "- {} {goal}", if met { "met:" } else { "NOT met:" });
    }
    out
}

/// Starts a table: its title, its header, and its alignment row (`left`
/// columns are text, `right` ones numbers).
fn table_head(out: &mut String, title: &str, left: &[&str], right: &[&str]) {
    let _ = writeln!(out, "### {title}\n");
    let names: Vec<&str> = left.iter().chain(right).copied().collect();
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let aligns: Vec<&str> = left
        .iter()
        .map(|_| "---")
        .chain(right.iter().map(|_| "---:"))
        .collect();
    let _ = writeln!(out, "|{}|", aligns.join("|"));
}

/// Each goal of the issue, checked against this run's figures.
fn goals(rows: &[Row], memory: &[Memory]) -> Vec<(bool, String)> {
    let mut goals = Vec::new();
    let cluster_rows = || rows.iter().filter(|r| r.system == CLUSTER);
    let headline = Point::new(1, 128, 16, Kind::Call);
    // What a user picks the framework for holds for its typed API too.
    for system in [CLUSTER, "cluster-bincode", "cluster-zproto"] {
        if let Some(r) =
            find(rows, system, Flavor::MultiThread, headline).and_then(|c| ratio(rows, c, TARPC))
        {
            goals.push((
                r >= 3.0,
                format!("{system}, multi-thread, 1 × 128, 16 B: {r:.2}× tarpc (goal ≥ 3×)"),
            ));
        }
    }

    let ct: Vec<(String, f64)> = cluster_rows()
        .filter(|c| c.flavor == Flavor::CurrentThread)
        .filter_map(|c| Some((c.point.label(), ratio(rows, c, REFERENCE)?)))
        .collect();
    if !ct.is_empty() {
        let worst = ct.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|w| w.1);
        let below: Vec<String> = ct
            .iter()
            .filter(|(_, r)| *r < 0.9)
            .map(|(p, r)| format!("{p}: {r:.2}×"))
            .collect();
        goals.push((
            below.is_empty(),
            format!(
                "current_thread, every point ≥ 0.9× reference: worst {:.2}×{}",
                worst.unwrap_or(f64::NAN),
                if below.is_empty() {
                    String::new()
                } else {
                    format!(" (below: {})", below.join("; "))
                }
            ),
        ));
    }
    let worse_p99: Vec<String> = cluster_rows()
        .filter(|c| c.point.kind == Kind::Call)
        .filter_map(|c| {
            let t = find(rows, TARPC, c.flavor, c.point)?;
            (c.m.p99 > t.m.p99).then(|| {
                format!(
                    "{} {}: {} vs {} µs",
                    c.flavor,
                    c.point.label(),
                    us(c.m.p99),
                    us(t.m.p99)
                )
            })
        })
        .collect();
    goals.push((
        worse_p99.is_empty(),
        format!(
            "p99 no worse than tarpc at every call point{}",
            if worse_p99.is_empty() {
                String::new()
            } else {
                format!(" (worse: {})", worse_p99.join("; "))
            }
        ),
    ));
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        if let Some(c) = find(rows, CLUSTER, flavor, headline) {
            goals.push((
                c.m.cpu_us <= 1.2,
                format!(
                    "{flavor}, 1 × 128, 16 B: {:.2} µs CPU per call, client + server (goal ≤ 1.2)",
                    c.m.cpu_us
                ),
            ));
        }
    }
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let tls = find(rows, "cluster-tls", flavor, headline);
        if let (Some(t), Some(c)) = (tls, find(rows, CLUSTER, flavor, headline)) {
            let r = t.m.cpu_us / c.m.cpu_us;
            goals.push((
                r <= 1.5,
                format!(
                    "{flavor}, 1 × 128, 16 B: TLS {:.2} µs CPU per call, {r:.2}× plain TCP's \
                     (goal ≤ 1.5×)",
                    t.m.cpu_us
                ),
            ));
        }
    }
    if let Some(m) = memory.iter().find(|m| m.system == CLUSTER) {
        let idle = m.idle.0.max(m.idle.1);
        goals.push((
            idle <= 16.0 * 1024.0,
            format!("{idle:.0} B per idle connection on the larger side (goal ≤ 16 KiB)"),
        ));
        // The client holds no copy of the body; the server holds the
        // request frame (16 B body + 18 B of header) in its read buffer.
        let (client, server) = (m.in_flight.0, m.in_flight.1 - 34.0);
        goals.push((
            client <= 256.0,
            format!("client: {client:.0} B per call in flight (goal ≤ 256 B)"),
        ));
        goals.push((
            server <= 256.0,
            format!(
                "server: {server:.0} B per call in flight beyond the frame, the \
                 handler's own future included (goal ≤ 256 B)"
            ),
        ));
    }
    goals
}
