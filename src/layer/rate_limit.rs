//! A request rate limit per peer: a token bucket for each connection's
//! peer, refilled at a steady rate.

use std::collections::HashMap;
use std::sync::Mutex;

use cluster_core::{Peer, Request, Status};
use tokio::time::Instant;

use super::admit::{Admit, Refusal};

/// Limits how many requests each peer may make: `rate` a second on
/// average, `burst` at once. A request over the limit is refused with
/// [`Status::Overloaded`] and counted in `cluster.limit.hits` (label
/// `limit="rate"`); it never reaches the inner handler.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
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

impl RateLimit {
    /// `rate` requests a second per peer, up to `burst` at once (at least
    /// one).
    pub fn per_peer(rate: f64, burst: u32) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }
}

impl Admit for RateLimit {
    type Permit = ();

    /// Takes a token of the peer's bucket.
    fn admit(&self, req: &Request) -> Result<(), Refusal> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.by_peer.len() >= buckets.prune_at {
            // Peers whose connection is gone never come back as the same
            // peer: forget them, so the map holds live ones only.
            buckets.by_peer.retain(|peer, _| !peer.is_closed());
            buckets.prune_at = (buckets.by_peer.len() * 2).max(64);
        }
        let bucket = buckets.by_peer.entry(req.peer.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal {
                status: Status::Overloaded,
                reason: "rate",
            });
        }
        bucket.tokens -= 1.0;
        Ok(())
    }
}
