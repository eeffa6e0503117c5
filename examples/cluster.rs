//! A small cluster: workers register with a registry and send heartbeats; a
//! gateway asks the registry to forward jobs to a worker by name; the
//! registry calls the worker on the gateway's behalf.
//!
//! Run with `cargo run --example cluster`.

#[path = "support/logging.rs"]
mod logging;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cluster::{Node, Peer};

/// Served by the registry.
#[cluster::service]
pub trait Registry {
    /// A worker announces itself and the address it listens on.
    async fn register(&self, name: String, addr: String) -> u32;
    /// A worker is still alive.
    #[oneway]
    async fn heartbeat(&self, name: String);
    /// Runs `job` on the worker called `worker`.
    async fn forward(&self, worker: String, job: String) -> Result<String, String>;
    /// Every registered worker with the heartbeats it sent.
    async fn members(&self) -> Vec<(String, u32)>;
}

/// Served by every worker.
#[cluster::service]
pub trait Worker {
    async fn work(&self, job: String) -> String;
}

struct Members {
    node: Node,
    workers: Mutex<HashMap<String, (Peer, u32)>>,
}

impl Registry for Members {
    async fn register(&self, name: String, addr: String) -> u32 {
        let peer = self.node.connect(&addr).await;
        let mut workers = self.workers.lock().expect("workers");
        let id = workers.len() as u32 + 1;
        println!("registry: {name} registered from {addr} as #{id}");
        workers.insert(name, (peer, 0));
        id
    }

    async fn heartbeat(&self, name: String) {
        if let Some((_, beats)) = self.workers.lock().expect("workers").get_mut(&name) {
            *beats += 1;
        }
    }

    async fn forward(&self, worker: String, job: String) -> Result<String, String> {
        let peer = match self.workers.lock().expect("workers").get(&worker) {
            Some((peer, _)) => peer.clone(),
            None => return Err(format!("no worker called {worker}")),
        };
        WorkerClient::new(peer)
            .work(job)
            .await
            .map_err(|e| e.to_string())
    }

    async fn members(&self) -> Vec<(String, u32)> {
        let workers = self.workers.lock().expect("workers");
        let mut members: Vec<_> = workers
            .iter()
            .map(|(name, (_, beats))| (name.clone(), *beats))
            .collect();
        members.sort();
        members
    }
}

struct Named(String);

impl Worker for Named {
    async fn work(&self, job: String) -> String {
        format!("{} did {job}", self.0)
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let registry_node = Node::builder().build();
    let registry = Node::builder()
        .handler(RegistryServer::new(Members {
            node: registry_node,
            workers: Mutex::default(),
        }))
        .build();
    let registry_addr = registry.listen("127.0.0.1:0")?.local_addr().to_string();

    let mut workers = Vec::new();
    for name in ["alpha", "beta"] {
        let node = Node::builder()
            .handler(WorkerServer::new(Named(name.into())))
            .build();
        let addr = node.listen("127.0.0.1:0")?.local_addr().to_string();
        let to_registry = RegistryClient::new(node.connect(&registry_addr).await);
        to_registry.register(name.into(), addr).await?;
        workers.push((node, to_registry, name));
    }
    for _ in 0..3 {
        for (_, to_registry, name) in &workers {
            to_registry.heartbeat(name.to_string()).await?;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let gateway = Node::builder().build();
    let to_registry = RegistryClient::new(gateway.connect(&registry_addr).await);
    // Heartbeats are one-way; the registry may still be counting the last.
    println!(
        "gateway: members and heartbeats: {:?}",
        to_registry.members().await?
    );

    for (worker, job) in [("alpha", "job 1"), ("beta", "job 2"), ("gamma", "job 3")] {
        match to_registry.forward(worker.into(), job.into()).await? {
            Ok(done) => println!("gateway: {done}"),
            Err(why) => println!("gateway: {job} not run: {why}"),
        }
    }
    Ok(())
}
