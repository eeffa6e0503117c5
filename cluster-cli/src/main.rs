//! `cluster`: call and load-test the commands of live cluster nodes, Rust or
//! Lua silly, from a shell, and check `.zproto` schemas.
//!
//! A request is a zproto message named in a schema and written as JSON (see
//! [`json`] for the mapping), sent as silly sends it: the command id is the
//! message's tag and the body is `pack(encode(msg))`. `--cmd` and `--hex`
//! send raw bytes instead. The response message is chosen by the rule in
//! [`response`]; exit codes are in [`exit`].
//!
//! `cluster nodes` and `cluster watch` read the membership directory (a
//! static JSON file, or etcd with feature `etcd`) without registering in
//! it: [`nodes`], [`watch`].

#![forbid(unsafe_code)]

mod bench;
mod call;
mod exit;
mod hex;
mod json;
mod nodes;
mod request;
mod response;
mod schema;
mod show;
mod source;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cluster call 127.0.0.1:9001 ping '{\"msg\":\"hi\"}' --schema interop.zproto
  cluster call 127.0.0.1:9001 notify '{\"message\":\"hello\"}' --schema interop.zproto
  cluster call 127.0.0.1:9001 --cmd 0x01 --hex 110d01f10568656c6c016f
  cluster bench 127.0.0.1:9001 add '{\"a\":1,\"b\":2}' --schema interop.zproto -c 64 -d 10
  cluster schema check interop.zproto
  cluster nodes --static nodes.json
  cluster watch --etcd http://127.0.0.1:2379 --cluster demo --json

Exit codes: 0 success; 1 the call failed (timeout, refused, closed), its
response does not decode, a bench call failed, `schema check` found an
error, or the directory cannot be read (bad file, etcd unreachable); 2
usage: bad arguments, an unreadable or invalid schema given to call or
bench, an unknown message, bad JSON or hex.";

const DIRECTORY_FORM: &str = "\
Lines: NAME ADDR WIRE role=ROLE services=SERVICE(method=ID,...);... epoch=MS
[caps=CAP,...] (- for no role or no services). --json prints the nodes as a
static directory file: {\"nodes\":[{\"name\":...,\"addr\":...,\"services\":
[{\"name\":...,\"commands\":[[method,id],...]}],\"wire\":...,\"caps\":[...],
\"epoch\":...,\"role\":...}]}. Nothing is registered: the directory is only read.";

const NODES_EXAMPLES: &str = "\
Examples:
  cluster nodes --static nodes.json
  cluster nodes --etcd http://127.0.0.1:2379 --cluster demo
  cluster nodes --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 --json > nodes.json

Exit codes: 0 printed; 1 the file cannot be read or is not a valid
directory, or etcd cannot be reached; 2 usage.";

const WATCH_FORM: &str = "\
After the directory, one line per change:
  joined LINE
  left LINE
  changed LINE (was addr=OLD, epoch=OLD, ...)
--json: a first line {\"event\":\"directory\",\"nodes\":[...]}, then
{\"event\":\"joined\"|\"left\",\"node\":{...}} or
{\"event\":\"changed\",\"node\":{...},\"was\":{...}}, one per line.
A static file is re-read when it changes (checked each second); an edit
that does not parse is ignored and the last good directory stays.

Examples:
  cluster watch --static nodes.json
  cluster watch --etcd http://127.0.0.1:2379 --cluster demo --json
  cluster watch --static nodes.json --count 1   # exits after one change

Exit codes: 0 after --count changes or Ctrl-C; 1 the file cannot be read
or is not a valid directory, or etcd cannot be reached; 2 usage.";

const JSON_FORM: &str = "\
JSON: integers are numbers (all 64 bits exact), floats numbers or \"NaN\",
\"inf\", \"-inf\"; string and blob fields are JSON strings when their bytes
are UTF-8, otherwise {\"$bytes\":\"<hex>\"} (accepted on input too, so any
bytes round-trip); a struct is an object of its present fields (null means
absent); arrays and maps are arrays. Output is one line, fields in tag order.

Response: --oneway sends and returns once the request is written;
--response NAME names the response message; otherwise a schema comment
`# Responses: ping->pong, add->sum` pairs them (requests it does not pair
are one-way), and without one the message tagged one higher answers
(one-way if there is none).";

/// Call, load-test and inspect live cluster nodes, Rust or silly.
#[derive(Debug, Parser)]
#[command(name = "cluster", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send one request and print the response as one line (JSON, or hex for --cmd)
    #[command(after_help = format!("{JSON_FORM}\n\n{EXAMPLES}"))]
    Call(CallArgs),
    /// Repeat one request from many callers: calls/s, latency percentiles, errors
    #[command(after_help = EXAMPLES)]
    Bench(BenchArgs),
    /// Check a .zproto schema, or export it for the Lua side
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Print the membership directory once: one node per line, or --json
    #[command(after_help = format!("{DIRECTORY_FORM}\n\n{NODES_EXAMPLES}"))]
    Nodes(NodesArgs),
    /// Print the membership directory, then each change as it happens
    #[command(after_help = format!("{DIRECTORY_FORM}\n\n{WATCH_FORM}"))]
    Watch(WatchArgs),
}

/// Arguments of `cluster call`.
#[derive(Debug, Args)]
struct CallArgs {
    /// The node, host:port
    addr: String,
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Arguments of `cluster bench`.
#[derive(Debug, Args)]
struct BenchArgs {
    /// The node, host:port
    addr: String,
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    conn: ConnArgs,
    /// Concurrent callers
    #[arg(short = 'c', long, value_name = "CALLERS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..))]
    callers: u32,
    /// Connections the callers share (round-robin)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    conns: u32,
    /// Calls in all
    #[arg(
        short = 'n',
        long,
        value_name = "CALLS",
        default_value_t = 1000,
        conflicts_with = "duration"
    )]
    calls: u64,
    /// Run for this many seconds instead of a number of calls
    #[arg(short = 'd', long, value_name = "SECS", value_parser = parse_seconds)]
    duration: Option<f64>,
    /// Print the result as one JSON object
    #[arg(long = "json")]
    json_report: bool,
}

/// What to send: a schema message from JSON, or raw bytes.
#[derive(Debug, Args)]
struct RequestArgs {
    /// The request message's name in the schema; its tag is the command id
    #[arg(required_unless_present = "cmd", requires = "schema")]
    message: Option<String>,
    /// The request as JSON, or - to read it from stdin [default: {}]
    #[arg(requires = "message")]
    json: Option<String>,
    /// The .zproto schema file
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// The response message (instead of the schema's pairing)
    #[arg(
        long,
        value_name = "NAME",
        requires = "message",
        conflicts_with = "oneway"
    )]
    response: Option<String>,
    /// Send without waiting for a response
    #[arg(long)]
    oneway: bool,
    /// Raw command id (decimal or 0x hex), instead of MESSAGE
    #[arg(long, value_name = "N", value_parser = parse_number::<u32>,
          conflicts_with_all = ["message", "schema"])]
    cmd: Option<u32>,
    /// Raw request body as hex, with --cmd [default: empty]
    #[arg(long, value_name = "BODY", requires = "cmd")]
    hex: Option<String>,
}

/// How to reach the node.
#[derive(Debug, Args)]
struct ConnArgs {
    /// silly's frame layout: v1 (until early 2026) or v2 (4-byte header)
    #[arg(long, value_enum, default_value_t = Wire::V1)]
    wire: Wire,
    /// Call timeout, also bounding the connect
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Trace id to send, exactly as given (decimal or 0x hex)
    #[arg(long, value_name = "ID", value_parser = parse_number::<u64>)]
    trace: Option<u64>,
}

/// Where the membership directory is.
#[derive(Debug, Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("source").required(true).multiple(false)))]
struct SourceArgs {
    /// A static directory file (JSON, as the membership static backend reads)
    #[arg(long = "static", value_name = "FILE", group = "source")]
    static_file: Option<PathBuf>,
    /// etcd endpoints, comma-separated (needs a build with feature etcd)
    #[arg(long, value_name = "URL", value_delimiter = ',', group = "source")]
    etcd: Vec<String>,
    /// The cluster in etcd: keys under /cluster/NAME/nodes/
    #[arg(
        long,
        value_name = "NAME",
        default_value = "default",
        conflicts_with = "static_file"
    )]
    cluster: String,
}

/// Arguments of `cluster nodes`.
#[derive(Debug, Args)]
struct NodesArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Print one JSON document (a static directory file) instead of lines
    #[arg(long)]
    json: bool,
}

/// Arguments of `cluster watch`.
#[derive(Debug, Args)]
struct WatchArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Print one JSON object per line
    #[arg(long)]
    json: bool,
    /// Exit after this many changes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Wire {
    V1,
    V2,
}

impl From<Wire> for cluster_core::WireFormat {
    fn from(wire: Wire) -> Self {
        match wire {
            Wire::V1 => cluster_core::WireFormat::V1,
            Wire::V2 => cluster_core::WireFormat::V2,
        }
    }
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Parse a schema: errors with line and column (exit 1), or its messages and responses
    Check {
        /// The .zproto file
        file: PathBuf,
    },
    /// Print a schema as canonical .zproto text that silly's parser reads
    /// (preferred type names, decimal tags, the `# Responses:` pairs kept)
    Export {
        /// The .zproto file
        file: PathBuf,
    },
}

/// Reads `123` or `0x7b`.
fn parse_number<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let n = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|e| e.to_string())?;
    T::try_from(n).map_err(|_| format!("{n} is out of range"))
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs < 1e9 => Ok(secs),
        Ok(_) => Err("must be a positive number of seconds".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: {e}");
            ExitCode::from(e.code())
        }
    }
}

fn run(command: Command) -> Result<(), exit::Error> {
    use std::io::Write as _;
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match command {
        Command::Call(args) => runtime()?.block_on(call::run(args)),
        Command::Bench(args) => runtime()?.block_on(bench::run(args)),
        Command::Schema(SchemaCommand::Check { file }) => {
            let summary = schema::check(&file)?;
            Ok(std::io::stdout().lock().write_all(summary.as_bytes())?)
        }
        Command::Schema(SchemaCommand::Export { file }) => {
            let text = schema::export(&file)?;
            Ok(std::io::stdout().lock().write_all(text.as_bytes())?)
        }
        Command::Nodes(args) => quiet_on_closed_stdout(runtime()?.block_on(nodes::run(args))),
        Command::Watch(args) => quiet_on_closed_stdout(runtime()?.block_on(watch::run(args))),
    }
}

/// `cluster watch | head -1` ends the watch when `head` has its line: a
/// reader that stops reading is not an error.
fn quiet_on_closed_stdout(result: Result<(), exit::Error>) -> Result<(), exit::Error> {
    match result {
        Err(exit::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
