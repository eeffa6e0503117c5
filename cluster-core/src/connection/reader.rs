//! The reader task: turns the byte stream into frames, hands responses to
//! their calls and requests to the dispatcher.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{Connection, dispatch};
use crate::error::{Error, ProtocolError};
use crate::handler::Request;
use crate::peer::Peer;
use crate::wire::Frame;

/// The least a read asks for: small enough that an idle connection holds
/// little, large enough that a busy one reads many frames per syscall.
const READ_CHUNK: usize = 8 * 1024;
/// The most a read reserves ahead of a large frame: the header's length is
/// not trusted with an allocation, the buffer grows as bytes really arrive.
const MAX_RESERVE: usize = 1024 * 1024;
/// How much of the requests that wait for a handler slot may be held while
/// reading goes on (a larger request is still taken, alone).
const MAX_WAITING: usize = 1024 * 1024;

pub(super) async fn run(conn: Arc<Connection>, peer: Peer, mut rd: OwnedReadHalf) {
    let reason = read_frames(&conn, &peer, &mut rd).await;
    match &reason {
        Error::Closed => tracing::debug!(conn = conn.id, "connection closed by peer"),
        reason => tracing::warn!(conn = conn.id, %reason, "closing connection"),
    }
    conn.shutdown(reason, false);
}

/// Reads until the connection ends; returns why.
async fn read_frames(conn: &Arc<Connection>, peer: &Peer, rd: &mut OwnedReadHalf) -> Error {
    let config = &conn.node.config;
    let codec = config.codec;
    let requests = Arc::new(Semaphore::new(config.limits.max_concurrent_requests));
    let mut waiting = Waiting::default();
    let mut buf = BytesMut::new();
    // When the incomplete frame at the front of `buf` began to arrive.
    let mut started: Option<Instant> = None;
    loop {
        let mut decoded = false;
        loop {
            let frame = match codec.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return e.into(),
            };
            decoded = true;
            match frame {
                Frame::Response { session, body } => {
                    if !conn.sessions.complete(session, body) {
                        tracing::debug!(
                            conn = conn.id,
                            session,
                            "response for no pending call dropped"
                        );
                    }
                }
                Frame::Request {
                    session,
                    cmd,
                    trace_id,
                    body,
                } => {
                    let req = Request {
                        cmd,
                        session,
                        trace_id,
                        body,
                        peer: peer.clone(),
                    };
                    if waiting.is_empty() && requests.available_permits() > 0 {
                        if let Some(handling) = dispatch::start(conn, req) {
                            // Only this reader takes permits, and one was free.
                            handling.spawn(requests.clone().try_acquire_owned().ok());
                        }
                    } else {
                        waiting.push(req);
                    }
                }
            }
        }
        while let Ok(permit) = requests.clone().try_acquire_owned() {
            if !waiting.dispatch(conn, permit) {
                break;
            }
        }
        started = match started {
            _ if buf.is_empty() => None,
            Some(t) if !decoded => Some(t),
            _ => Some(Instant::now()),
        };
        if waiting.is_full() {
            tracing::debug!(conn = conn.id, "request limit reached: pausing reads");
            let Ok(permit) = requests.clone().acquire_owned().await else {
                return Error::Closed;
            };
            waiting.dispatch(conn, permit);
            // The pause was the node's doing, not the peer's: an incomplete
            // frame's clock starts again.
            started = started.map(|_| Instant::now());
            continue;
        }
        buf.reserve(codec.missing(&buf).clamp(READ_CHUNK, MAX_RESERVE));
        let read = async {
            let read = rd.read_buf(&mut buf);
            match (started, config.limits.frame_read_timeout) {
                (Some(t), Some(limit)) => tokio::time::timeout_at(t + limit, read)
                    .await
                    .map_err(|_| ProtocolError::ReadTimeout(limit)),
                _ => Ok(read.await),
            }
        };
        // Responses keep being read while requests wait for a handler to
        // end: a handler may be waiting for one of them.
        let result = tokio::select! {
            read = read => match read {
                Ok(result) => result,
                Err(timeout) => return timeout.into(),
            },
            Ok(permit) = requests.clone().acquire_owned(), if !waiting.is_empty() => {
                waiting.dispatch(conn, permit);
                continue;
            }
        };
        match result {
            Ok(0) if buf.is_empty() => return Error::Closed,
            Ok(0) => {
                tracing::debug!(
                    conn = conn.id,
                    bytes = buf.len(),
                    "connection closed inside a frame"
                );
                return Error::Closed;
            }
            Ok(_) => {}
            Err(e) => return e.into(),
        }
    }
}

/// Requests read while every handler slot of the connection was taken, in
/// arrival order. They hold their bytes and nothing else: no task is
/// spawned for them until a slot frees.
#[derive(Default)]
struct Waiting {
    requests: VecDeque<Request>,
    bytes: usize,
}

impl Waiting {
    fn push(&mut self, req: Request) {
        self.bytes += Self::size(&req);
        self.requests.push_back(req);
    }

    /// Starts the oldest request, which holds `permit` if its handler has
    /// to wait; false if there was none.
    fn dispatch(&mut self, conn: &Arc<Connection>, permit: OwnedSemaphorePermit) -> bool {
        let Some(req) = self.requests.pop_front() else {
            return false;
        };
        self.bytes -= Self::size(&req);
        if let Some(handling) = dispatch::start(conn, req) {
            handling.spawn(Some(permit));
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Whether reading must stop until a handler ends.
    fn is_full(&self) -> bool {
        self.bytes >= MAX_WAITING
    }

    fn size(req: &Request) -> usize {
        std::mem::size_of::<Request>() + req.body.len()
    }
}
