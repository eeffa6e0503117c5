//! The dispatcher: admits each request read from a connection, runs its
//! handler and queues its response.
//!
//! Admission: a request takes a handler slot of its connection
//! ([`crate::Limits::max_concurrent_requests`]) and one of the node
//! ([`crate::Limits::max_handlers`]) for as long as its handler runs. A
//! request that finds none queues, in order, holding only its bytes
//! ([`Admission`]); the reader pauses once too many bytes queue.
//!
//! A handler is first called and polled by the reader itself: one that
//! finishes at once (most do) costs no task and no scheduling. One that is
//! not ready moves, as it is, to a task of its own, so a slow handler never
//! holds up the other requests of its connection. Polling before spawning
//! is sound because the future is boxed, hence not moved in memory, and the
//! new task polls it again at once, so it registers the task's waker instead
//! of the reader's.
//!
//! A handler's future is boxed so that it can be polled in place and then
//! moved to a task as it is, with room for what a waiting request holds
//! ([`Held`]: slots, memory charge, context). The box of one that finished
//! at once is kept by the reader ([`Spare`]) and filled again by the next
//! request of the same handler, so requests that finish at once allocate
//! nothing besides their bytes. A waiting one costs a second, the task that
//! runs that box, which holds nothing else, so that it stays at the
//! smallest size tokio's 128-byte task alignment allows. Tasks are
//! registered with their connection by task id, so that closing it can
//! cancel them.
//!
//! A panic in a handler is caught and logged with the request's cmd and
//! session; the connection carries on. Closing a connection cancels its
//! handlers (their responses could not be delivered); one-way requests are
//! never cancelled by a close (nothing waits for them, and what was
//! accepted is not lost), only by the end of a shutdown's grace.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, Id};
use tokio::time::Instant;

use super::Connection;
use crate::body::Body;
use crate::budget::Limit;
use crate::error::Status;
use crate::observe::ServerSpan;
use crate::sync::lock;
use crate::trace::{self, Current};

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

/// When the caller of a request gives up, if it said (the extension). Kept
/// out of [`RequestHead`], which a waiting handler holds for its whole run.
pub(crate) type Deadline = Option<Instant>;

/// A request's whole handling, as a task runs it.
pub(crate) type BoxedHandling = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The box of a handling that finished at once, kept for the next request:
/// an `Option<Pin<Box<Handling<F>>>>` for the handler's future type `F`,
/// itself boxed once per connection.
pub(crate) type Spare = Option<Box<dyn Any + Send>>;

/// Handlings larger than this are not kept: an idle connection would hold
/// one.
const SPARE_MAX: usize = 1024;

/// Requests of one connection that wait for a handler slot, in arrival
/// order. Owned by the reader.
pub(super) struct Admission {
    conn: Arc<Connection>,
    limit: usize,
    waiting: VecDeque<(RequestHead, Deadline, Bytes)>,
    bytes: usize,
    spare: Spare,
}

impl Admission {
    pub(super) fn new(conn: &Arc<Connection>) -> Self {
        Self {
            conn: conn.clone(),
            limit: conn.shared.config.limits.max_concurrent_requests,
            waiting: VecDeque::new(),
            bytes: 0,
            spare: None,
        }
    }

    /// Starts the request now if nothing queues before it and slots are
    /// free, or queues it.
    pub(super) fn admit(&mut self, head: RequestHead, deadline: Deadline, body: Bytes) {
        if self.conn.shared.is_draining() {
            tracing::debug!(
                conn = self.conn.id,
                cmd = head.cmd,
                session = head.session,
                "node shutting down: request dropped"
            );
            self.conn
                .write_status(head.session, Status::ShuttingDown, "node shutting down");
            return;
        }
        if self.waiting.is_empty() && self.take_slot() {
            start(&self.conn, &mut self.spare, head, deadline, body);
        } else if self.is_full() && self.conn.ext.receives() {
            // A caller that can be told is told at once, rather than held
            // up by a pause in reading.
            let (limit, name) = self.exhausted();
            self.conn.shared.budget.limit_hit(limit);
            self.conn
                .write_status(head.session, Status::Overloaded, name);
        } else {
            self.conn.shared.budget.queued();
            self.conn.shared.budget.add_memory(body.len());
            self.bytes += body.len();
            self.waiting.push_back((head, deadline, body));
        }
    }

    /// Whether a slot of the connection and one of the node are free. A
    /// slot is taken only by a handler that waits (see [`start`]): one that
    /// finishes at once costs no counting. Readers of several connections
    /// may see the node's last slot free at once and go over by one each.
    fn take_slot(&self) -> bool {
        slots_free(&self.conn, self.limit)
    }

    /// The limit that holds requests back, and its name.
    fn exhausted(&self) -> (Limit, &'static str) {
        if self.conn.handlers.running.load(Ordering::Acquire) >= self.limit {
            (Limit::MaxConcurrentRequests, "max_concurrent_requests")
        } else {
            (Limit::MaxHandlers, "max_handlers")
        }
    }

    /// Resolves when a slot may have come free. Borrows the connection, not
    /// `self`: the reader's future holds it across an await, and `self`
    /// (its spare handling) is not `Sync`.
    pub(super) fn slot_freed(&self) -> impl Future<Output = ()> + '_ {
        let (conn, limit) = (&self.conn, self.limit);
        async move {
            let (freed, node) = (
                conn.handlers.freed.notified(),
                conn.shared.budget.handler_freed(),
            );
            if slots_free(conn, limit) {
                return;
            }
            tokio::select! {
                () = freed => {}
                () = node => {}
            }
        }
    }

    /// Starts queued requests while slots are free.
    pub(super) fn start_waiting(&mut self) {
        while !self.waiting.is_empty() && self.take_slot() {
            let Some((head, deadline, body)) = self.waiting.pop_front() else {
                return;
            };
            let budget = &self.conn.shared.budget;
            self.bytes -= body.len();
            budget.sub_memory(body.len());
            start(&self.conn, &mut self.spare, head, deadline, body);
            budget.unqueued();
        }
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

/// Whether `conn`, allowed `limit` running handlers, and its node both have
/// a handler slot free.
fn slots_free(conn: &Connection, limit: usize) -> bool {
    conn.handlers.running.load(Ordering::Acquire) < limit && conn.shared.budget.may_run()
}

/// Calls the handler for a request that may take slots, and runs it as far
/// as it goes at once; spawns what must wait.
fn start(
    conn: &Arc<Connection>,
    spare: &mut Spare,
    head: RequestHead,
    deadline: Deadline,
    body: Bytes,
) {
    let span = ServerSpan::new(head.cmd, head.session, head.trace_id);
    let entered = span.as_ref().map(ServerSpan::enter);
    let mut run = Run {
        conn,
        spare,
        head,
        deadline,
        charge: body.len(),
        body,
        span: span.as_ref(),
    };
    // A panic in making the handler's future is caught as one in polling
    // it is (by `step`).
    let started = catch_unwind(AssertUnwindSafe(|| conn.serve(&mut run)));
    drop(entered);
    match started {
        Ok(Some(waiting)) => conn.handlers.spawn(conn, head.session, waiting),
        Ok(None) => {}
        Err(panic) => panicked(conn, head, span.as_ref(), &*panic),
    }
}

/// A handling that did not finish at once, and whether its command is
/// one-way (a close does not cancel those).
pub(crate) struct Waiting {
    pub(crate) handling: BoxedHandling,
    pub(crate) oneway: bool,
}

/// A request about to run, and what its handler needs until it first
/// waits, borrowed from the reader, so that one that finishes at once
/// costs no reference counting. Passed by reference from the connection to
/// the handler, so that no layer between copies it.
pub(crate) struct Run<'a> {
    conn: &'a Arc<Connection>,
    spare: &'a mut Spare,
    pub(crate) head: RequestHead,
    pub(crate) deadline: Deadline,
    /// The request's body, until the handler's request takes it.
    pub(crate) body: Bytes,
    charge: usize,
    span: Option<&'a ServerSpan>,
}

impl Run<'_> {
    /// The request's span, if a subscriber wants one.
    pub(crate) fn span(&self) -> Option<&ServerSpan> {
        self.span
    }

    /// When the handler is to be cancelled: its caller's deadline, unless
    /// the node lets abandoned handlers run.
    pub(crate) fn cancel_at(&self) -> Deadline {
        self.deadline
            .filter(|_| self.conn.shared.config.cancel_abandoned)
    }

    /// Makes the handler's future with `make` and polls it once, both in
    /// `current`, the request's context; a handler that finishes there
    /// costs no task and no counting. One that waits takes its slots and
    /// its charge ([`Held`]), and comes back boxed with them, in one
    /// allocation. The new task polls it again at once, so nothing has to
    /// be woken from here.
    pub(crate) fn start<F, B>(
        &mut self,
        current: Current,
        make: impl FnOnce() -> F,
    ) -> Option<BoxedHandling>
    where
        F: Future<Output = Option<B>> + Send + 'static,
        B: Body,
    {
        let mut handling = trace::within(current, || {
            let fresh = Handling {
                current,
                fut: Some(make()),
                held: None,
            };
            let mut handling = match spare_slot::<F>(self.spare).and_then(Option::take) {
                Some(mut kept) => {
                    kept.set(fresh);
                    kept
                }
                None => Box::pin(fresh),
            };
            let cx = &mut Context::from_waker(Waker::noop());
            let fut = handling.as_mut().project().fut;
            match step(fut, self.conn, self.head, self.span, cx) {
                Poll::Ready(()) => {
                    // Dropped now, as if the box went too.
                    handling.as_mut().project().fut.set(None);
                    keep_spare(self.spare, handling);
                    None
                }
                Poll::Pending => Some(handling),
            }
        })?;
        *handling.as_mut().project().held = Some(Held::take(self));
        Some(handling)
    }
}

/// The kept box for handler futures of type `F`, if the spare holds that
/// type.
fn spare_slot<F: Send + 'static>(spare: &mut Spare) -> Option<&mut Option<Pin<Box<Handling<F>>>>> {
    spare.as_mut()?.downcast_mut()
}

/// Keeps `handling` (finished, its future dropped) for the next request:
/// in the spare if it holds this type or nothing, else it goes.
fn keep_spare<F: Send + 'static>(spare: &mut Spare, handling: Pin<Box<Handling<F>>>) {
    if size_of::<Handling<F>>() > SPARE_MAX {
        return;
    }
    if spare.is_none() {
        *spare = Some(Box::new(Some(handling)));
    } else if let Some(slot) = spare_slot::<F>(spare) {
        *slot = Some(handling);
    }
}

/// The slots and memory charge of a request whose handler waits, given
/// back on drop however it ends, and what its response needs.
struct Held {
    conn: Arc<Connection>,
    head: RequestHead,
    charge: usize,
    /// `None` when no subscriber wants it: a disabled span still costs.
    span: Option<Box<ServerSpan>>,
}

impl Held {
    fn take(run: &Run<'_>) -> Self {
        let conn = run.conn.clone();
        conn.handlers.running.fetch_add(1, Ordering::AcqRel);
        conn.shared.budget.running();
        conn.shared.budget.add_memory(run.charge);
        Self {
            conn,
            head: run.head,
            charge: run.charge,
            span: run.span.cloned().map(Box::new),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.conn.handlers.release();
        let budget = &self.conn.shared.budget;
        budget.sub_memory(self.charge);
        budget.stopped();
    }
}

pin_project_lite::pin_project! {
    /// A request's whole handling: its handler's future, and the context
    /// and [`Held`] it completes with (set once it waits).
    struct Handling<F> {
        current: Current,
        // `None` once finished and kept as a spare.
        #[pin]
        fut: Option<F>,
        held: Option<Held>,
    }
}

impl<F: Future<Output = Option<B>>, B: Body> Future for Handling<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Some(held) = this.held.as_ref() else {
            return Poll::Ready(());
        };
        let fut = this.fut;
        trace::within(*this.current, || {
            step(fut, &held.conn, held.head, held.span.as_deref(), cx)
        })
    }
}

/// Polls a handler's future, inside its context: queues its response once
/// it has one, logs its panic (in the handler, or in encoding its
/// response). A slot whose future is gone is finished.
fn step<F, B>(
    fut: Pin<&mut Option<F>>,
    conn: &Connection,
    head: RequestHead,
    span: Option<&ServerSpan>,
    cx: &mut Context<'_>,
) -> Poll<()>
where
    F: Future<Output = Option<B>>,
    B: Body,
{
    let Some(fut) = fut.as_pin_mut() else {
        return Poll::Ready(());
    };
    let _entered = span.map(ServerSpan::enter);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        fut.poll(cx)
            .map(|response| respond(conn, head, span, response))
    }));
    match polled {
        Ok(polled) => polled,
        Err(panic) => {
            panicked(conn, head, span, &*panic);
            Poll::Ready(())
        }
    }
}

/// Queues the response of a finished handler.
#[inline]
fn respond<B: Body>(
    conn: &Connection,
    head: RequestHead,
    span: Option<&ServerSpan>,
    response: Option<B>,
) {
    let outcome = match response {
        Some(body) => match conn.write_response(head.session, &body) {
            Ok(()) => "ok",
            Err(error) => {
                conn.shared.budget.unsent_response();
                let RequestHead { cmd, session, .. } = head;
                tracing::warn!(cmd, session, %error, "response dropped");
                "dropped"
            }
        },
        None => "no_response",
    };
    if let Some(span) = span {
        span.finish(outcome);
    }
}

/// Logs a handler's panic, and tells its caller if the extension is on.
fn panicked(
    conn: &Connection,
    head: RequestHead,
    span: Option<&ServerSpan>,
    panic: &(dyn Any + Send),
) {
    let RequestHead { cmd, session, .. } = head;
    let message = panic_message(panic);
    tracing::error!(cmd, session, panic = message, "handler panicked");
    if let Some(span) = span {
        span.finish("panicked");
    }
    conn.write_status(session, Status::Panicked, message);
}

/// The handlers of one connection: how many run, the tasks of those that
/// wait, and the signals the reader waits on.
#[derive(Default)]
pub(super) struct Handlers {
    running: AtomicUsize,
    /// A slot came free while every one was taken.
    freed: Notify,
    /// The last handler ended.
    idle: Notify,
    /// The tasks of handlers that wait, by task id: whether one-way, and
    /// the session they answer (for cancel notices).
    tasks: Mutex<HashMap<Id, (AbortHandle, bool, u32)>>,
    /// Set once the connection closed: handlers (not one-way) started
    /// after that are cancelled at once.
    cancelled: AtomicBool,
}

impl Handlers {
    fn release(&self) {
        let before = self.running.fetch_sub(1, Ordering::AcqRel);
        // The reader waits for a slot only with none free; a stored permit
        // from an earlier release only makes it look once more.
        self.freed.notify_one();
        if before == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Runs `fut` in a task registered under its id. Under the lock, so
    /// that a task that ends at once finds itself registered.
    fn spawn(&self, conn: &Arc<Connection>, session: u32, waiting: Waiting) {
        let Waiting { handling, oneway } = waiting;
        let mut tasks = lock(&self.tasks);
        let task = tokio::spawn(Spawned {
            fut: handling,
            conn: conn.clone(),
        });
        if !oneway && self.cancelled.load(Ordering::Acquire) {
            task.abort();
        }
        tasks.insert(task.id(), (task.abort_handle(), oneway, session));
    }

    /// Cancels the running handlers, one-way ones only if `oneway_too`.
    pub(super) fn cancel(&self, oneway_too: bool) {
        self.cancelled.store(true, Ordering::Release);
        // Aborting only schedules the task's cancellation: nothing runs
        // under the lock.
        for (task, oneway, _) in lock(&self.tasks).values() {
            if oneway_too || !oneway {
                task.abort();
            }
        }
    }

    /// Cancels the handler answering `session`, unless it is one-way. A
    /// scan: cancel notices are rare, and an index would cost every
    /// request.
    pub(super) fn cancel_session(&self, session: u32) {
        for (task, oneway, answers) in lock(&self.tasks).values() {
            if *answers == session && !oneway {
                task.abort();
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.running.load(Ordering::Acquire)
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
}

/// A handler's task: just its boxed handling, and what unregisters it when
/// it ends or is cancelled (both drop it inside the task).
struct Spawned {
    fut: BoxedHandling,
    conn: Arc<Connection>,
}

impl Future for Spawned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.fut.as_mut().poll(cx)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(id) = tokio::task::try_id() {
            lock(&self.conn.handlers.tasks).remove(&id);
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}
