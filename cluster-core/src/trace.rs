//! Trace ids, laid out as silly lays them out.
//!
//! A trace id is a `u64`: `root_node:16 | unix_seconds:16 | seq:16 | sender_node:16`,
//! most significant first. A node starts a trace with [`new_trace`]. Every
//! request carries the trace of the task that sends it, with the sending
//! node's id in the low 16 bits; a request sent outside any trace carries
//! just the node id. The server runs each handler inside the received trace
//! ([`current`] returns it), so calls made from a handler propagate it with no
//! extra code. Responses carry no trace id.
//!
//! The current trace is task-local: a task spawned from a handler starts
//! outside it unless wrapped in [`scope`].

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

tokio::task_local! {
    /// The current trace and, inside a handler, its caller. One task-local
    /// for both, as entering one costs about 100 instructions per poll.
    static CURRENT: Current;
}

/// Who sent the request a task handles. Opaque here, so that trace ids sit
/// below the peers that carry them; the context module knows its type.
pub(crate) type Caller = Arc<dyn Any + Send + Sync>;

struct Current {
    trace_id: u64,
    caller: Option<Caller>,
    /// When the caller of the request being handled gives up, if it said.
    deadline: Option<Instant>,
}

/// Process-wide, as silly's: starts at 1 and wraps.
static SEQUENCE: AtomicU16 = AtomicU16::new(1);

/// Starts a new trace rooted at `node_id`: the node id, the unix time in
/// seconds (low 16 bits), a process-wide sequence number, and `node_id` again
/// as the sender.
pub fn new_trace(node_id: u16) -> u64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    compose(node_id, seconds as u16, seq, node_id)
}

/// Builds a trace id from its four fields.
pub fn compose(root_node: u16, seconds: u16, seq: u16, sender_node: u16) -> u64 {
    (u64::from(root_node) << 48)
        | (u64::from(seconds) << 32)
        | (u64::from(seq) << 16)
        | u64::from(sender_node)
}

/// The trace id of the current task, if it runs inside one (a handler, or a
/// future passed to [`scope`]).
pub fn current() -> Option<u64> {
    CURRENT.try_with(|current| current.trace_id).ok()
}

/// Runs `fut` as part of trace `trace_id`: requests it sends carry it.
/// Inside a handler, the caller stays what it was.
pub async fn scope<F: Future>(trace_id: u64, fut: F) -> F::Output {
    let (caller, deadline) = CURRENT
        .try_with(|current| (current.caller.clone(), current.deadline))
        .unwrap_or_default();
    let current = Current {
        trace_id,
        caller,
        deadline,
    };
    CURRENT.scope(current, fut).await
}

/// When the caller of the request the current task handles gives up, if
/// its caller said (only between nodes that agreed on the extension, see
/// PROTOCOL.md). Calls made from the task end by then at the latest.
pub fn deadline() -> Option<Instant> {
    CURRENT.try_with(|current| current.deadline).ok().flatten()
}

/// The caller of the request the current task handles, if any.
pub(crate) fn caller() -> Option<Caller> {
    CURRENT
        .try_with(|current| current.caller.clone())
        .ok()
        .flatten()
}

/// Runs `f` with trace `trace_id` and `caller` as the current task's: the
/// synchronous start of a request's handling.
pub(crate) fn enter<R>(
    trace_id: u64,
    caller: Caller,
    deadline: Option<Instant>,
    f: impl FnOnce() -> R,
) -> R {
    let current = Current {
        trace_id,
        caller: Some(caller),
        deadline,
    };
    CURRENT.sync_scope(current, f)
}

/// `fut` run with trace `trace_id` and `caller` as the current task's at
/// every step: the rest of a request's handling.
pub(crate) fn handling<F: Future>(
    trace_id: u64,
    caller: Caller,
    deadline: Option<Instant>,
    fut: F,
) -> impl Future<Output = F::Output> {
    let current = Current {
        trace_id,
        caller: Some(caller),
        deadline,
    };
    CURRENT.scope(current, fut)
}

/// The trace id a request sent now by node `node_id` carries: the current
/// trace's upper 48 bits with `node_id` as sender, or just `node_id`.
pub(crate) fn outgoing(node_id: u16) -> u64 {
    current().map_or(0, |id| id & !0xffff) | u64::from(node_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_silly_capture() {
        // From a real silly node: root 0x0102, time 0xa1e7, seq 1, sender 0x0102.
        assert_eq!(compose(0x0102, 0xa1e7, 1, 0x0102), 0x0102_a1e7_0001_0102);
    }

    #[test]
    fn new_trace_is_rooted_and_sent_by_the_node() {
        let id = new_trace(0x0abc);
        assert_eq!(id >> 48, 0x0abc);
        assert_eq!(id & 0xffff, 0x0abc);
        assert_ne!(
            new_trace(0x0abc) & 0xffff_0000,
            id & 0xffff_0000,
            "sequence advances"
        );
    }

    #[tokio::test]
    async fn outgoing_keeps_upper_bits_and_sets_sender() {
        assert_eq!(outgoing(7), 7, "no trace: just the node id");
        let got = scope(0x1111_2222_3333_4444, async { outgoing(7) }).await;
        assert_eq!(got, 0x1111_2222_3333_0007);
    }
}
