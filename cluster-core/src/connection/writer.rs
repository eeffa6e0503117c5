//! The write queue and the writer task.
//!
//! Callers encode frames straight into one shared buffer; the writer task
//! takes the whole buffer and writes it with one call. Under load many
//! frames go out per syscall; idle, a frame goes out as soon as the writer
//! runs. The buffer is bounded ([`crate::Limits::write_queue`]).
//!
//! Woken with a single frame queued while frames have lately been coming
//! several per write, the writer first lets the tasks that are ready to run
//! queue theirs. Without that, on a multi-thread runtime the woken writer
//! runs next on its worker (tokio's next-task slot), right after the first
//! caller, and wrote about 2 frames per syscall at 128 callers. It does not
//! yield otherwise: with one caller there is nothing to wait for, and a
//! burst queued by one task (a reader answering requests) is all there
//! already; a yield would only wake the runtime's other worker for nothing.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio::time::timeout;

use super::{Connection, End};
use crate::budget::{Budget, Limit};
use crate::error::Error;
use crate::sync::lock;
use crate::transport::WriteHalf;

/// Buffer memory beyond this is given back once the connection has been
/// idle for [`RELEASE_AFTER`], so a burst does not pin memory on an idle
/// connection. While busy the buffers are kept, however large: growing one
/// again for every batch of 128 frames of 1 KiB cost about 9 % of the
/// instructions of such calls.
const KEEP_CAPACITY: usize = 64 * 1024;
const RELEASE_AFTER: Duration = Duration::from_secs(1);

/// Queued bytes are charged to the node's memory budget in steps of this
/// size, so that most frames touch no counter shared with other threads:
/// every caller and writer of every connection updates the node's, and
/// a `fetch_add` and a `fetch_sub` on it per frame showed in profiles.
const CHARGE_STEP: usize = 4096;

pub(super) struct WriteQueue {
    state: Mutex<Queue>,
    ready: Notify,
    /// Woken when the queue closes, so that a writer stuck on a peer that
    /// does not read gives up after the linger.
    closing: Notify,
    limit: usize,
    /// Queued bytes count against the node's memory budget.
    budget: Arc<Budget>,
}

struct Queue {
    buf: BytesMut,
    /// Frames in `buf`.
    frames: usize,
    /// Bytes taken by the writer and not yet written: they count against
    /// the limit too.
    writing: usize,
    /// Bytes charged to the node's memory budget: `queued()` rounded up to
    /// a whole [`CHARGE_STEP`].
    charged: usize,
    closed: bool,
}

impl Queue {
    fn queued(&self) -> usize {
        self.buf.len() + self.writing
    }

    /// What `charged` should be now.
    fn due(&self) -> usize {
        self.queued().div_ceil(CHARGE_STEP) * CHARGE_STEP
    }
}

impl WriteQueue {
    pub(super) fn new(limit: usize, budget: Arc<Budget>) -> Self {
        Self {
            state: Mutex::new(Queue {
                buf: BytesMut::new(),
                frames: 0,
                writing: 0,
                charged: 0,
                closed: false,
            }),
            ready: Notify::new(),
            closing: Notify::new(),
            limit,
            budget,
        }
    }

    /// Appends one frame with `encode`, which writes nothing when it fails.
    pub(super) fn push(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(Error::Closed);
        }
        let queued = queue.queued();
        if queued > 0 && queued >= self.limit {
            self.budget.limit_hit(Limit::WriteQueue);
            return Err(Error::Overloaded { limit: self.limit });
        }
        let was_empty = queue.buf.is_empty();
        let start = queue.buf.len();
        let mut frame = Unfinished {
            buf: &mut queue.buf,
            start,
        };
        encode(frame.buf)?;
        frame.start = usize::MAX;
        drop(frame);
        queue.frames += 1;
        // Charged with the queue locked, as refunds are, so that one
        // queue's charges and refunds reach the budget in order.
        let due = queue.due();
        if due > queue.charged {
            self.budget.add_memory(due - queue.charged);
            queue.charged = due;
        }
        drop(queue);
        // Only the first frame of a batch needs to wake the writer; later
        // ones ride along.
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Stops accepting frames; the writer ends once the queue is drained.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
        self.closing.notify_waiters();
    }

    /// Resolves `linger` after the queue closed.
    async fn abandoned(&self, linger: Duration) {
        let closing = self.closing.notified();
        if !self.lock().closed {
            closing.await;
        }
        tokio::time::sleep(linger).await;
    }

    /// Bytes waiting to be written.
    pub(super) fn queued(&self) -> usize {
        self.lock().queued()
    }

    /// Swaps the queued bytes into `spare` (empty) and returns them with
    /// their frame count, or `None` when the queue is empty and closed.
    /// `coalesce`: frames have been coming several per write lately, so a
    /// lone frame found on waking is likely the first of a burst.
    async fn take(&self, spare: BytesMut, coalesce: bool) -> Option<(BytesMut, usize)> {
        let mut spare = Some(spare);
        let mut woken = false;
        loop {
            let (first_of_burst, holding) = {
                let mut queue = self.lock();
                let first_of_burst = woken && coalesce && queue.frames == 1;
                if !queue.buf.is_empty() && !first_of_burst {
                    let batch = std::mem::replace(&mut queue.buf, spare.take().unwrap_or_default());
                    queue.writing = batch.len();
                    return Some((batch, std::mem::take(&mut queue.frames)));
                }
                if queue.buf.is_empty() && queue.closed {
                    return None;
                }
                let held = queue.buf.capacity() + spare.as_ref().map_or(0, BytesMut::capacity);
                (first_of_burst, held > KEEP_CAPACITY)
            };
            if first_of_burst {
                // Runs again once the tasks that are ready now have run.
                tokio::task::yield_now().await;
                woken = false;
                continue;
            }
            if !holding {
                self.ready.notified().await;
            } else if timeout(RELEASE_AFTER, self.ready.notified()).await.is_err() {
                spare = None;
                let mut queue = self.lock();
                if queue.buf.is_empty() {
                    queue.buf = BytesMut::new();
                }
                continue;
            }
            woken = true;
        }
    }

    /// The batch taken last, of `frames` frames, is written.
    fn written(&self, frames: usize) {
        let mut queue = self.lock();
        let written = std::mem::take(&mut queue.writing);
        let due = queue.due();
        self.budget.sub_memory(queue.charged - due);
        queue.charged = due;
        drop(queue);
        self.budget.wrote(written, frames);
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, Queue> {
        lock(&self.state)
    }
}

/// A frame being encoded into the queue: cut off again if encoding
/// unwinds (a body's encoder runs user code), so that the stream never
/// carries half a frame. `start` is `usize::MAX` once it is whole.
struct Unfinished<'a> {
    buf: &'a mut BytesMut,
    start: usize,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        self.buf.truncate(self.start);
    }
}

impl Drop for WriteQueue {
    fn drop(&mut self) {
        self.budget.sub_memory(self.lock().charged);
    }
}

pub(super) async fn run(conn: Arc<Connection>, mut wr: WriteHalf) {
    let mut spare = BytesMut::new();
    let mut per_write = FramesPerWrite::default();
    while let Some((mut batch, frames)) = conn.writes.take(spare, per_write.several()).await {
        let written = tokio::select! {
            biased;
            written = wr.write_batch(&batch) => written,
            () = conn.writes.abandoned(conn.linger()) => {
                tracing::debug!(conn = conn.id, "peer does not read: queued frames dropped");
                return;
            }
        };
        if let Err(e) = written {
            tracing::debug!(conn = conn.id, error = %e, "write failed");
            conn.shutdown(Error::from(e), End::Lost);
            return;
        }
        conn.writes.written(frames);
        per_write.add(frames);
        batch.clear();
        spare = batch;
    }
    let _ = wr.shutdown().await;
}

/// A moving average of the frames that went out per write, so that one
/// lone frame does not end coalescing under load.
#[derive(Default)]
struct FramesPerWrite {
    /// Frames per write × 16, smoothed over about 8 writes.
    avg16: usize,
}

impl FramesPerWrite {
    fn add(&mut self, frames: usize) {
        self.avg16 = (self.avg16 * 7 + frames.min(1 << 20) * 16) / 8;
    }

    /// More than 1.5 frames per write lately.
    fn several(&self) -> bool {
        self.avg16 > 24
    }
}
