//! What every layer of a node shares: its configuration, its budgets, and
//! whether it is shutting down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::budget::Budget;
use crate::config::Config;

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) budget: Arc<Budget>,
    /// Set when the node starts shutting down or is dropped: no new calls,
    /// sends or requests from then on.
    draining: AtomicBool,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            budget: Arc::new(Budget::new(&config.limits)),
            config,
            draining: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Starts draining; false if it had started already.
    pub(crate) fn drain(&self) -> bool {
        !self.draining.swap(true, Ordering::AcqRel)
    }
}
