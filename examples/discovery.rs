//! Nodes found by name: three Rust nodes register in a directory, and a
//! fourth calls them by name, as a group (round-robin and by key), sees one
//! leave and come back at a new address.
//!
//! ```text
//! cargo run --example discovery                                       # static directory, nothing else running
//! cargo run --example discovery --features etcd -- --etcd http://127.0.0.1:2379
//! cargo run --example discovery --features etcd -- --etcd URL --call silly-1
//! ```
//!
//! `--call NAME` also calls the node NAME found in the directory: for
//! instance a Lua silly node that `examples/silly_register.lua` registered
//! in the same etcd (cluster `demo`), serving silly's interop schema.

#[path = "support/logging.rs"]
mod logging;

#[path = "silly_interop/service.rs"]
mod service;

use std::process::ExitCode;
use std::time::Duration;

use cluster::Node;
use cluster::membership::{
    BackendConfig, Error, Membership, NodeRecord, Selector, StaticDirectory, service_info,
};
use service::*;

/// The etcd cluster name; `silly_register.lua` uses the same.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
const CLUSTER: &str = "demo";

struct Args {
    etcd: Option<String>,
    call: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let Some(args) = parse(std::env::args().skip(1)) else {
        eprintln!("usage: discovery [--etcd URL] [--call NAME]");
        return ExitCode::from(2);
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("discovery: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Option<Args> {
    let mut parsed = Args {
        etcd: None,
        call: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--etcd" => parsed.etcd = Some(args.next()?),
            "--call" => parsed.call = Some(args.next()?),
            _ => return None,
        }
    }
    Some(parsed)
}

fn backend(args: &Args) -> Result<BackendConfig, String> {
    match &args.etcd {
        None => Ok(StaticDirectory::default().into()),
        #[cfg(feature = "etcd")]
        Some(url) => Ok(cluster::membership::EtcdOptions::new([url.as_str()], CLUSTER).into()),
        #[cfg(not(feature = "etcd"))]
        Some(_) => Err("built without etcd: add `--features etcd` to cargo run".into()),
    }
}

/// A node serving the interop service, registered as `name`.
async fn start(backend: &BackendConfig, name: &str) -> Result<Membership, Error> {
    let node = Node::builder()
        .handler(InteropServer::new(Server::default()))
        .build();
    let listener = node.listen("127.0.0.1:0")?;
    let record = NodeRecord::new(name, listener.local_addr().to_string())
        .service(service_info(
            InteropClient::SERVICE,
            InteropClient::COMMANDS,
        ))
        .role("interop");
    Membership::builder(node)
        .backend(backend.clone())
        .register(record)
        .build()
        .await
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let backend = backend(&args)?;
    let mut servers = Vec::new();
    for name in ["rust-1", "rust-2", "rust-3"] {
        servers.push(start(&backend, name).await?);
    }
    let me = Membership::builder(Node::builder().build())
        .backend(backend.clone())
        .build()
        .await?;
    let mut watch = me.watch();
    tokio::time::timeout(
        Duration::from_secs(5),
        watch.wait_for(|d| {
            ["rust-1", "rust-2", "rust-3"]
                .iter()
                .all(|n| d.get(n).is_some())
        }),
    )
    .await??;
    for node in me.directory().iter() {
        println!(
            "directory: {} at {} (role {:?})",
            node.name, node.addr, node.role
        );
    }

    // By name: resolved at each call.
    let rust2 = InteropClient::new(me.named("rust-2"));
    let pong = rust2
        .ping(Ping {
            msg: Some("hello".into()),
        })
        .await?;
    println!("rust-2 answered ping with {:?}", pong.msg);

    // A group by service, round-robin: six notifications, two each.
    let group = me.group(Selector::service(InteropClient::SERVICE));
    let interop = InteropClient::new(group.clone());
    for i in 0..6 {
        interop
            .notify(Notify {
                message: Some(format!("n{i}").into()),
            })
            .await?;
    }
    for name in ["rust-1", "rust-2", "rust-3"] {
        let counts = InteropClient::new(me.named(name))
            .stats(Stats { dummy: Some(0) })
            .await?;
        println!(
            "{name} got {:?} of the group's notifications",
            counts.notifies
        );
    }

    // By key: one player always lands on the same member.
    let player = group.by_key("player-42");
    let owner = player.member().map(|r| r.name.clone());
    let sum = InteropClient::new(player)
        .add(Add {
            a: Some(40),
            b: Some(2),
        })
        .await?;
    println!(
        "player-42 lives on {owner:?}; it added 40 + 2 = {:?}",
        sum.result
    );

    // rust-3 leaves: calls by name fail at once ...
    servers.pop().expect("rust-3").shutdown().await;
    watch.wait_for(|d| d.get("rust-3").is_none()).await?;
    let rust3 = InteropClient::new(me.named("rust-3"));
    match rust3.ping(Ping { msg: None }).await {
        Err(e @ Error::NoNode { .. }) => println!("rust-3 gone: {e}"),
        other => return Err(format!("expected NoNode, got {other:?}").into()),
    }
    // ... or wait for it, if asked: it comes back at a new address.
    let waiting =
        InteropClient::new(me.named("rust-3").wait()).with_timeout(Duration::from_secs(5));
    let call = tokio::spawn(async move {
        waiting
            .ping(Ping {
                msg: Some("back?".into()),
            })
            .await
    });
    servers.push(start(&backend, "rust-3").await?);
    println!("rust-3 is back and answered {:?}", call.await??.msg);

    if let Some(name) = &args.call {
        let node = InteropClient::new(me.named(name).wait()).with_timeout(Duration::from_secs(5));
        let pong = node
            .ping(Ping {
                msg: Some("from rust".into()),
            })
            .await?;
        let sum = node
            .add(Add {
                a: Some(1),
                b: Some(2),
            })
            .await?;
        println!(
            "{name} answered ping with {:?} and 1 + 2 = {:?}",
            pong.msg, sum.result
        );
    }

    // Deregister first (with etcd: revoke the leases), then let the nodes go.
    for server in &servers {
        server.shutdown().await;
    }
    me.shutdown().await;
    println!("done");
    Ok(())
}
