//! Node-wide accounting: the connections, tasks, handlers and memory of all
//! of a node's connections together, against [`crate::Limits`]' node-wide
//! bounds.
//!
//! Counters are plain atomics so that the call path pays one uncontended
//! atomic add where it pays anything. The memory budget never fails
//! anything: a reader asks [`Budget::may_read`] before reading and waits on
//! [`Budget::freed`] when it may not, which is how the node slows its
//! largest consumers instead of dropping what it accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::config::Limits;

pub(crate) struct Budget {
    max_connections: usize,
    memory_budget: usize,
    connections: AtomicUsize,
    refused: AtomicU64,
    /// Events counted for [`crate::NodeStats`] only: cold paths.
    dropped_responses: AtomicU64,
    reconnects: AtomicU64,
    unsent_responses: AtomicU64,
    /// Times each [`Limit`] held the node back, by `Limit as usize`.
    limit_hits: [AtomicU64; Limit::COUNT],
    traffic: Traffic,
    max_handlers: usize,
    /// Handlers running, and requests queued for a handler.
    running: AtomicUsize,
    queued: AtomicUsize,
    memory: AtomicUsize,
    tasks: AtomicUsize,
    /// Woken when memory falls back under the budget, and when the last
    /// handler of the node ends.
    freed: Notify,
    idle: Notify,
    /// Woken when a handler slot comes free while all were taken.
    handler_freed: Notify,
}

/// A limit of the node's that held it back: what [`crate::LimitHits`]
/// counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// A request refused because its connection's handler slots were taken.
    MaxConcurrentRequests,
    /// A request refused because the node's handler slots were taken.
    MaxHandlers,
    /// Reading paused because the node was over its memory budget.
    MemoryBudget,
    /// A frame refused because its connection's write queue was full.
    WriteQueue,
}

impl Limit {
    const COUNT: usize = 4;
}

/// Bytes and frames through the node's sockets, on a cache line of their
/// own: every connection's reader and writer add to them, and should not
/// contend with the counters the call path reads.
#[derive(Default)]
#[repr(align(64))]
struct Traffic {
    bytes_in: AtomicU64,
    frames_in: AtomicU64,
    bytes_out: AtomicU64,
    frames_out: AtomicU64,
}

/// A snapshot of what [`Budget`] counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) connections: usize,
    pub(crate) refused: u64,
    pub(crate) dropped_responses: u64,
    pub(crate) reconnects: u64,
    pub(crate) unsent_responses: u64,
    pub(crate) limit_hits: [u64; Limit::COUNT],
    pub(crate) bytes_in: u64,
    pub(crate) frames_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) frames_out: u64,
    pub(crate) running: usize,
    pub(crate) queued: usize,
    pub(crate) memory: usize,
    pub(crate) tasks: usize,
}

impl Counts {
    pub(crate) fn limit_hits(&self) -> crate::LimitHits {
        let hits = |limit: Limit| self.limit_hits[limit as usize];
        crate::LimitHits {
            max_concurrent_requests: hits(Limit::MaxConcurrentRequests),
            max_handlers: hits(Limit::MaxHandlers),
            memory_budget: hits(Limit::MemoryBudget),
            write_queue: hits(Limit::WriteQueue),
        }
    }
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_connections: limits.max_connections,
            memory_budget: limits.memory_budget,
            connections: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            dropped_responses: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            unsent_responses: AtomicU64::new(0),
            limit_hits: Default::default(),
            traffic: Traffic::default(),
            max_handlers: limits.max_handlers,
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            memory: AtomicUsize::new(0),
            tasks: AtomicUsize::new(0),
            freed: Notify::new(),
            idle: Notify::new(),
            handler_freed: Notify::new(),
        }
    }

    /// A response came for no pending call (late, or bogus) and was dropped.
    pub(crate) fn dropped_response(&self) {
        self.dropped_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// An outbound peer connected again after a connection of its ended.
    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A response or status reply of this node's could not be queued for
    /// writing (connection closed, write queue full) and was dropped.
    pub(crate) fn unsent_response(&self) {
        self.unsent_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// `limit` held the node back once: a request refused or a read paused.
    pub(crate) fn limit_hit(&self, limit: Limit) {
        self.limit_hits[limit as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A read brought `bytes`. Once per read, not per frame.
    pub(crate) fn read(&self, bytes: usize) {
        self.traffic
            .bytes_in
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The frames decoded from one read's bytes.
    pub(crate) fn decoded(&self, frames: u64) {
        self.traffic.frames_in.fetch_add(frames, Ordering::Relaxed);
    }

    /// One write sent `bytes` holding `frames` frames.
    pub(crate) fn wrote(&self, bytes: usize, frames: usize) {
        let traffic = &self.traffic;
        traffic.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
        traffic
            .frames_out
            .fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// Takes a connection slot, or `None` when the node has
    /// `max_connections` open (a refused accept is counted).
    pub(crate) fn open_connection(self: &Arc<Self>, accepted: bool) -> Option<ConnectionSlot> {
        let admitted = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .is_ok();
        if !admitted && accepted {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        admitted.then(|| ConnectionSlot(self.clone()))
    }

    /// Counts a task for as long as the returned guard lives.
    pub(crate) fn task(self: &Arc<Self>) -> TaskGuard {
        self.tasks.fetch_add(1, Ordering::Relaxed);
        TaskGuard(self.clone())
    }

    pub(crate) fn add_memory(&self, bytes: usize) {
        if bytes > 0 {
            self.memory.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub(crate) fn sub_memory(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.memory.fetch_sub(bytes, Ordering::Relaxed);
        if before > self.memory_budget && before - bytes <= self.memory_budget {
            self.freed.notify_waiters();
        }
    }

    /// Whether a connection holding `held` bytes may read more now: always
    /// under the budget; over it, only a connection holding less than its
    /// share of the budget.
    pub(crate) fn may_read(&self, held: usize) -> bool {
        let memory = self.memory.load(Ordering::Relaxed);
        if memory <= self.memory_budget {
            return true;
        }
        let share = self.memory_budget / self.connections.load(Ordering::Relaxed).max(1);
        held < share
    }

    /// Charges `bytes` of a frame about to be buffered if they fit in the
    /// budget, or if nothing else is held (so that one frame larger than
    /// the whole budget still gets through, alone).
    pub(crate) fn try_reserve(&self, bytes: usize) -> bool {
        self.memory
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| {
                (m == 0 || m + bytes <= self.memory_budget).then_some(m + bytes)
            })
            .is_ok()
    }

    /// Resolves when memory may have been given back.
    pub(crate) fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.freed.notified()
    }

    /// A request was queued for a handler.
    pub(crate) fn queued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// A queued request left the queue: after it started, if it did.
    pub(crate) fn unqueued(&self) {
        self.end(&self.queued);
    }

    /// A handler started waiting: it takes one of the node's slots.
    pub(crate) fn running(&self) {
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a handler slot is free.
    pub(crate) fn may_run(&self) -> bool {
        self.running.load(Ordering::Acquire) < self.max_handlers
    }

    /// Resolves when a handler slot may have come free.
    pub(crate) fn handler_freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.handler_freed.notified()
    }

    /// A handler ended (finished or cancelled): its slot is free.
    pub(crate) fn stopped(&self) {
        let before = self.running.load(Ordering::Acquire);
        self.end(&self.running);
        if before >= self.max_handlers {
            self.handler_freed.notify_waiters();
        }
    }

    fn end(&self, counter: &AtomicUsize) {
        counter.fetch_sub(1, Ordering::AcqRel);
        if self.running.load(Ordering::Acquire) == 0 && self.queued.load(Ordering::Acquire) == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no handler runs or waits anywhere on the node.
    pub(crate) async fn handlers_done(&self) {
        loop {
            let idle = self.idle.notified();
            let counts = self.counts();
            if counts.running == 0 && counts.queued == 0 {
                return;
            }
            idle.await;
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            connections: self.connections.load(Ordering::Acquire),
            refused: self.refused.load(Ordering::Relaxed),
            dropped_responses: self.dropped_responses.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            unsent_responses: self.unsent_responses.load(Ordering::Relaxed),
            limit_hits: self
                .limit_hits
                .each_ref()
                .map(|hits| hits.load(Ordering::Relaxed)),
            bytes_in: self.traffic.bytes_in.load(Ordering::Relaxed),
            frames_in: self.traffic.frames_in.load(Ordering::Relaxed),
            bytes_out: self.traffic.bytes_out.load(Ordering::Relaxed),
            frames_out: self.traffic.frames_out.load(Ordering::Relaxed),
            running: self.running.load(Ordering::Acquire),
            queued: self.queued.load(Ordering::Acquire),
            memory: self.memory.load(Ordering::Relaxed),
            tasks: self.tasks.load(Ordering::Acquire),
        }
    }
}

/// One of the node's connection slots, given back on drop.
pub(crate) struct ConnectionSlot(Arc<Budget>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One counted task of the node.
pub(crate) struct TaskGuard(Arc<Budget>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.tasks.fetch_sub(1, Ordering::AcqRel);
    }
}
