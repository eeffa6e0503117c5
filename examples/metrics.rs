//! Metrics: a node serving Prometheus text while a client drives it.
//!
//! The server's handler is wrapped in the metrics layer, the client's calls
//! go through a `MeteredTarget`, and `metrics-exporter-prometheus` renders
//! what they recorded. The example serves it on `http://127.0.0.1:PORT/metrics`
//! (PORT from `--port`, else any free one; the address is printed).
//!
//! Run with `cargo run --example metrics` to print one scrape and exit, or
//! `cargo run --example metrics -- --port 9898 --serve` to keep serving
//! until Ctrl-C (`--scrapes N` stops after N scrapes).

#[path = "support/logging.rs"]
mod logging;

use std::time::Duration;

use cluster::Node;
use cluster::layer::{HandlerExt, MeteredTarget, Metrics, record_node_stats};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Calls of `add` the client makes.
const CALLS: i32 = 20;
/// One-way `log` sends it makes.
const SENDS: usize = 5;

#[cluster::service]
pub trait Calc {
    async fn add(&self, a: i32, b: i32) -> i32;
    #[oneway]
    async fn log(&self, line: String);
}

struct Calculator;

impl Calc for Calculator {
    async fn add(&self, a: i32, b: i32) -> i32 {
        a + b
    }

    async fn log(&self, line: String) {
        tracing::debug!(line, "logged");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init();
    let options = Options::parse()?;
    // Before any layer is built: layers register with this recorder.
    let prometheus = PrometheusBuilder::new()
        .set_buckets(&[0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])?
        .install_recorder()?;

    let server = Node::builder()
        .handler(CalcServer::new(Calculator).layer(Metrics::server()))
        .build();
    let listener = server.listen("127.0.0.1:0")?;
    let client = Node::builder().build();
    let peer = client.connect(&listener.local_addr().to_string()).await;
    let calc = CalcClient::new(MeteredTarget::new(
        peer,
        CalcClient::SERVICE,
        CalcClient::COMMANDS,
    ));
    for i in 0..SENDS {
        calc.log(format!("line {i}")).await?;
    }
    // After the sends, on the same connection: the server has read them all.
    for i in 0..CALLS {
        assert_eq!(calc.add(i, 1).await?, i + 1);
    }
    record_node_stats(&server);
    println!("calls done: {CALLS} add, {SENDS} log");

    let http = TcpListener::bind(("127.0.0.1", options.port)).await?;
    println!("metrics on http://{}/metrics", http.local_addr()?);
    if options.serve {
        serve(&http, &prometheus, &server, options.scrapes).await;
    } else {
        let scrape = tokio::spawn(get(http.local_addr()?));
        serve(&http, &prometheus, &server, Some(1)).await;
        print!("{}", scrape.await??);
    }
    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}

struct Options {
    port: u16,
    serve: bool,
    scrapes: Option<usize>,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Options {
            port: 0,
            serve: false,
            scrapes: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |what: &str| {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("{arg} needs {what}"))
            };
            match arg.as_str() {
                "--port" => options.port = value("a port")? as u16,
                "--scrapes" => options.scrapes = Some(value("a count")?),
                "--serve" => options.serve = true,
                _ => {
                    return Err(format!(
                        "usage: metrics [--port PORT] [--serve] [--scrapes N]; got {arg}"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// Answers each HTTP request on `http` with the metrics, `scrapes` times
/// or until Ctrl-C.
async fn serve(
    http: &TcpListener,
    prometheus: &PrometheusHandle,
    node: &Node,
    scrapes: Option<usize>,
) {
    let mut served = 0;
    while scrapes.is_none_or(|n| served < n) {
        let (mut stream, _) = tokio::select! {
            accepted = http.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => return,
        };
        // The request itself does not matter: every path is the metrics.
        let mut request = [0; 1024];
        let _ = stream.read(&mut request).await;
        record_node_stats(node);
        let body = prometheus.render();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        if let Err(error) = stream.write_all(response.as_bytes()).await {
            tracing::warn!(%error, "scrape not answered");
        }
        served += 1;
    }
}

/// One scrape of `addr`, the body only.
async fn get(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, body)| body.to_owned()))
}
