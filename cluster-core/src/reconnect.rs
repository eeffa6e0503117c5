//! Reconnect of outbound peers: on the next call after a connection was lost,
//! one connect attempt, shared by every caller that arrives while it runs.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::peer::Peer;

/// Connects an outbound peer to its address.
pub(crate) struct Dialer {
    addr: String,
    /// Held for the length of an attempt; holds the last attempt's failure.
    attempt: Mutex<Option<Error>>,
    /// Counts attempts, so a caller that waited on one can tell it ran.
    attempts: AtomicU64,
}

impl Dialer {
    pub(crate) fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            attempt: Mutex::new(None),
            attempts: AtomicU64::new(0),
        }
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Returns the peer's connection, making one attempt unless another
    /// caller's attempt ran while this one waited: then its outcome is shared,
    /// so a dead address is not hammered by every waiting caller.
    pub(crate) async fn connect(&self, peer: &Peer) -> Result<Arc<Connection>> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_failure = self.attempt.lock().await;
        if let Some(conn) = peer.current()? {
            return Ok(conn);
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            if let Some(failure) = &*last_failure {
                return Err(failure.clone());
            }
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let stream = match dial(&self.addr).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(addr = %self.addr, error = %e, "connect failed");
                *last_failure = Some(e.clone());
                return Err(e);
            }
        };
        *last_failure = None;
        let conn = Connection::new(&peer.inner.node, peer);
        if !peer.attach(&conn) {
            conn.shutdown(Error::PeerClosed, true);
            return Err(Error::PeerClosed);
        }
        conn.start(stream, peer.clone());
        tracing::debug!(addr = %self.addr, conn = conn.id, "connected");
        Ok(conn)
    }
}

/// Resolves `addr` and connects to the first address that accepts.
async fn dial(addr: &str) -> Result<TcpStream> {
    let resolved = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| Error::Resolve {
            addr: addr.to_owned(),
            source: Arc::new(e),
        })?;
    let mut last = None;
    for target in resolved {
        match TcpStream::connect(target).await {
            Ok(stream) => {
                // Frames are coalesced by the writer; Nagle would only delay them.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let source =
        last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "resolved to no address"));
    Err(Error::Connect {
        addr: addr.to_owned(),
        source: Arc::new(source),
    })
}
