//! The reader task: turns the byte stream into frames, hands responses to
//! their calls and requests to the dispatcher.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::Semaphore;
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
                    if requests.available_permits() == 0 {
                        tracing::debug!(conn = conn.id, "request limit reached: pausing reads");
                        if requests.acquire().await.is_err() {
                            return Error::Closed;
                        }
                    }
                    let req = Request {
                        cmd,
                        session,
                        trace_id,
                        body,
                        peer: peer.clone(),
                    };
                    if let Some(handling) = dispatch::start(conn, req) {
                        // Only this reader takes permits, and one was free.
                        handling.spawn(requests.clone().try_acquire_owned().ok());
                    }
                }
            }
        }
        started = match started {
            _ if buf.is_empty() => None,
            Some(t) if !decoded => Some(t),
            _ => Some(Instant::now()),
        };
        buf.reserve(codec.missing(&buf).clamp(READ_CHUNK, MAX_RESERVE));
        let read = rd.read_buf(&mut buf);
        let result = match (started, config.limits.frame_read_timeout) {
            (Some(t), Some(limit)) => match tokio::time::timeout_at(t + limit, read).await {
                Ok(result) => result,
                Err(_) => return ProtocolError::ReadTimeout(limit).into(),
            },
            _ => read.await,
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
