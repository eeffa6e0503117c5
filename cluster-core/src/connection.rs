//! One connection (over any [`crate::transport`] stream): its session table, its write queue, the reader and
//! writer tasks that move its frames, the handlers of its requests, and the
//! task that times its calls out.
//!
//! A call goes: peer → [`Connection::write_request`] → write queue → writer
//! task → socket; its response comes: socket → reader task → session table →
//! caller. A request goes: socket → reader task → dispatcher (admission,
//! then the handler) → [`Connection::write_response`] → writer task.
//!
//! The connection knows its peer only as an [`Owner`]: what serves its
//! requests and hears of its end. An accepted connection holds its owner;
//! an outbound one does not, so that dropping the last handle on an
//! outbound peer closes its connection.
//!
//! A connection ends once ([`Connection::shutdown`]): its pending calls
//! fail, its tasks stop, its handlers are cancelled (unless the node lets
//! them run), and its owner learns of it. A FIN from the peer is not an
//! end: requests already read are still answered, for at most the node's
//! call timeout, and then the connection ends.

mod dispatch;
mod extension;
mod reader;
mod writer;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::body::Body;
use crate::budget::ConnectionSlot;
use crate::error::Error;
use crate::session::{Owner as SessionOwner, Sessions};
use crate::shared::Shared;
use crate::sync::lock;
use crate::transport::Stream;

use dispatch::Handlers;
pub(crate) use dispatch::{Deadline, RequestHead, Run, Waiting};
use extension::Extension;
use writer::WriteQueue;

/// What a connection serves its requests with and reports its end to: its
/// peer.
pub(crate) trait Owner: Send + Sync {
    /// Handles a request as far as it goes at once (with [`Run::start`]);
    /// what must wait comes back.
    fn serve(&self, run: &mut Run<'_>) -> Option<Waiting>;
    /// Called once, when the connection ends. `local`: it was closed from
    /// this side.
    fn lost(self: Arc<Self>, conn: &Connection, reason: &Error, local: bool);
}

enum OwnerRef {
    Held(Arc<dyn Owner>),
    Weak(Weak<dyn Owner>),
}

/// How a connection ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Closed from this side: what is queued is still written (for at most
    /// the call timeout) and no close callback fires.
    Local,
    /// The peer closed or broke the connection, or broke the protocol:
    /// nothing more is written.
    Lost,
    /// The peer sent FIN and every request it sent has been answered (or
    /// ran out of time): what is queued is written, then the close callback
    /// fires.
    Drained,
}

pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) sessions: Sessions,
    writes: WriteQueue,
    shared: Arc<Shared>,
    handlers: Handlers,
    ext: Extension,
    owner: OwnerRef,
    open: AtomicBool,
    state: Mutex<State>,
}

struct State {
    down: bool,
    slot: Option<ConnectionSlot>,
    reader: Option<AbortHandle>,
    writer: Option<AbortHandle>,
    timeouts: Option<AbortHandle>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl SessionOwner for Arc<Connection> {
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    fn abandoned(&self, session: u32) {
        self.send_cancel(session);
    }
}

impl Connection {
    /// A connection for `owner`, holding one of the node's connection
    /// slots; nothing runs until [`Connection::start`]. `hold`: keep the
    /// owner alive for as long as the connection lives (accepted peers).
    pub(crate) fn new(
        shared: &Arc<Shared>,
        slot: ConnectionSlot,
        owner: Arc<dyn Owner>,
        hold: bool,
        first_session: u32,
    ) -> Arc<Self> {
        let owner = if hold {
            OwnerRef::Held(owner)
        } else {
            OwnerRef::Weak(Arc::downgrade(&owner))
        };
        Arc::new(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            sessions: Sessions::new(first_session),
            writes: WriteQueue::new(shared.config.limits.write_queue, shared.budget.clone()),
            shared: shared.clone(),
            handlers: Handlers::default(),
            ext: Extension::default(),
            owner,
            open: AtomicBool::new(true),
            state: Mutex::new(State {
                down: false,
                slot: Some(slot),
                reader: None,
                writer: None,
                timeouts: None,
            }),
        })
    }

    /// Spawns the reader, the writer and the timeout task over `stream`.
    /// Called once the connection is reachable from its peer, so that a
    /// connection that dies at once is seen dying.
    pub(crate) fn start(self: &Arc<Self>, stream: Stream) {
        if let Some(timeout) = self.shared.config.limits.dead_peer_timeout {
            if let Err(error) = stream.detect_dead_peer(timeout) {
                tracing::debug!(conn = self.id, %error, "dead-peer detection not set");
            }
        }
        let (rd, wr) = stream.split();
        let budget = &self.shared.budget;
        let reader = spawn_counted(budget.task(), reader::run(self.clone(), rd));
        let writer = spawn_counted(budget.task(), writer::run(self.clone(), wr));
        let conn = self.clone();
        let timeouts = spawn_counted(budget.task(), async move {
            conn.sessions.run_timeouts().await;
        });
        let mut state = self.state();
        if state.down {
            reader.abort();
            writer.abort();
            timeouts.abort();
        } else {
            state.reader = Some(reader);
            state.writer = Some(writer);
            state.timeouts = Some(timeouts);
        }
    }

    /// Whether new calls may use the connection.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Queues a request frame for writing.
    /// Whether it carries the extension is decided under the queue's lock,
    /// where the agreement switches it on.
    pub(crate) fn write_request<B: Body + ?Sized>(
        &self,
        head: RequestHead,
        deadline: Deadline,
        body: &B,
    ) -> Result<(), Error> {
        let codec = &self.shared.config.codec;
        self.writes.push(|buf| {
            if self.ext.sends() {
                return self.encode_ext_request(buf, head, deadline, body);
            }
            codec.encode_request(buf, head.session, head.cmd, head.trace_id, body)
        })
    }

    /// Queues a response frame for writing.
    pub(crate) fn write_response<B: Body + ?Sized>(
        &self,
        session: u32,
        body: &B,
    ) -> Result<(), Error> {
        let codec = &self.shared.config.codec;
        self.writes.push(|buf| {
            if self.ext.sends() {
                return self.encode_ext_response(buf, session, body);
            }
            codec.encode_response(buf, session, body)
        })
    }

    /// Bytes waiting to be written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.writes.queued()
    }

    /// Handlers of this connection's requests still running.
    pub(crate) fn handlers(&self) -> usize {
        self.handlers.len()
    }

    /// Cancels every handler of the connection, one-way ones too: the end
    /// of a shutdown's grace.
    pub(crate) fn cancel_handlers(&self) {
        self.handlers.cancel(true);
    }

    /// Fails the calls still pending with `reason`, and refuses new ones.
    pub(crate) fn fail_calls(&self, reason: Error) {
        self.open.store(false, Ordering::Release);
        self.sessions.close(reason);
    }

    /// Ends the connection, once: fails its pending calls, stops its tasks,
    /// cancels its handlers (unless the node lets them run, or they are
    /// one-way) and tells its owner. `reason` says why, for an end that is
    /// not [`End::Local`].
    pub(crate) fn shutdown(&self, reason: Error, end: End) {
        let (stopped, writer, slot) = {
            let mut state = self.state();
            if state.down {
                return;
            }
            state.down = true;
            (
                [state.reader.take(), state.timeouts.take()],
                state.writer.take(),
                state.slot.take(),
            )
        };
        drop(slot);
        self.fail_calls(Error::Closed);
        self.writes.close();
        for task in stopped.into_iter().flatten() {
            task.abort();
        }
        if end == End::Lost {
            if let Some(writer) = writer {
                writer.abort();
            }
        }
        if self.shared.config.cancel_on_close {
            self.handlers.cancel(false);
        }
        if let Some(owner) = self.owner() {
            owner.lost(self, &reason, end == End::Local);
        }
    }

    /// Hands a request to the connection's owner, while there is one:
    /// borrowed, so that an owner the connection holds costs no reference
    /// counting per request.
    #[inline]
    fn serve(&self, run: &mut Run<'_>) -> Option<Waiting> {
        match &self.owner {
            OwnerRef::Held(owner) => owner.serve(run),
            OwnerRef::Weak(owner) => owner.upgrade()?.serve(run),
        }
    }

    /// The connection's owner, while there is one.
    fn owner(&self) -> Option<Arc<dyn Owner>> {
        match &self.owner {
            OwnerRef::Held(owner) => Some(owner.clone()),
            OwnerRef::Weak(owner) => owner.upgrade(),
        }
    }

    /// How long a closed connection may go on writing what it queued.
    fn linger(&self) -> Duration {
        self.shared.config.timeout
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Spawns `task`, counted by the node for as long as it runs.
fn spawn_counted(
    guard: crate::budget::TaskGuard,
    task: impl Future<Output = ()> + Send + 'static,
) -> AbortHandle {
    tokio::spawn(async move {
        let _counted = guard;
        task.await;
    })
    .abort_handle()
}
