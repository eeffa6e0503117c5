//! The dispatcher: runs each request's handler and queues its response.
//!
//! A handler is first called and polled by the reader itself: one that
//! finishes at once (most do) costs no task, no scheduling and no copy of
//! its future. One that is not ready moves, as it is, to a task of its own
//! ([`Handling`]), so a slow handler never holds up the other requests of
//! its connection. Polling before spawning is sound because the future is
//! boxed, hence not moved in memory, and the new task polls it again at
//! once, so it registers the task's waker instead of the reader's.
//!
//! Every step runs inside the request's context (its peer and trace id, and
//! its span when a subscriber wants one), so even the synchronous part of a
//! handler sees them, and inside `catch_unwind`, so that a panic is logged
//! with the request's cmd and session and the connection carries on.

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

/// What identifies a request in its context and in logs.
#[derive(Clone, Copy)]
struct Id {
    cmd: u32,
    session: u32,
    trace_id: u64,
}

/// A handling that did not finish on the reader: run as a task.
pub(super) struct Handling {
    conn: Arc<Connection>,
    peer: Peer,
    id: Id,
    fut: BoxedResponse,
    /// `None` when no subscriber wants it; boxed, as a span is 40 bytes
    /// and every waiting request keeps its handling.
    span: Option<Box<tracing::Span>>,
    /// Bounds the handlers that wait at once per connection.
    permit: Option<OwnedSemaphorePermit>,
}

/// Calls the handler for `req` and polls it once. Returns the handling if
/// it is not finished: it must then be [spawned](Handling::spawn).
pub(super) fn start(conn: &Arc<Connection>, req: Request) -> Option<Handling> {
    let id = Id {
        cmd: req.cmd,
        session: req.session,
        trace_id: req.trace_id,
    };
    let span = request_span(id);
    let entered = span.as_deref().map(tracing::Span::enter);
    let peer = req.peer.clone();
    let polled = step(&peer, id, || {
        let mut fut = conn.node.handler.handle_boxed(req);
        // The task it may move to polls it again at once, so nothing has
        // to be woken from here.
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(response) => Ok(response),
            Poll::Pending => Err(fut),
        }
    });
    match polled {
        Ok(Ok(response)) => respond(conn, id, Ok(response)),
        Ok(Err(fut)) => {
            drop(entered);
            return Some(Handling {
                conn: conn.clone(),
                peer,
                id,
                fut,
                span,
                permit: None,
            });
        }
        Err(panic) => respond(conn, id, Err(panic)),
    }
    None
}

impl Handling {
    /// Finishes the handling in a task of its own, holding `permit`.
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
        let fut = &mut this.fut;
        let outcome = match step(&this.peer, this.id, || fut.as_mut().poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(response)) => Ok(response),
            Err(panic) => Err(panic),
        };
        this.permit = None;
        respond(&this.conn, this.id, outcome);
        Poll::Ready(())
    }
}

/// Runs one step of a handling inside the request's context, turning a
/// panic into a value.
fn step<R>(peer: &Peer, id: Id, f: impl FnOnce() -> R) -> std::thread::Result<R> {
    context::enter(peer.clone(), id.trace_id, || {
        catch_unwind(AssertUnwindSafe(f))
    })
}

/// Queues the response of a finished handling, or logs why there is none.
fn respond(conn: &Connection, id: Id, outcome: std::thread::Result<Option<Bytes>>) {
    let Id { cmd, session, .. } = id;
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

/// The span a request is handled in, so that what its handler logs names
/// it. Only made when a subscriber wants it: a disabled span still cost
/// about 200 instructions per request (callgrind), most of it in tracing's
/// fallback to the `log` crate, which cannot carry span fields anyway.
fn request_span(id: Id) -> Option<Box<tracing::Span>> {
    let Id {
        cmd,
        session,
        trace_id,
    } = id;
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
