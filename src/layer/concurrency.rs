//! A limit on the requests of each command that run at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cluster_core::{Handler, Request, RpcName};
use tokio::sync::Semaphore;

use super::Layer;
use super::metrics::limit_hit;

/// Lets at most `max` requests of each command run at once, over every
/// connection of the node. One more is answered with
/// [`Status::Overloaded`](cluster_core::Status::Overloaded) at once (a
/// silly caller just gets no response; a one-way request is dropped) and
/// counted in `cluster.limit.hits` (label `limit="concurrency"`): shedding
/// load rather than queueing it, since the node already queues what it
/// reads ([`Limits::max_handlers`](cluster_core::Limits::max_handlers)).
#[derive(Debug, Clone, Copy)]
pub struct ConcurrencyLimit {
    max: usize,
}

impl ConcurrencyLimit {
    /// At most `max` running requests per command (at least one).
    pub fn per_command(max: usize) -> Self {
        Self { max: max.max(1) }
    }
}

impl<H: Handler> Layer<H> for ConcurrencyLimit {
    type Handler = ConcurrencyLimited<H>;

    fn layer(self, inner: H) -> ConcurrencyLimited<H> {
        ConcurrencyLimited {
            inner,
            max: self.max,
            running: Mutex::default(),
        }
    }
}

/// A handler behind a [`ConcurrencyLimit`].
#[derive(Debug)]
pub struct ConcurrencyLimited<H> {
    inner: H,
    max: usize,
    /// One semaphore per command seen.
    running: Mutex<HashMap<u32, Arc<Semaphore>>>,
}

impl<H: Handler> Handler for ConcurrencyLimited<H> {
    fn handle(&self, req: Request) -> impl Future<Output = Option<Bytes>> + Send + 'static {
        let slots = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(req.cmd)
            .or_insert_with(|| Arc::new(Semaphore::new(self.max)))
            .clone();
        let admitted = match slots.try_acquire_owned() {
            Ok(permit) => Some((permit, self.inner.handle(req))),
            Err(_) => {
                limit_hit("concurrency", self.inner.method_name(req.cmd), &req);
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
