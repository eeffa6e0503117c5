//! Interop with Lua silly nodes, on silly's own wire (v1 or v2) and schema.
//!
//! ```text
//! cargo run --example silly_interop -- server 127.0.0.1:9001 [--wire v1|v2]
//! cargo run --example silly_interop -- client 127.0.0.1:9001 [--wire v1|v2]
//! ```
//!
//! Either side may be a silly node running the same schema: silly a625d30e
//! speaks wire v1 (the default), silly of 2026 wire v2. The server prints
//! `listening on ADDR`, logs through `tracing-subscriber` (`RUST_LOG`,
//! default `info`) and exits cleanly on SIGINT or SIGTERM. The client
//! prints one line per check and `N passed, N failed`, and exits 0 only if
//! every check passed; if it cannot connect it says so and exits 1.

mod check;
#[path = "../support/logging.rs"]
mod logging;
mod service;

use std::process::ExitCode;

use cluster::{Error, Node, WireFormat};
use service::*;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: silly_interop server ADDR [--wire v1|v2] | client ADDR [--wire v1|v2]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (role, addr, wire) = match args[..] {
        [role, addr] => (role, addr, Some(WireFormat::V1)),
        [role, addr, "--wire", wire] => (role, addr, parse_wire(wire)),
        _ => ("", "", None),
    };
    let result = match (role, wire) {
        ("server", Some(wire)) => serve(addr, wire).await,
        ("client", Some(wire)) => return check::run(addr, wire).await,
        _ => {
            eprintln!("{USAGE}");
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

fn parse_wire(text: &str) -> Option<WireFormat> {
    match text {
        "v1" => Some(WireFormat::V1),
        "v2" => Some(WireFormat::V2),
        _ => None,
    }
}

async fn serve(addr: &str, wire: WireFormat) -> Result<(), Error> {
    // The server only: the client's report is its output, one line a check.
    logging::init();
    let node = Node::builder()
        .wire(wire)
        .handler(InteropServer::new(Server::default()))
        .build();
    let listener = node.listen(addr)?;
    // The one line on stdout, which scripts (and tests/examples.rs) read.
    println!("listening on {}", listener.local_addr());
    tracing::info!(addr = %listener.local_addr(), ?wire, "serving silly's interop schema");
    match stop_signal().await {
        Ok(name) => tracing::info!(signal = name, "stopping: requests in flight get 5 s"),
        Err(error) => tracing::error!(%error, "cannot wait for signals: stopping"),
    }
    // Stops accepting, lets running handlers answer, then closes.
    node.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM and names the one that came.
async fn stop_signal() -> std::io::Result<&'static str> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}
