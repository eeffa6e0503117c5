//! Ping/pong: a server and a client node in one process, one typed service.
//!
//! Run with `cargo run --example pingpong`.

#[path = "support/logging.rs"]
mod logging;

/// The service both sides agree on.
#[cluster::service]
pub trait PingPong {
    async fn ping(&self, msg: String) -> String;
}

struct Server;

impl PingPong for Server {
    async fn ping(&self, msg: String) -> String {
        println!("server: got {msg:?}");
        msg.replace("ping", "pong")
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let server = cluster::Node::builder()
        .handler(PingPongServer::new(Server))
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    println!("server: listening on {}", listener.local_addr());

    let client = cluster::Node::builder().build();
    let peer = client.connect(&listener.local_addr().to_string()).await;
    let pingpong = PingPongClient::new(peer);
    for i in 1..=3 {
        let reply = pingpong.ping(format!("ping {i}")).await?;
        println!("client: got {reply:?}");
    }
    Ok(())
}
