//! One node listening on several ports: every listener serves the same
//! service, and each can be closed on its own.
//!
//! Run with `cargo run --example multi_listen`.

#[path = "support/logging.rs"]
mod logging;

#[cluster::service]
pub trait Hello {
    async fn hello(&self, name: String) -> String;
}

struct Greeter;

impl Hello for Greeter {
    async fn hello(&self, name: String) -> String {
        format!("hello, {name}")
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let server = cluster::Node::builder()
        .handler(HelloServer::new(Greeter))
        .on_accept(|_, remote| println!("server: accepted {remote}"))
        .build();
    let listeners = [
        server.listen("127.0.0.1:0")?,
        server.listen("127.0.0.1:0")?,
        server.listen("127.0.0.1:0")?,
    ];

    let client = cluster::Node::builder().build();
    for (i, listener) in listeners.iter().enumerate() {
        let port = listener.local_addr().port();
        let hello = HelloClient::new(client.connect(&listener.local_addr().to_string()).await);
        println!(
            "client: port {port} says {:?}",
            hello.hello(format!("client {i}")).await?
        );
    }

    // The open connections stay; new ones to the closed port are refused.
    listeners[0].close();
    let newcomer = cluster::Node::builder().build();
    let late = HelloClient::new(
        newcomer
            .connect(&listeners[0].local_addr().to_string())
            .await,
    );
    let refused = late.hello("late".into()).await;
    println!(
        "newcomer: the closed port: {}",
        refused.as_ref().unwrap_err()
    );
    assert!(refused.is_err(), "a closed listener accepts nothing");
    Ok(())
}
