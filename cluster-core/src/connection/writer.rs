//! The write queue and the writer task.
//!
//! Callers encode frames straight into one shared buffer; the writer task
//! takes the whole buffer and writes it with one call. Under load many
//! frames go out per syscall; idle, a frame goes out as soon as the writer
//! runs. The buffer is bounded ([`crate::Limits::write_queue`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

use super::Connection;
use crate::error::Error;

/// Buffers bigger than this are not kept for reuse once written, so a burst
/// does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 64 * 1024;

pub(crate) struct WriteQueue {
    state: Mutex<Queue>,
    ready: Notify,
    limit: usize,
}

struct Queue {
    buf: BytesMut,
    /// Bytes taken by the writer and not yet written: they count against
    /// the limit too.
    writing: usize,
    closed: bool,
}

impl WriteQueue {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(Queue {
                buf: BytesMut::new(),
                writing: 0,
                closed: false,
            }),
            ready: Notify::new(),
            limit,
        }
    }

    /// Appends one frame with `encode`, which writes nothing when it fails.
    pub(crate) fn push(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(Error::Closed);
        }
        let queued = queue.buf.len() + queue.writing;
        if queued > 0 && queued >= self.limit {
            return Err(Error::Overloaded { limit: self.limit });
        }
        let was_empty = queue.buf.is_empty();
        encode(&mut queue.buf)?;
        drop(queue);
        // Only the first frame of a batch needs to wake the writer; later
        // ones ride along.
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Stops accepting frames; the writer ends once the queue is drained.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Bytes waiting to be written.
    pub(crate) fn queued(&self) -> usize {
        let queue = self.lock();
        queue.buf.len() + queue.writing
    }

    /// Swaps the queued bytes into `spare` (empty) and returns them, or
    /// `None` when the queue is empty and closed.
    async fn take(&self, spare: BytesMut) -> Option<BytesMut> {
        let mut spare = Some(spare);
        loop {
            {
                let mut queue = self.lock();
                if !queue.buf.is_empty() {
                    let batch = std::mem::replace(&mut queue.buf, spare.take().unwrap_or_default());
                    queue.writing = batch.len();
                    return Some(batch);
                }
                if queue.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    fn written(&self) {
        self.lock().writing = 0;
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) async fn run(conn: Arc<Connection>, mut wr: OwnedWriteHalf) {
    let mut spare = BytesMut::new();
    while let Some(mut batch) = conn.writes.take(spare).await {
        if let Err(e) = wr.write_all(&batch).await {
            tracing::debug!(conn = conn.id, error = %e, "write failed");
            conn.shutdown(Error::from(e), false);
            return;
        }
        conn.writes.written();
        batch.clear();
        spare = if batch.capacity() > KEEP_CAPACITY {
            BytesMut::new()
        } else {
            batch
        };
    }
    let _ = wr.shutdown().await;
}
