//! A connection to one node, and the `call` command.

use std::io::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Node, Peer, trace};
use tokio::time::Instant;

use crate::exit::Error;
use crate::request::Prepared;
use crate::{CallArgs, ConnArgs};

/// How often a one-way send checks that its frame has left.
const FLUSH_POLL: Duration = Duration::from_millis(1);

/// A node of its own with one peer: every `Client` is one connection.
pub struct Client {
    node: Node,
    peer: Peer,
    timeout: Duration,
    trace: Option<u64>,
}

impl Client {
    /// Connects to `addr`. A failed connect is not an error yet: the first
    /// call retries it and reports why it failed.
    pub async fn connect(addr: &str, conn: &ConnArgs) -> Client {
        let timeout = Duration::from_millis(conn.timeout);
        let node = Node::builder()
            .wire(conn.wire.into())
            .timeout(timeout)
            // A request carries the current trace with the node id in its
            // low 16 bits, so this makes `--trace ID` go out exactly as ID.
            .node_id(conn.trace.map_or(0, |id| id as u16))
            .build();
        let peer = node.connect(addr).await;
        Client {
            node,
            peer,
            timeout,
            trace: conn.trace,
        }
    }

    /// One call, inside the `--trace` trace if there is one.
    pub async fn call(&self, cmd: u32, body: Bytes) -> Result<Bytes, cluster_core::Error> {
        let call = self.peer.call_timeout(cmd, body, self.timeout);
        match self.trace {
            Some(id) => trace::scope(id, call).await,
            None => call.await,
        }
    }

    /// One one-way send, queued for writing.
    pub async fn send(&self, cmd: u32, body: Bytes) -> Result<(), cluster_core::Error> {
        let send = self.peer.send(cmd, body);
        match self.trace {
            Some(id) => trace::scope(id, send).await,
            None => send.await,
        }
    }

    /// Waits until every queued frame was written to the socket, so that
    /// exiting after a one-way send does not drop it.
    pub async fn flush(&self) -> Result<(), cluster_core::Error> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let stats = self.node.stats();
            if stats.connections == 0 {
                return Err(cluster_core::Error::Closed);
            }
            if stats.queued_bytes == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(cluster_core::Error::Timeout);
            }
            tokio::time::sleep(FLUSH_POLL).await;
        }
    }
}

/// `cluster call`: one request; prints the answer as one line.
pub async fn run(args: CallArgs) -> Result<(), Error> {
    // Everything that can be wrong with the arguments fails before connecting.
    let request = Prepared::new(&args.request)?;
    let client = Client::connect(&args.addr, &args.conn).await;
    if request.is_oneway() {
        client.send(request.cmd, request.body.clone()).await?;
        return Ok(client.flush().await?);
    }
    let body = client.call(request.cmd, request.body.clone()).await?;
    let line = request.decode(body)?.to_line();
    writeln!(io::stdout().lock(), "{line}")?;
    Ok(())
}
