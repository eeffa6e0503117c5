//! The reader task: turns the byte stream into frames, hands responses to
//! their calls and requests to the dispatcher, and pauses when the node
//! must hold back.
//!
//! Reading pauses while too many requests queue for a handler, while the
//! node is over its memory budget and this connection holds more than its
//! share, and before a frame larger than the read buffer until its size
//! fits in the budget. A paused reader still looks at its socket every
//! [`PROBE`], so a peer that leaves meanwhile is noticed.
//!
//! A request body smaller than [`COPY_BELOW`] is copied out of the read
//! buffer: a slice would keep the whole buffer it was read into alive for
//! as long as its handler runs (8 KiB or more for a request of a few bytes
//! trickled one per read).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::dispatch::{Admission, RequestHead};
use super::{Connection, End};
use crate::budget::Limit;
use crate::error::{Error, ProtocolError};
use crate::transport::ReadHalf;
use crate::wire::{Frame, ext};

/// The least a read asks for: small enough that an idle connection holds
/// little, large enough that a busy one reads many frames per syscall.
const READ_CHUNK: usize = 8 * 1024;
/// The most a read asks for when reads keep filling their space (see
/// [`ReadSize`]).
const MAX_CHUNK: usize = 64 * 1024;
/// The most a read reserves ahead of a large frame: the header's length is
/// not trusted with an allocation, the buffer grows as bytes really arrive.
const MAX_RESERVE: usize = 1024 * 1024;
/// Request bodies up to this size are copied out of a sparse read buffer.
const COPY_BELOW: usize = 4 * 1024;
/// A read this small leaves its buffer mostly empty.
const TINY_READ: usize = 1024;
/// How often a paused reader checks whether its peer left.
const PROBE: Duration = Duration::from_millis(200);

pub(super) async fn run(conn: Arc<Connection>, mut rd: ReadHalf) {
    let mut admission = Admission::new(&conn);
    match read_frames(&conn, &mut admission, &mut rd).await {
        Ok(()) => {
            tracing::debug!(
                conn = conn.id,
                "peer finished sending: answering what it sent"
            );
            // No response to this side's calls can come any more.
            conn.fail_calls(Error::Closed);
            if tokio::time::timeout(conn.linger(), drain(&conn, &mut admission))
                .await
                .is_err()
            {
                tracing::debug!(
                    conn = conn.id,
                    handlers = conn.handlers(),
                    "handlers still running after the peer finished: cancelled"
                );
            }
            drop(admission);
            conn.shutdown(Error::Closed, End::Drained);
        }
        Err(reason) => {
            tracing::warn!(conn = conn.id, %reason, "closing connection");
            drop(admission);
            conn.shutdown(reason, End::Lost);
        }
    }
}

/// Runs every request already read to its end.
async fn drain(conn: &Connection, admission: &mut Admission) {
    loop {
        admission.start_waiting();
        if admission.is_empty() {
            conn.handlers.done().await;
            return;
        }
        admission.slot_freed().await;
    }
}

/// Reads until the peer finishes sending (`Ok`) or the connection fails.
async fn read_frames(
    conn: &Arc<Connection>,
    admission: &mut Admission,
    rd: &mut ReadHalf,
) -> Result<(), Error> {
    let config = &conn.shared.config;
    let budget = &conn.shared.budget;
    let codec = config.codec;
    let mut buf = BytesMut::new();
    // Budget reserved for a frame larger than the read buffer.
    let mut reserved = Reserved::new(conn);
    // When the incomplete frame at the front of `buf` began to arrive.
    let mut started: Option<Instant> = None;
    // Whether the last read brought little: its frames are copied out.
    let mut sparse = false;
    let mut size = ReadSize(READ_CHUNK);
    loop {
        // Counted once per read, not per frame: the one-way path is short.
        let mut frames = 0;
        while let Some(frame) = codec.decode(&mut buf)? {
            frames += 1;
            match frame {
                Frame::Response { session, body } => {
                    let settled = if conn.ext.receives() {
                        conn.settle_ext(session, body)?
                    } else {
                        conn.take_hello_reply(session, &body)
                            || conn.sessions.complete(session, body)
                    };
                    if !settled {
                        budget.dropped_response();
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
                    let (deadline, body) = if conn.ext.receives() {
                        let (remaining, body) = ext::split_request(body)?;
                        if cmd == ext::CANCEL_CMD {
                            conn.cancelled(ext::cancelled_session(&body)?);
                            continue;
                        }
                        (remaining.map(|r| Instant::now() + r), body)
                    } else if conn.take_hello(session, cmd, &body) {
                        continue;
                    } else {
                        (None, body)
                    };
                    let head = RequestHead {
                        cmd,
                        session,
                        trace_id,
                    };
                    admission.admit(head, deadline, own(body, sparse));
                }
            }
        }
        if frames > 0 {
            budget.decoded(frames);
        }
        admission.start_waiting();
        started = match started {
            _ if buf.is_empty() => None,
            Some(t) if frames == 0 => Some(t),
            _ => Some(Instant::now()),
        };
        let missing = codec.missing(&buf);
        if missing <= READ_CHUNK {
            reserved.release();
        }
        // Each pause is the node's doing, not the peer's: an incomplete
        // frame's clock starts again after it.
        // With the extension, requests beyond the queue are refused with a
        // status instead (see `Admission::admit`).
        if admission.is_full() && !conn.ext.receives() {
            tracing::debug!(conn = conn.id, "request limit reached: pausing reads");
            paused(rd, admission.slot_freed()).await?;
            admission.start_waiting();
            started = started.map(|_| Instant::now());
            continue;
        }
        // What a frame's reservation holds is not held against reading it.
        // Not `admission` itself: the closure is held across an await.
        let admitted = admission.bytes();
        let held = || admitted + conn.queued_bytes();
        if !budget.may_read(held()) {
            budget.limit_hit(Limit::MemoryBudget);
            tracing::debug!(
                conn = conn.id,
                held = held(),
                "memory budget reached: pausing reads"
            );
            paused(rd, async {
                while !budget.may_read(held()) {
                    let freed = budget.freed();
                    let _ = tokio::time::timeout(PROBE, freed).await;
                }
            })
            .await?;
            started = started.map(|_| Instant::now());
        }
        if missing > READ_CHUNK && reserved.bytes == 0 {
            let want = missing.min(config.limits.max_frame);
            if !budget.try_reserve(want) {
                budget.limit_hit(Limit::MemoryBudget);
                tracing::debug!(
                    conn = conn.id,
                    frame = want,
                    "memory budget reached: large frame waits"
                );
                paused(rd, async {
                    while !budget.try_reserve(want) {
                        let freed = budget.freed();
                        let _ = tokio::time::timeout(PROBE, freed).await;
                    }
                })
                .await?;
                started = started.map(|_| Instant::now());
            }
            reserved.bytes = want;
        }
        if buf.is_empty() && buf.capacity() > 2 * size.0 {
            // Past a burst or a large frame: give the memory back (bodies
            // still using it keep it until they go).
            buf = BytesMut::new();
        }
        let want = missing.clamp(size.0, MAX_RESERVE);
        if buf.capacity() - buf.len() < want && !buf.try_reclaim(want) {
            // Growing in place would copy the bytes already taken off the
            // front too (a `BytesMut` grows its whole allocation): the
            // unread tail alone moves to a new buffer.
            let mut fresh = BytesMut::with_capacity(buf.len() + want);
            fresh.extend_from_slice(&buf);
            buf = fresh;
        }
        let space = buf.capacity() - buf.len();
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
            read = read => read?,
            () = admission.slot_freed(), if !admission.is_empty() => {
                admission.start_waiting();
                continue;
            }
        };
        match result {
            Ok(0) if buf.is_empty() => return Ok(()),
            Ok(0) => {
                tracing::debug!(
                    conn = conn.id,
                    bytes = buf.len(),
                    "connection closed inside a frame"
                );
                return Err(Error::Closed);
            }
            Ok(n) => {
                budget.read(n);
                sparse = n < TINY_READ;
                size.after(space, n);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How much the next read asks for: [`READ_CHUNK`], doubled after each
/// read that filled its space, up to [`MAX_CHUNK`], and back once a read
/// brings less than a quarter of it. A busy connection then reads what is
/// waiting in few syscalls (at 128 calls of 1 KiB in flight, an 8 KiB read
/// took 16 syscalls per round), and an idle one holds little.
struct ReadSize(usize);

impl ReadSize {
    fn after(&mut self, space: usize, read: usize) {
        if read >= space {
            self.0 = (self.0 * 2).min(MAX_CHUNK);
        } else if read < self.0 / 4 {
            self.0 = READ_CHUNK;
        }
    }
}

/// A small body of a sparse read copied out of the read buffer, any other
/// as it is.
fn own(body: Bytes, sparse: bool) -> Bytes {
    if sparse && body.len() < COPY_BELOW {
        Bytes::copy_from_slice(&body)
    } else {
        body
    }
}

/// Budget the reader took for a large frame, given back once it is read.
struct Reserved<'a> {
    conn: &'a Connection,
    bytes: usize,
}

impl<'a> Reserved<'a> {
    fn new(conn: &'a Connection) -> Self {
        Self { conn, bytes: 0 }
    }

    fn release(&mut self) {
        self.conn
            .shared
            .budget
            .sub_memory(std::mem::take(&mut self.bytes));
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Waits for `until` while reading is paused, looking at the socket every
/// [`PROBE`]: `Err` if the peer closed or reset the connection meanwhile.
/// A FIN seen while paused ends the connection at once, unlike one that is
/// read: the requests behind it cannot be read without unpausing, and a
/// peer that left must not hold its handlers and buffers.
async fn paused<T>(rd: &ReadHalf, until: impl Future<Output = T>) -> Result<T, Error> {
    let mut until = pin!(until);
    loop {
        tokio::select! {
            value = &mut until => return Ok(value),
            () = tokio::time::sleep(PROBE) => {
                if let Some(reason) = rd.peer_left() {
                    return Err(reason);
                }
            }
        }
    }
}
