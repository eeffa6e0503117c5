//! A request rate limit per peer: a token bucket for each connection's
//! peer, refilled at a steady rate.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use bytes::Bytes;
use cluster_core::{Handler, Peer, Request, RpcName};
use tokio::time::Instant;

use super::Layer;
use super::metrics::limit_hit;

/// Limits how many requests each peer may make: `rate` a second on
/// average, `burst` at once. A request over the limit is answered with
/// [`Status::Overloaded`] (on a connection with the extension; a silly
/// caller just gets no response) and counted in `cluster.limit.hits`
/// (label `limit="rate"`); it never reaches the inner handler.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    rate: f64,
    burst: u32,
}

impl RateLimit {
    /// `rate` requests a second per peer, up to `burst` at once (at least
    /// one).
    pub fn per_peer(rate: f64, burst: u32) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: burst.max(1),
        }
    }
}

impl<H: Handler> Layer<H> for RateLimit {
    type Handler = RateLimited<H>;

    fn layer(self, inner: H) -> RateLimited<H> {
        RateLimited {
            inner,
            limit: self,
            buckets: Mutex::default(),
        }
    }
}

/// A handler behind a [`RateLimit`].
#[derive(Debug)]
pub struct RateLimited<H> {
    inner: H,
    limit: RateLimit,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_peer: HashMap<Peer, Bucket>,
    /// Prune closed peers when the map grows past this.
    prune_at: usize,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<H> RateLimited<H> {
    /// Takes a token of `peer`'s bucket; false if it has none.
    fn admit(&self, peer: &Peer) -> bool {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.by_peer.len() >= buckets.prune_at {
            // Peers whose connection is gone never come back as the same
            // peer: forget them, so the map holds live ones only.
            buckets.by_peer.retain(|peer, _| !peer.is_closed());
            buckets.prune_at = (buckets.by_peer.len() * 2).max(64);
        }
        let bucket = buckets.by_peer.entry(peer.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.limit.rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl<H: Handler> Handler for RateLimited<H> {
    fn handle(&self, req: Request) -> impl Future<Output = Option<Bytes>> + Send + 'static {
        let inner = match self.admit(&req.peer) {
            true => Some(self.inner.handle(req)),
            false => {
                limit_hit("rate", self.inner.method_name(req.cmd), &req);
                None
            }
        };
        async move { inner?.await }
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        self.inner.is_oneway(cmd)
    }

    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        self.inner.method_name(cmd)
    }
}
