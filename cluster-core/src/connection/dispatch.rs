//! The dispatcher: admits each request read from a connection, runs its
//! handler and queues its response.
//!
//! Admission: a handler that has to wait holds a permit of its connection
//! ([`crate::Limits::max_concurrent_requests`]) and one of the node
//! ([`crate::Limits::max_handlers`]). A request that finds none queues, in
//! order, holding only its bytes ([`Admission`]); the reader pauses once
//! too many bytes queue. Queued and running handlers count in the node's
//! budget.
//!
//! A handler is first called and polled by the reader itself: one that
//! finishes at once (most do) costs no task, no scheduling, no permit and
//! no copy of its future. One that is not ready moves, as it is, to a task
//! of its own ([`Handling`]), so a slow handler never holds up the other
//! requests of its connection. Polling before spawning is sound because
//! the future is boxed, hence not moved in memory, and the new task polls
//! it again at once, so it registers the task's waker instead of the
//! reader's.
//!
//! Every step runs inside `catch_unwind`, so that a panic is logged with
//! the request's cmd and session and the connection carries on, and inside
//! the request's span when a subscriber wants one. (The request's context,
//! its caller and trace id, is set by the future the owner returns.)
//!
//! Handler tasks are registered with their connection ([`Handlings`]), so
//! that closing it cancels them: their responses could not be delivered.
//! One-way requests are never cancelled by a close: nothing waits for them,
//! and what was accepted is not lost. A shutdown's grace cancels them too.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use super::{BoxedResponse, Connection};
use crate::sync::lock;

/// How much of the requests that wait for a handler slot may be held while
/// reading goes on (a larger request is still taken, alone).
const MAX_WAITING: usize = 1024 * 1024;

/// What identifies a request: in its frame, its context and its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestHead {
    /// The command id.
    pub(crate) cmd: u32,
    /// The caller's session; the response echoes it.
    pub(crate) session: u32,
    /// The caller's trace id.
    pub(crate) trace_id: u64,
}

/// The permits a waiting handler holds: its connection's and its node's.
type Permits = (OwnedSemaphorePermit, OwnedSemaphorePermit);

/// Requests of one connection that wait for a handler slot, in arrival
/// order, and the connection's slots. Owned by the reader.
pub(super) struct Admission {
    conn: Arc<Connection>,
    slots: Arc<Semaphore>,
    waiting: VecDeque<(RequestHead, Bytes)>,
    bytes: usize,
}

impl Admission {
    pub(super) fn new(conn: &Arc<Connection>) -> Self {
        Self {
            conn: conn.clone(),
            slots: Arc::new(Semaphore::new(
                conn.shared.config.limits.max_concurrent_requests,
            )),
            waiting: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Starts the request now if nothing queues before it and slots are
    /// free, or queues it.
    pub(super) fn admit(&mut self, head: RequestHead, body: Bytes) {
        if self.conn.shared.is_draining() {
            tracing::debug!(
                conn = self.conn.id,
                cmd = head.cmd,
                session = head.session,
                "node shutting down: request dropped"
            );
            return;
        }
        let node = &self.conn.shared.budget.handlers;
        if self.waiting.is_empty()
            && self.slots.available_permits() > 0
            && node.available_permits() > 0
        {
            if let Some(handling) = start(&self.conn, head, body) {
                // Only this reader takes this connection's slots, and one
                // was free; the node's may have been taken meanwhile by
                // another reader, and then this one handler goes over.
                let permits = self
                    .slots
                    .clone()
                    .try_acquire_owned()
                    .ok()
                    .zip(node.clone().try_acquire_owned().ok());
                handling.spawn(permits);
            }
        } else {
            self.conn.shared.budget.queued();
            self.conn.shared.budget.add_memory(body.len());
            self.bytes += body.len();
            self.waiting.push_back((head, body));
        }
    }

    /// Waits for a slot of the connection and of the node.
    pub(super) async fn slots(&self) -> Option<Permits> {
        let conn = self.slots.clone().acquire_owned().await.ok()?;
        let node = self
            .conn
            .shared
            .budget
            .handlers
            .clone()
            .acquire_owned()
            .await
            .ok()?;
        Some((conn, node))
    }

    /// Starts queued requests while slots are free.
    pub(super) fn start_waiting(&mut self) {
        while !self.waiting.is_empty() {
            let node = &self.conn.shared.budget.handlers;
            let Some(permits) = self
                .slots
                .clone()
                .try_acquire_owned()
                .ok()
                .zip(node.clone().try_acquire_owned().ok())
            else {
                return;
            };
            self.start_next(permits);
        }
    }

    /// Starts the oldest queued request with `permits`.
    pub(super) fn start_next(&mut self, permits: Permits) {
        let Some((head, body)) = self.waiting.pop_front() else {
            return;
        };
        let budget = &self.conn.shared.budget;
        self.bytes -= body.len();
        budget.sub_memory(body.len());
        if let Some(handling) = start(&self.conn, head, body) {
            handling.spawn(Some(permits));
        }
        budget.unqueued();
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether reading must stop until a handler ends.
    pub(super) fn is_full(&self) -> bool {
        self.bytes >= MAX_WAITING
    }

    /// Bytes of the queued requests.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let budget = &self.conn.shared.budget;
        budget.sub_memory(self.bytes);
        for _ in self.waiting.drain(..) {
            budget.unqueued();
        }
    }
}

/// Calls the handler for the request and polls it once. Returns the
/// handling if it is not finished: it must then be
/// [spawned](Handling::spawn).
fn start(conn: &Arc<Connection>, head: RequestHead, body: Bytes) -> Option<Handling> {
    let owner = conn.owner()?;
    let span = request_span(head);
    let entered = span.as_deref().map(tracing::Span::enter);
    let charge = body.len();
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let mut fut = owner.clone().serve(head, body)?;
        // The task it may move to polls it again at once, so nothing has
        // to be woken from here.
        Some(
            match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(response) => Ok(response),
                Poll::Pending => Err(fut),
            },
        )
    }));
    match polled {
        Ok(None) => {}
        Ok(Some(Ok(response))) => respond(conn, head, Ok(response)),
        Ok(Some(Err(fut))) => {
            drop(entered);
            conn.shared.budget.add_memory(charge);
            return Some(Handling {
                conn: conn.clone(),
                head,
                oneway: owner.is_oneway(head.cmd),
                fut,
                span,
                permits: None,
                charge,
                index: None,
            });
        }
        Err(panic) => respond(conn, head, Err(panic)),
    }
    None
}

/// A handling that did not finish on the reader: run as a task.
struct Handling {
    conn: Arc<Connection>,
    head: RequestHead,
    oneway: bool,
    fut: BoxedResponse,
    /// `None` when no subscriber wants it; boxed, as a span is 40 bytes
    /// and every waiting request keeps its handling.
    span: Option<Box<tracing::Span>>,
    /// Bounds the handlers that wait at once.
    permits: Option<Permits>,
    /// The request's bytes, counted in the node's memory budget.
    charge: usize,
    /// Where it is registered with its connection.
    index: Option<usize>,
}

impl Handling {
    /// Finishes the handling in a task of its own, holding `permits`.
    fn spawn(mut self, permits: Option<Permits>) {
        self.permits = permits;
        self.conn.shared.budget.running();
        let conn = self.conn.clone();
        let oneway = self.oneway;
        conn.handlings.spawn(oneway, self);
    }
}

impl Future for Handling {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let _entered = this.span.as_deref().map(tracing::Span::enter);
        let fut = &mut this.fut;
        let outcome = match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(response)) => Ok(response),
            Err(panic) => Err(panic),
        };
        this.permits = None;
        respond(&this.conn, this.head, outcome);
        Poll::Ready(())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        if let Some(index) = self.index {
            self.conn.handlings.remove(index);
        }
        let budget = &self.conn.shared.budget;
        budget.sub_memory(self.charge);
        budget.stopped();
    }
}

/// Queues the response of a finished handling, or logs why there is none.
fn respond(conn: &Connection, head: RequestHead, outcome: std::thread::Result<Option<Bytes>>) {
    let RequestHead { cmd, session, .. } = head;
    match outcome {
        Ok(Some(body)) => {
            if let Err(error) = conn.write_response(session, &body) {
                tracing::warn!(cmd, session, %error, "response dropped");
            }
        }
        Ok(None) => {}
        Err(panic) => tracing::error!(
            cmd,
            session,
            panic = panic_message(&*panic),
            "handler panicked"
        ),
    }
}

/// The handler tasks of one connection, so that they can be cancelled.
#[derive(Default)]
pub(super) struct Handlings {
    slab: Mutex<Slab>,
    /// Woken when the last handler ends.
    idle: Notify,
}

#[derive(Default)]
struct Slab {
    entries: Vec<Option<(AbortHandle, bool)>>,
    free: Vec<usize>,
    len: usize,
}

impl Handlings {
    /// Spawns `handling` and registers it. Under the lock, so that a
    /// handling that ends at once finds itself registered.
    fn spawn(&self, oneway: bool, mut handling: Handling) {
        let mut slab = self.lock();
        let index = slab.free.pop().unwrap_or_else(|| {
            slab.entries.push(None);
            slab.entries.len() - 1
        });
        handling.index = Some(index);
        let task = tokio::spawn(handling).abort_handle();
        slab.entries[index] = Some((task, oneway));
        slab.len += 1;
    }

    fn remove(&self, index: usize) {
        let mut slab = self.lock();
        if slab.entries.get_mut(index).and_then(Option::take).is_some() {
            slab.free.push(index);
            slab.len -= 1;
            if slab.len == 0 {
                // A burst of handlers does not pin its table.
                *slab = Slab::default();
                drop(slab);
                self.idle.notify_waiters();
            }
        }
    }

    /// Cancels the running handlers (one-way ones only if `oneway_too`);
    /// returns how many.
    pub(super) fn cancel(&self, oneway_too: bool) -> usize {
        // Aborting only schedules the task's cancellation: nothing runs
        // under the lock.
        let slab = self.lock();
        let mut cancelled = 0;
        for (task, oneway) in slab.entries.iter().flatten() {
            if oneway_too || !oneway {
                task.abort();
                cancelled += 1;
            }
        }
        cancelled
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len
    }

    /// Waits until no handler of the connection runs.
    pub(super) async fn done(&self) {
        loop {
            let idle = self.idle.notified();
            if self.len() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slab> {
        lock(&self.slab)
    }
}

/// The span a request is handled in, so that what its handler logs names
/// it. Only made when a subscriber wants it: a disabled span still cost
/// about 200 instructions per request (callgrind), most of it in tracing's
/// fallback to the `log` crate, which cannot carry span fields anyway.
fn request_span(head: RequestHead) -> Option<Box<tracing::Span>> {
    let RequestHead {
        cmd,
        session,
        trace_id,
    } = head;
    tracing::enabled!(tracing::Level::INFO).then(|| {
        Box::new(tracing::info_span!(
            "request",
            cmd,
            session,
            trace_id = %format_args!("{trace_id:016x}")
        ))
    })
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}
