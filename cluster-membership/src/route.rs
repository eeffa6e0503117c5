//! One path for every call by name or by group: pick the candidates from
//! the directory (waiting for one if asked), then call them in order,
//! moving on only when a call certainly never left (no connection).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::Peer;
use tokio::time::Instant;

use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::membership::Inner;
use crate::record::NodeRecord;

/// A call or a one-way send, as the target received it.
#[derive(Clone)]
pub(crate) enum Op {
    Call {
        cmd: u32,
        body: Bytes,
        timeout: Option<Duration>,
    },
    Send {
        cmd: u32,
        body: Bytes,
    },
}

/// Whether a request is waited for, and how long, when no node is there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Absent {
    /// Fail at once.
    #[default]
    Fail,
    /// Wait for a node to appear, up to the call's timeout.
    Wait,
}

/// Picks candidates (in the order to try them; `None` or empty for none),
/// runs `op` on them. `missing` is the error when there are none.
pub(crate) async fn route(
    inner: &Inner,
    op: Op,
    absent: Absent,
    mut pick: impl FnMut(&Directory) -> Vec<Arc<NodeRecord>>,
    missing: impl Fn() -> Error,
) -> Result<Bytes> {
    inner.check_open()?;
    let started = Instant::now();
    let mut candidates = pick(&inner.snapshot());
    let mut waited = false;
    if candidates.is_empty() {
        if absent == Absent::Fail {
            return Err(missing());
        }
        let deadline = started + op.timeout().unwrap_or(inner.wait_timeout());
        let found = inner
            .wait_for(deadline, |dir| Some(pick(dir)).filter(|c| !c.is_empty()))
            .await;
        inner.check_open()?;
        candidates = found.ok_or_else(&missing)?;
        waited = true;
    }
    // A call that waited has only the rest of its time for the call itself.
    let op = if waited {
        let total = op.timeout().unwrap_or(inner.wait_timeout());
        op.with_timeout(total.saturating_sub(started.elapsed()))
    } else {
        op
    };
    let mut last = None;
    for record in candidates {
        let peer = inner.peer(&record.addr).await;
        match op.run(&peer).await {
            Err(e) if never_sent(&e) => {
                tracing::debug!(node = record.name, error = %e, "not reached; trying the next candidate");
                last = Some(e);
            }
            result => return result.map_err(Error::Call),
        }
    }
    Err(last.map_or_else(missing, Error::Call))
}

/// Errors that mean the request never left this node: another candidate
/// can take it without the risk of running it twice.
fn never_sent(e: &cluster_core::Error) -> bool {
    matches!(
        e,
        cluster_core::Error::Connect { .. }
            | cluster_core::Error::Resolve { .. }
            | cluster_core::Error::PeerClosed
    )
}

impl Op {
    fn timeout(&self) -> Option<Duration> {
        match self {
            Op::Call { timeout, .. } => *timeout,
            Op::Send { .. } => None,
        }
    }

    fn with_timeout(self, left: Duration) -> Self {
        match self {
            Op::Call { cmd, body, .. } => Op::Call {
                cmd,
                body,
                timeout: Some(left),
            },
            send => send,
        }
    }

    async fn run(&self, peer: &Peer) -> cluster_core::Result<Bytes> {
        match self {
            Op::Call {
                cmd,
                body,
                timeout: None,
            } => peer.call(*cmd, body.clone()).await,
            Op::Call {
                timeout: Some(left),
                ..
            } if left.is_zero() => Err(cluster_core::Error::Timeout),
            Op::Call {
                cmd,
                body,
                timeout: Some(timeout),
            } => peer.call_timeout(*cmd, body.clone(), *timeout).await,
            Op::Send { cmd, body } => peer.send(*cmd, body.clone()).await.map(|()| Bytes::new()),
        }
    }
}
