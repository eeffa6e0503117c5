//! The request handler: what a node does with the requests it receives.

use std::future::Future;

use bytes::Bytes;

use crate::body::Body;
use crate::connection::{Run, Waiting};
use crate::error::Status;
use crate::observe::RpcName;
use crate::peer::{Peer, Serve};
use crate::trace::Current;

/// One incoming request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The command id.
    pub cmd: u32,
    /// The caller's session; the response echoes it.
    pub session: u32,
    /// The caller's trace id. The handler also runs inside it: see
    /// [`crate::trace::current`].
    pub trace_id: u64,
    /// The encoded message.
    pub body: Bytes,
    /// The peer that sent the request, to call back over the same connection.
    pub peer: Peer,
}

impl Request {
    /// Answers the request with `status` instead of a value: the caller's
    /// call fails with [`crate::Error::Remote`] at once. Only on a
    /// connection that agreed on the extension (see PROTOCOL.md); on any
    /// other, as to a silly node, nothing is sent. The handler then returns
    /// `None`.
    pub fn refuse(&self, status: Status, message: &str) {
        tracing::debug!(?status, message, "refused");
        self.peer.refuse(self.session, status, message);
    }
}

/// Serves requests. Each request is handled on its own: a slow handler
/// never holds up the others on its connection. A handler is first run by
/// the connection's reader, and moves to a task of its own at its first
/// `.await` that is not ready, so one that finishes at once costs no task.
/// Long computation without an `.await` therefore holds up the reader of
/// its connection meanwhile: move it to `tokio::task::spawn_blocking`.
///
/// Returning `Some(body)` sends a response with that body (any [`Body`],
/// written straight into the connection's write buffer); `None` sends
/// nothing, as for a one-way request. A closure
/// `Fn(Request) -> impl Future<Output = Option<Bytes>>` is a handler:
///
/// ```
/// use cluster_core::{Node, Request};
///
/// let node = Node::builder()
///     .handler(|req: Request| async move { Some(req.body) }) // echo
///     .build();
/// ```
///
/// A handler written by hand declares `handle` as the trait does, and may
/// return any body type:
///
/// ```
/// use std::future::Future;
/// use cluster_core::{Body, Handler, Request};
///
/// struct Upper;
///
/// impl Handler for Upper {
///     fn handle(
///         &self,
///         req: Request,
///     ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
///         async move { Some(req.body.to_ascii_uppercase()) } // a Vec<u8>
///     }
/// }
/// ```
///
/// When its connection closes, a handler still running is cancelled (its
/// response could not be delivered), unless the node was built with
/// [`crate::NodeBuilder::cancel_on_close`]`(false)` or its command is
/// [one-way](Handler::is_oneway): nothing waits for those, and what was
/// read is run to its end.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request.
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static;

    /// Whether `cmd` is a one-way command (nobody waits for its response).
    /// The wire does not tell; generated services know. The default is
    /// `false`.
    fn is_oneway(&self, cmd: u32) -> bool {
        let _ = cmd;
        false
    }

    /// The service and method names of `cmd`, for spans and metrics
    /// (`Calc/add`); `None` (the default) names a command by its id.
    /// Generated services know.
    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        let _ = cmd;
        None
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Bytes>> + Send + 'static,
{
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        self(req)
    }
}

/// A handler serves a peer's requests: it is what the node gives its peers.
impl<H: Handler> Serve for H {
    fn serve(&self, peer: Peer, run: &mut Run<'_>) -> Option<Waiting> {
        let head = run.head;
        if let Some(span) = run.span() {
            span.name(self.method_name(head.cmd), head.cmd, &peer.addr());
        }
        let current = Current::new(head.trace_id, Some(peer.caller()), run.deadline);
        let req = Request {
            cmd: head.cmd,
            session: head.session,
            trace_id: head.trace_id,
            body: std::mem::take(&mut run.body),
            peer,
        };
        let handling = match run.cancel_at() {
            // Past its caller's deadline, no one waits for its response.
            Some(at) => run.start(current, || {
                let fut = self.handle(req);
                async move { tokio::time::timeout_at(at, fut).await.ok().flatten() }
            }),
            None => run.start(current, || self.handle(req)),
        }?;
        Some(Waiting {
            handling,
            oneway: self.is_oneway(head.cmd),
        })
    }
}
