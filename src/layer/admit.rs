//! Admission layers: a check that runs before the handler, lets a request
//! through (holding a permit while its handler runs) or refuses it.

use std::future::Future;

use cluster_core::{Body, Handler, Request, RpcName, Status};

use super::Layer;
use super::metrics::refused;

/// Decides, before the handler runs, whether a request may run: the rate
/// and concurrency limits are ones, and so is an auth check
/// (`examples/auth.rs`). Every `Admit` is a [`Layer`].
pub trait Admit: Send + Sync + 'static {
    /// Held while the admitted request's handler runs, dropped when it ends.
    type Permit: Send + 'static;

    /// Lets `req` through with a permit, or refuses it.
    fn admit(&self, req: &Request) -> Result<Self::Permit, Refusal>;
}

/// Why a request was refused: the status its caller gets (on a connection
/// with the extension; a silly caller gets no response, and a one-way
/// request is dropped), and a short name for logs, the message and the
/// `limit` label of `cluster.limit.hits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// What the caller's call fails with.
    pub status: Status,
    /// The limit or check that refused it: `rate`, `concurrency`, `login`...
    pub reason: &'static str,
}

impl<H: Handler, A: Admit> Layer<H> for A {
    type Handler = Admitted<H, A>;

    fn layer(self, inner: H) -> Admitted<H, A> {
        Admitted { inner, admit: self }
    }
}

/// A handler behind an [`Admit`] check.
#[derive(Debug)]
pub struct Admitted<H, A> {
    inner: H,
    admit: A,
}

impl<H: Handler, A: Admit> Handler for Admitted<H, A> {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        let admitted = match self.admit.admit(&req) {
            Ok(permit) => Some((permit, self.inner.handle(req))),
            Err(refusal) => {
                refused(refusal, self.inner.method_name(req.cmd), &req);
                None
            }
        };
        async move {
            let (_permit, inner) = admitted?;
            inner.await
        }
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        self.inner.is_oneway(cmd)
    }

    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        self.inner.method_name(cmd)
    }
}
