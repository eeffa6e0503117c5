//! Ping/pong: a server and a client node in one process.
//!
//! Run with `cargo run --example pingpong`.

use bytes::Bytes;
use cluster::{Node, Request};

const PING: u32 = 1;

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    let server = Node::builder()
        .handler(|req: Request| async move {
            println!(
                "server: {} from {}",
                String::from_utf8_lossy(&req.body),
                req.peer.addr()
            );
            (req.cmd == PING).then(|| Bytes::from("pong"))
        })
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    println!("server: listening on {}", listener.local_addr());

    let client = Node::builder().build();
    let peer = client.connect(&listener.local_addr().to_string()).await;
    for i in 1..=3 {
        let reply = peer.call(PING, format!("ping {i}")).await?;
        println!("client: {}", String::from_utf8_lossy(&reply));
    }
    peer.close();
    listener.close();
    Ok(())
}
