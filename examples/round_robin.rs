//! Round-robin load balancing: a balancer spreads jobs over a pool of
//! workers in turn.
//!
//! Run with `cargo run --example round_robin`.

#[path = "support/logging.rs"]
mod logging;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use cluster::Node;

#[cluster::service]
pub trait Worker {
    /// Returns which worker did the job.
    async fn work(&self, job: u32) -> String;
}

struct Named(String);

impl Worker for Named {
    async fn work(&self, job: u32) -> String {
        println!("{}: job {job}", self.0);
        self.0.clone()
    }
}

/// Hands each job to the next worker.
struct Balancer {
    workers: Vec<WorkerClient>,
    next: AtomicUsize,
}

impl Balancer {
    fn pick(&self) -> &WorkerClient {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        &self.workers[i]
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let balancer_node = Node::builder().build();
    let mut workers = Vec::new();
    let mut nodes = Vec::new();
    for i in 1..=3 {
        let node = Node::builder()
            .handler(WorkerServer::new(Named(format!("worker {i}"))))
            .build();
        let addr = node.listen("127.0.0.1:0")?.local_addr().to_string();
        workers.push(WorkerClient::new(balancer_node.connect(&addr).await));
        nodes.push(node);
    }
    let balancer = Balancer {
        workers,
        next: AtomicUsize::new(0),
    };

    let mut done: BTreeMap<String, u32> = BTreeMap::new();
    for job in 1..=9 {
        let by = balancer.pick().work(job).await?;
        *done.entry(by).or_default() += 1;
    }
    println!("balancer: jobs per worker: {done:?}");
    assert!(done.values().all(|&n| n == 3), "an even spread");
    Ok(())
}
