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

/// A snapshot of what [`Budget`] counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) connections: usize,
    pub(crate) refused: u64,
    pub(crate) dropped_responses: u64,
    pub(crate) reconnects: u64,
    pub(crate) running: usize,
    pub(crate) queued: usize,
    pub(crate) memory: usize,
    pub(crate) tasks: usize,
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
