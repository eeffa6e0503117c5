//! A limit on the requests of each command that run at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cluster_core::{Request, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::admit::{Admit, Refusal};

/// Lets at most `max` requests of each command run at once, over every
/// connection of the node. One more is refused with
/// [`Status::Overloaded`] at once and counted in `cluster.limit.hits`
/// (label `limit="concurrency"`): shedding load rather than queueing it,
/// since the node already queues what it reads
/// ([`Limits::max_handlers`](cluster_core::Limits::max_handlers)).
#[derive(Debug)]
pub struct ConcurrencyLimit {
    max: usize,
    /// One semaphore per command seen.
    running: Mutex<HashMap<u32, Arc<Semaphore>>>,
}

impl ConcurrencyLimit {
    /// At most `max` running requests per command (at least one).
    pub fn per_command(max: usize) -> Self {
        Self {
            max: max.max(1),
            running: Mutex::default(),
        }
    }
}

impl Admit for ConcurrencyLimit {
    type Permit = OwnedSemaphorePermit;

    fn admit(&self, req: &Request) -> Result<OwnedSemaphorePermit, Refusal> {
        let slots = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(req.cmd)
            .or_insert_with(|| Arc::new(Semaphore::new(self.max)))
            .clone();
        slots.try_acquire_owned().map_err(|_| Refusal {
            status: Status::Overloaded,
            reason: "concurrency",
        })
    }
}
