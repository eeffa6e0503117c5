//! Close: closing a peer is final and local (no close callback here, the
//! remote gets one); closing a listener stops new connections only.
//!
//! Run with `cargo run --example close`.

#[path = "support/logging.rs"]
mod logging;

use tokio::sync::mpsc;

#[cluster::service]
pub trait Echo {
    async fn echo(&self, text: String) -> String;
}

struct Parrot;

impl Echo for Parrot {
    async fn echo(&self, text: String) -> String {
        text
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let server = cluster::Node::builder()
        .handler(EchoServer::new(Parrot))
        .on_close(move |peer, reason| {
            println!("server: {} went away ({reason})", peer.addr());
            let _ = closed_tx.send(());
        })
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    let addr = listener.local_addr().to_string();
    let client = cluster::Node::builder()
        .on_close(|_, _| println!("client: close callback (never for a local close)"))
        .build();

    let first = EchoClient::new(client.connect(&addr).await);
    let second = EchoClient::new(cluster::Node::builder().build().connect(&addr).await);
    println!("client: echo {:?}", first.echo("one".into()).await?);
    println!("client: echo {:?}", second.echo("two".into()).await?);

    first.peer().close();
    println!(
        "client: after close: {}",
        first.echo("again".into()).await.unwrap_err()
    );
    closed.recv().await;

    listener.close();
    println!(
        "client: the listener is closed, the open connection still works: {:?}",
        second.echo("three".into()).await?
    );
    let late = EchoClient::new(client.connect(&addr).await);
    println!(
        "client: a new connection is refused: {}",
        late.echo("four".into()).await.unwrap_err()
    );
    Ok(())
}
