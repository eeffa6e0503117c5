//! Dialing an outbound peer's address: one bounded connect attempt at a
//! time, and backoff after failures.
//!
//! After a failed attempt the address is left alone for a while (50 ms,
//! doubling per failure up to 5 s by default, with jitter so that peers
//! that lost one server do not all come back at the same instant); until
//! then every dial fails at once with the last failure, instead of every
//! call dialing a dead address again. A success resets the backoff.
//!
//! This is a leaf: it returns a connected stream and knows nothing of
//! connections or peers. Sharing one attempt among concurrent callers is
//! the peer's job.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Dialing;
use crate::error::{Error, Result};
use crate::sync::lock;
use crate::transport::{Stream, dial};

/// Dials one address.
pub(crate) struct Dialer {
    addr: String,
    dialing: Dialing,
    backoff: Mutex<Backoff>,
}

#[derive(Default)]
struct Backoff {
    /// The pause after the last failure; zero after a success.
    pause: Duration,
    /// The last failure and when the next attempt may be made.
    failed: Option<(Error, Instant)>,
}

impl Dialer {
    pub(crate) fn new(addr: &str, dialing: Dialing) -> Self {
        Self {
            addr: addr.to_owned(),
            dialing,
            backoff: Mutex::default(),
        }
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The error a dial gets now without trying, while backing off.
    pub(crate) fn backing_off(&self) -> Option<Error> {
        let backoff = lock(&self.backoff);
        match &backoff.failed {
            Some((error, until)) if Instant::now() < *until => Some(error.clone()),
            _ => None,
        }
    }

    /// One connect attempt, bounded by the connect timeout; or the last
    /// failure at once while backing off.
    pub(crate) async fn dial(&self) -> Result<Stream> {
        if let Some(error) = self.backing_off() {
            return Err(error);
        }
        // The same deadline bounds a TLS handshake inside the dial, which
        // is polled first and so reports its own timeout.
        let deadline = Instant::now() + self.dialing.connect_timeout;
        let dialing = tokio::time::timeout_at(deadline, dial(&self.addr, &self.dialing, deadline));
        let result = match dialing.await {
            Ok(result) => result,
            Err(_) => Err(Error::Connect {
                addr: self.addr.clone(),
                source: Arc::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", self.dialing.connect_timeout),
                )),
            }),
        };
        let mut backoff = lock(&self.backoff);
        match &result {
            Ok(_) => *backoff = Backoff::default(),
            Err(error) => {
                let pause = (backoff.pause * 2)
                    .max(self.dialing.backoff_min)
                    .min(self.dialing.backoff_max);
                backoff.pause = pause;
                backoff.failed = Some((error.clone(), Instant::now() + jitter(pause)));
                tracing::debug!(addr = %self.addr, %error, retry_in = ?pause, "connect failed");
            }
        }
        result
    }
}

/// A random pause between half of `pause` and all of it.
fn jitter(pause: Duration) -> Duration {
    // A fresh `RandomState` is randomly keyed: enough randomness to spread
    // reconnects, without a dependency.
    let random = RandomState::new().hash_one(0u8);
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    pause.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_pause() {
        let pause = Duration::from_millis(800);
        for _ in 0..1000 {
            let j = jitter(pause);
            assert!(j >= pause / 2 && j <= pause, "{j:?}");
        }
    }
}
