//! Connect and reconnect: `connect` always returns a peer, even before the
//! server exists; after a failed attempt the peer backs off (calls fail at
//! once with the last cause) before it dials again; when the connection is
//! lost, the next call reconnects.
//!
//! Run with `cargo run --example reconnect`.

#[path = "support/logging.rs"]
mod logging;

use tokio::sync::mpsc;

#[cluster::service]
pub trait Counter {
    async fn next(&self) -> u64;
}

#[derive(Default)]
struct Count(std::sync::atomic::AtomicU64);

impl Counter for Count {
    async fn next(&self) -> u64 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    // A port with nobody on it yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string();

    let (lost_tx, mut lost) = mpsc::unbounded_channel();
    let backoff = std::time::Duration::from_millis(100);
    let client = cluster::Node::builder()
        .reconnect_backoff(backoff, backoff)
        .on_close(move |peer, reason| {
            println!("client: lost {} ({reason})", peer.addr());
            let _ = lost_tx.send(());
        })
        .build();
    let counter = CounterClient::new(client.connect(&addr).await);
    println!(
        "client: before the server starts: {}",
        counter.next().await.unwrap_err()
    );

    let (accepted_tx, mut accepted) = mpsc::unbounded_channel();
    let server = cluster::Node::builder()
        .handler(CounterServer::new(Count::default()))
        .on_accept(move |peer, remote| {
            println!("server: accepted {remote}");
            let _ = accepted_tx.send(peer.clone());
        })
        .build();
    let _listener = server.listen(&addr)?;
    println!(
        "client: server up, still backing off: {}",
        counter.next().await.unwrap_err()
    );
    tokio::time::sleep(backoff).await;
    println!(
        "client: same peer, server up: next = {}",
        counter.next().await?
    );

    // The server drops the connection; the client notices...
    let first = accepted.recv().await.ok_or(cluster::Error::Closed)?;
    first.close();
    lost.recv().await;
    // ...and its next call reconnects on its own.
    println!("client: after reconnect: next = {}", counter.next().await?);
    accepted.recv().await.ok_or(cluster::Error::Closed)?;
    Ok(())
}
