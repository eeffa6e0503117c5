//! Add: calls with the node's default timeout and with a per-call one, and
//! what a timeout looks like.
//!
//! Run with `cargo run --example add`.

#[path = "support/logging.rs"]
mod logging;

use std::time::Duration;

use cluster::Error;

#[cluster::service]
pub trait Calc {
    #[cmd(0x03)]
    async fn add(&self, a: i32, b: i32) -> i32;
    /// Adds, slowly.
    async fn slow_add(&self, a: i32, b: i32, delay_ms: u64) -> i32;
}

struct Calculator;

impl Calc for Calculator {
    async fn add(&self, a: i32, b: i32) -> i32 {
        a + b
    }

    async fn slow_add(&self, a: i32, b: i32, delay_ms: u64) -> i32 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        a + b
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let server = cluster::Node::builder()
        .handler(CalcServer::new(Calculator))
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    let client = cluster::Node::builder()
        .timeout(Duration::from_secs(2))
        .build();
    let calc = CalcClient::new(client.connect(&listener.local_addr().to_string()).await);

    println!("add(1, 2) = {}", calc.add(1, 2).await?);
    println!(
        "slow_add(3, 4) in 50 ms = {}",
        calc.slow_add(3, 4, 50).await?
    );

    let impatient = calc.clone().with_timeout(Duration::from_millis(100));
    match impatient.slow_add(5, 6, 500).await {
        Err(Error::Timeout) => println!("slow_add(5, 6) in 500 ms with a 100 ms timeout: timeout"),
        other => println!("unexpected: {other:?}"),
    }
    // The late response is dropped; the connection carries on.
    println!("add(7, 8) = {}", calc.add(7, 8).await?);
    Ok(())
}
