//! The dispatcher: runs each request's handler and queues its response.
//!
//! A handler is first polled by the reader itself: one that finishes at
//! once (most do) costs no task, no scheduling and no copy of its future.
//! One that is not ready moves, as it is, to a task of its own, so a slow
//! handler never holds up the other requests of its connection. Polling
//! before spawning is sound because the future is boxed, hence not moved
//! in memory, and the new task polls it again at once, so it registers the
//! task's waker instead of the reader's.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

use super::Connection;
use crate::context;
use crate::handler::{BoxedResponse, Request};
use crate::peer::Peer;

/// The handling of one request, from calling the handler to queueing its
/// response.
pub(super) struct Handling {
    conn: Arc<Connection>,
    peer: Peer,
    cmd: u32,
    session: u32,
    trace_id: u64,
    state: State,
    /// `None` when no subscriber wants it; boxed, as a span is 40 bytes
    /// and every waiting request keeps its handling.
    span: Option<Box<tracing::Span>>,
    /// Taken when the handling leaves the reader; bounds the handlers that
    /// run at once per connection.
    permit: Option<OwnedSemaphorePermit>,
}

enum State {
    /// The handler is called on the first poll, inside the request's
    /// context, so even its synchronous part sees the trace and the peer.
    Start(Request),
    Running(BoxedResponse),
    Done,
}

impl Handling {
    pub(super) fn new(conn: Arc<Connection>, req: Request) -> Self {
        let (cmd, session, trace_id) = (req.cmd, req.session, req.trace_id);
        Self {
            conn,
            peer: req.peer.clone(),
            cmd,
            session,
            trace_id,
            state: State::Start(req),
            span: request_span(cmd, session, trace_id),
            permit: None,
        }
    }

    /// Polls the handling once on the caller's stack. A pending handling
    /// must then be spawned with [`Handling::spawn`].
    pub(super) fn poll_inline(&mut self) -> Poll<()> {
        // The task it may move to polls it again at once, so nothing has to
        // be woken from here.
        Pin::new(self).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// Finishes a pending handling in a task of its own, holding `permit`.
    pub(super) fn spawn(mut self, permit: Option<OwnedSemaphorePermit>) {
        self.permit = permit;
        tokio::spawn(self);
    }
}

impl Future for Handling {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let _entered = this.span.as_deref().map(tracing::Span::enter);
        let (state, conn) = (&mut this.state, &this.conn);
        // A panic is turned into a value, so that it is logged with the
        // request's cmd and session and the connection carries on.
        let polled = context::enter(this.peer.clone(), this.trace_id, || {
            catch_unwind(AssertUnwindSafe(|| state.poll(conn, cx)))
        });
        let (cmd, session) = (this.cmd, this.session);
        match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Some(body))) => {
                if let Err(error) = conn.write_response(session, &body) {
                    tracing::warn!(cmd, session, %error, "response dropped");
                }
            }
            Ok(Poll::Ready(None)) => {}
            Err(panic) => tracing::error!(
                cmd,
                session,
                panic = panic_message(&*panic),
                "handler panicked"
            ),
        }
        this.permit = None;
        Poll::Ready(())
    }
}

impl State {
    fn poll(&mut self, conn: &Connection, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            match std::mem::replace(self, State::Done) {
                State::Start(req) => *self = State::Running(conn.node.handler.handle_boxed(req)),
                State::Running(mut fut) => {
                    let polled = fut.as_mut().poll(cx);
                    if polled.is_pending() {
                        *self = State::Running(fut);
                    }
                    return polled;
                }
                // Not polled again after it finished or panicked.
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

/// The span a request is handled in, so that what its handler logs names
/// it. Only made when a subscriber wants it: a disabled span still cost
/// about 200 instructions per request (callgrind), most of it in tracing's
/// fallback to the `log` crate, which cannot carry span fields anyway.
fn request_span(cmd: u32, session: u32, trace_id: u64) -> Option<Box<tracing::Span>> {
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
