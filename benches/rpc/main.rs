//! RPC benchmark: this framework against tarpc and a hand-written tokio
//! reference on the same frame format, in one run, server and client in
//! separate processes on 127.0.0.1. See BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench rpc                     # full run (about 19 minutes)
//! cargo bench --bench rpc -- --quick          # under a minute
//! cargo bench --bench rpc -- --quick --smoke  # CI: every system briefly, no timing
//! cargo bench --bench rpc -- --charts DIR     # also SVG charts of the run in DIR
//! ```
//!
//! The binary re-executes itself with `--role server` or `--role client`
//! to get the separate processes; the parent only orchestrates and reports.

mod chart;
mod cluster_raw;
mod cluster_typed;
mod load;
mod reference;
mod report;
mod stats;
mod system;
mod tarpc;
#[cfg(feature = "tls")]
mod tls;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use crate::load::Load;
use crate::report::{Flavor, Memory, Point, Row};
use crate::system::System;

/// Runs `$body` with `$S` bound to the system named `$name`. Adding a system
/// is a module and a line here.
macro_rules! with_system {
    ($name:expr, $S:ident => $body:expr) => {
        match $name {
            "cluster" => {
                type $S = cluster_raw::ClusterRaw;
                $body
            }
            "cluster-unix" => {
                type $S = cluster_raw::ClusterRaw<cluster_raw::Unix>;
                $body
            }
            #[cfg(feature = "tls")]
            "cluster-tls" => {
                type $S = cluster_raw::ClusterRaw<cluster_raw::Tls>;
                $body
            }
            "cluster-bincode" => {
                type $S = cluster_typed::ClusterBincode;
                $body
            }
            "cluster-zproto" => {
                type $S = cluster_typed::ClusterZproto;
                $body
            }
            "tarpc" => {
                type $S = tarpc::Tarpc;
                $body
            }
            "reference" => {
                type $S = reference::Reference;
                $body
            }
            other => Err(format!("unknown system {other}")),
        }
    };
}

/// Every system, in table order: the framework's byte API ("cluster", the
/// one the goals are checked on) and its typed API with each codec; then
/// the byte API over the other transports.
const SYSTEMS: &[&str] = &[
    "cluster",
    "cluster-bincode",
    "cluster-zproto",
    "tarpc",
    "reference",
    "cluster-unix",
    #[cfg(feature = "tls")]
    "cluster-tls",
];

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let outcome = match args.child.role.as_deref() {
        Some("server") => run_server(&args),
        Some(role) => run_client(role, &args),
        None => orchestrate(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpc bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line: the run's options, and the hidden ones the parent
/// gives its server and client processes. Unknown flags are an error.
#[derive(clap::Parser)]
#[command(
    about = "calls/s, latency, CPU and memory of cluster, tarpc and a hand-written reference"
)]
struct Args {
    /// Fewer points and shorter windows: under a minute.
    #[arg(long)]
    quick: bool,
    /// Every system briefly, asserting only that calls complete (CI).
    #[arg(long)]
    smoke: bool,
    /// Repetitions per point (median shown).
    #[arg(long)]
    reps: Option<usize>,
    /// Measured seconds per repetition.
    #[arg(long)]
    secs: Option<f64>,
    /// Only these systems (comma-separated).
    #[arg(long, value_delimiter = ',')]
    systems: Option<Vec<String>>,
    /// Only this runtime flavour (`mt` or `ct`); with
    /// `--role`, the flavour of the process.
    #[arg(long)]
    flavor: Option<Flavor>,
    /// Only these points (comma-separated ids, as in the tables).
    #[arg(long, value_delimiter = ',')]
    points: Option<Vec<String>>,
    /// Skip the memory measurements.
    #[arg(long)]
    no_memory: bool,
    /// Also draw the results as SVG charts into this directory.
    #[arg(long, value_name = "DIR")]
    charts: Option<std::path::PathBuf>,
    /// Given by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[command(flatten)]
    child: ChildArgs,
}

/// What the parent tells a server or client process.
#[derive(clap::Args)]
struct ChildArgs {
    #[arg(long, hide = true)]
    role: Option<String>,
    #[arg(long, hide = true)]
    system: Option<String>,
    #[arg(long, hide = true)]
    addr: Option<String>,
    #[arg(long, hide = true)]
    server_pid: Option<u32>,
    #[arg(long, hide = true)]
    conns: Option<usize>,
    #[arg(long, hide = true)]
    callers: Option<usize>,
    #[arg(long, hide = true)]
    payload: Option<usize>,
    #[arg(long, hide = true)]
    kind: Option<load::Kind>,
    #[arg(long, hide = true)]
    warmup_ms: Option<u64>,
    #[arg(long, hide = true)]
    measure_ms: Option<u64>,
    #[arg(long, hide = true)]
    n: Option<usize>,
}

/// A child's argument that the parent always gives.
fn need<T: Clone>(value: &Option<T>, name: &str) -> Result<T, String> {
    value.clone().ok_or_else(|| format!("missing --{name}"))
}

fn runtime(flavor: Flavor) -> Result<tokio::runtime::Runtime, String> {
    match flavor {
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .map_err(|e| e.to_string())
}

/// Serves until the parent closes our stdin.
fn run_server(args: &Args) -> Result<(), String> {
    let system = need(&args.child.system, "system")?;
    let rt = runtime(need(&args.flavor, "flavor")?)?;
    rt.block_on(async {
        let addr = with_system!(system.as_str(), S => S::serve().await.map_err(|e| e.to_string()))?;
        println!("{addr}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = tx.send(());
        });
        let _ = rx.await;
        cluster_typed::stop();
        Ok(())
    })
}

/// Runs one measurement against a server and prints its result line.
fn run_client(role: &str, args: &Args) -> Result<(), String> {
    let child = &args.child;
    let system = need(&child.system, "system")?;
    let rt = runtime(need(&args.flavor, "flavor")?)?;
    let addr = need(&child.addr, "addr")?;
    let addr = addr.as_str();
    let server_pid = need(&child.server_pid, "server-pid")?;
    let line = rt.block_on(async {
        match role {
            "client" => {
                let load = Load {
                    conns: need(&child.conns, "conns")?,
                    callers_per_conn: need(&child.callers, "callers")?,
                    payload: need(&child.payload, "payload")?,
                    kind: need(&child.kind, "kind")?,
                    warmup: Duration::from_millis(need(&child.warmup_ms, "warmup-ms")?),
                    measure: Duration::from_millis(need(&child.measure_ms, "measure-ms")?),
                };
                with_system!(system.as_str(), S => load::run::<S>(addr, server_pid, load).await)
                    .map(|m| report::Sample::from(&m).to_line())
            }
            "idle" | "in-flight" => {
                let n = need(&child.n, "n")?;
                let cost = with_system!(system.as_str(), S => if role == "idle" {
                    load::idle::<S>(addr, server_pid, n).await
                } else {
                    load::in_flight::<S>(addr, server_pid, n).await
                })?;
                Ok(format!("{} {} {}", cost.client, cost.server, cost.future))
            }
            other => Err(format!("unknown role {other}")),
        }
    })?;
    println!("{line}");
    Ok(())
}

/// A server process, ended when dropped.
struct Server {
    child: Child,
    /// Where it serves, as [`System::serve`] said.
    addr: String,
}

impl Server {
    fn start(system: &str, flavor: Flavor) -> Result<Self, String> {
        let mut child = Command::new(exe()?)
            .args(["--role", "server", "--system", system, "--flavor"])
            .arg(flavor.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("server stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let addr = line.trim().to_owned();
        if addr.is_empty() {
            return Err(format!("{system} server did not start"));
        }
        Ok(Self { child, addr })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing stdin ends the server; a stuck one is killed.
        drop(self.child.stdin.take());
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| e.to_string())
}

/// Runs a client process against a fresh server; returns its result line.
fn client_process(
    system: &str,
    flavor: Flavor,
    role: &str,
    extra: &[String],
) -> Result<String, String> {
    let server = Server::start(system, flavor)?;
    let out = Command::new(exe()?)
        .args(["--role", role, "--system", system, "--flavor"])
        .arg(flavor.to_string())
        .args(["--addr", &server.addr])
        .args(["--server-pid", &server.child.id().to_string()])
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("start client: {e}"))?;
    drop(server);
    if !out.status.success() {
        return Err(format!("{system} {role} client failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// How long and how often each point runs.
struct Plan {
    points: Vec<Point>,
    reps: usize,
    warmup: Duration,
    measure: Duration,
    idle_conns: usize,
    in_flight_calls: usize,
    systems: Vec<String>,
    flavors: Vec<Flavor>,
}

impl Plan {
    fn from(args: &Args) -> Result<Self, String> {
        let (quick, smoke) = (args.quick, args.smoke);
        let mut plan = Plan {
            points: if quick {
                Point::quick_matrix()
            } else {
                Point::matrix()
            },
            reps: if quick || smoke { 1 } else { 3 },
            warmup: Duration::from_millis(if smoke {
                50
            } else if quick {
                200
            } else {
                1000
            }),
            measure: Duration::from_millis(if smoke {
                150
            } else if quick {
                600
            } else {
                5000
            }),
            idle_conns: if smoke { 50 } else { 1000 },
            in_flight_calls: if smoke {
                1000
            } else if quick {
                20_000
            } else {
                100_000
            },
            systems: SYSTEMS.iter().map(|&s| s.to_owned()).collect(),
            flavors: vec![Flavor::MultiThread, Flavor::CurrentThread],
        };
        if let Some(reps) = args.reps {
            plan.reps = reps;
        }
        if let Some(secs) = args.secs {
            plan.measure = Duration::try_from_secs_f64(secs).map_err(|_| "bad --secs")?;
        }
        if let Some(systems) = &args.systems {
            plan.systems = systems.clone();
        }
        if let Some(flavor) = args.flavor {
            plan.flavors = vec![flavor];
        }
        if let Some(only) = &args.points {
            plan.points.retain(|p| only.iter().any(|o| p.id() == *o));
        }
        Ok(plan)
    }
}

fn orchestrate(args: &Args) -> Result<(), String> {
    let plan = Plan::from(args)?;
    let started = report::Machine::now();
    let mut rows = Vec::new();
    for &flavor in &plan.flavors {
        for &point in &plan.points {
            for system in &plan.systems {
                let mut samples = Vec::new();
                for _ in 0..plan.reps {
                    let line = client_process(system, flavor, "client", &point.client_args(&plan))?;
                    samples.push(report::Sample::from_line(&line)?);
                }
                let row = Row::new(system, flavor, point, &samples);
                eprintln!("{}", row.progress());
                rows.push(row);
            }
        }
    }
    let mut memory = Vec::new();
    if !args.no_memory {
        for system in &plan.systems {
            let measure = |role: &str, n: usize| -> Result<[f64; 3], String> {
                let line = client_process(
                    system,
                    Flavor::MultiThread,
                    role,
                    &["--n".into(), n.to_string()],
                )?;
                report::parse_memory(&line)
            };
            let [idle_client, idle_server, _] = measure("idle", plan.idle_conns)?;
            let [client, server, future] = measure("in-flight", plan.in_flight_calls)?;
            memory.push(Memory {
                system: system.clone(),
                idle: (idle_client, idle_server),
                in_flight: (client, server),
                future,
            });
        }
    }
    let finished = report::Machine::now();
    if let Some(dir) = &args.charts {
        for path in chart::draw(&rows, dir)? {
            eprintln!("chart: {}", path.display());
        }
    }
    print!(
        "{}",
        report::render(
            &rows,
            &memory,
            &plan_summary(&plan),
            &started,
            &finished,
            args.smoke
        )
    );
    Ok(())
}

fn plan_summary(plan: &Plan) -> String {
    format!(
        "{} repetition(s) per point, median shown; {:?} warm-up then {:?} measured; \
         memory: {} idle connections, {} calls in flight",
        plan.reps, plan.warmup, plan.measure, plan.idle_conns, plan.in_flight_calls
    )
}

impl Point {
    fn client_args(&self, plan: &Plan) -> Vec<String> {
        [
            ("conns", self.conns.to_string()),
            ("callers", self.callers.to_string()),
            ("payload", self.payload.to_string()),
            ("kind", self.kind.to_string()),
            ("warmup-ms", plan.warmup.as_millis().to_string()),
            ("measure-ms", plan.measure.as_millis().to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [format!("--{k}"), v])
        .collect()
    }
}
