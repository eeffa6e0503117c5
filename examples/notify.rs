//! Notify: one-way sends. The sender waits for nothing; the receiver counts.
//!
//! Run with `cargo run --example notify`.

#[path = "support/logging.rs"]
mod logging;

use std::sync::Mutex;

#[cluster::service]
pub trait Inbox {
    #[oneway]
    async fn notify(&self, message: String);
    async fn stats(&self) -> (u32, String);
}

#[derive(Default)]
struct Mailbox {
    state: Mutex<(u32, String)>,
}

impl Inbox for Mailbox {
    async fn notify(&self, message: String) {
        println!("server: notified {message:?}");
        let mut state = self.state.lock().expect("mailbox");
        state.0 += 1;
        state.1 = message;
    }

    async fn stats(&self) -> (u32, String) {
        self.state.lock().expect("mailbox").clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), cluster::Error> {
    logging::init();
    let server = cluster::Node::builder()
        .handler(InboxServer::new(Mailbox::default()))
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    let client = cluster::Node::builder().build();
    let inbox = InboxClient::new(client.connect(&listener.local_addr().to_string()).await);

    for i in 1..=5 {
        inbox.notify(format!("event {i}")).await?;
    }
    println!("client: sent 5 notifications without waiting");
    // Each request is handled in its own task, so give the handlers a
    // moment before asking for the count.
    loop {
        let (count, last) = inbox.stats().await?;
        println!("client: server counted {count}, last {last:?}");
        if count == 5 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
