//! The dispatcher: runs each request's handler in its own task and queues
//! its response.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::Connection;
use crate::context;
use crate::handler::Request;

/// Spawns the handling of `req`. `permit` is held until the handler ends,
/// bounding the handlers that run at once per connection.
pub(super) fn spawn(conn: Arc<Connection>, req: Request, permit: OwnedSemaphorePermit) {
    let (cmd, session, trace_id) = (req.cmd, req.session, req.trace_id);
    let span =
        tracing::info_span!("request", cmd, session, trace_id = %format_args!("{trace_id:016x}"));
    let peer = req.peer.clone();
    let task = async move {
        // The handler is called inside the context too, so even its
        // synchronous part sees the trace and peer, and a panic there is
        // caught like one in its future.
        let handling = pin!(async { conn.node.handler.handle_boxed(req).await });
        let outcome = context::serve(peer, trace_id, CatchUnwind(handling)).await;
        drop(permit);
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
    };
    tokio::spawn(task.instrument(span));
}

/// Turns a panic inside the handler into a value, so the task can log it
/// with the request's cmd and session and the connection carries on.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
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
