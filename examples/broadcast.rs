//! Broadcast: one node sends an announcement to every node of the cluster at
//! once and collects their acknowledgements.
//!
//! Run with `cargo run --example broadcast`.

#[path = "support/logging.rs"]
mod logging;

use cluster::Node;
use tokio::task::JoinSet;

#[cluster::service]
pub trait Announce {
    /// Returns the receiving node's name, as an acknowledgement.
    async fn announce(&self, text: String) -> String;
}

struct Listener(String);

impl Announce for Listener {
    async fn announce(&self, text: String) -> String {
        println!("{}: heard {text:?}", self.0);
        self.0.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let mut addrs = Vec::new();
    let mut nodes = Vec::new();
    for i in 1..=5 {
        let node = Node::builder()
            .handler(AnnounceServer::new(Listener(format!("node {i}"))))
            .build();
        addrs.push(node.listen("127.0.0.1:0")?.local_addr().to_string());
        nodes.push(node);
    }

    let hub = Node::builder().build();
    let mut acks = JoinSet::new();
    for addr in &addrs {
        let client = AnnounceClient::new(hub.connect(addr).await);
        acks.spawn(async move { client.announce("maintenance at noon".into()).await });
    }
    let mut acknowledged = Vec::new();
    while let Some(ack) = acks.join_next().await {
        match ack {
            Ok(Ok(name)) => acknowledged.push(name),
            Ok(Err(e)) => println!("hub: a node failed to acknowledge: {e}"),
            Err(e) => println!("hub: task failed: {e}"),
        }
    }
    acknowledged.sort();
    println!(
        "hub: {} of {} acknowledged: {acknowledged:?}",
        acknowledged.len(),
        addrs.len()
    );
    assert_eq!(acknowledged.len(), addrs.len(), "every node acknowledged");
    Ok(())
}
