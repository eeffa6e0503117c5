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

use std::cell::Cell;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

thread_local! {
    /// The current trace and, inside a handler, its caller, while a task
    /// that has one is polled. Swapped in and out as tokio's task-locals
    /// are, but from a value the caller owns, so that a request's handling
    /// enters its context once for both making and first polling its
    /// handler's future. Plain data, so that the slot needs no destructor
    /// and entering costs a few moves.
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// Who sent the request a task handles: the id of its peer. Opaque here,
/// so that trace ids sit below the peers that carry them; the peer module
/// finds the peer by its id.
pub(crate) type Caller = NonZeroU64;

#[derive(Clone, Copy)]
pub(crate) struct Current {
    trace_id: u64,
    caller: Option<Caller>,
    /// When the caller of the request being handled gives up, if it said.
    deadline: Option<Instant>,
}

impl Current {
    pub(crate) fn new(trace_id: u64, caller: Option<Caller>, deadline: Option<Instant>) -> Self {
        Self {
            trace_id,
            caller,
            deadline,
        }
    }
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
    with_current(|current| current.trace_id)
}

/// Runs `fut` as part of trace `trace_id`: requests it sends carry it.
/// Inside a handler, the caller stays what it was when `scope` was called,
/// so a task spawned with it still knows the request it serves.
pub fn scope<F: Future>(trace_id: u64, fut: F) -> impl Future<Output = F::Output> {
    Scoped {
        current: Current::new(trace_id, caller(), deadline()),
        fut,
    }
}

/// When the caller of the request the current task handles gives up, if
/// its caller said (only between nodes that agreed on the extension, see
/// PROTOCOL.md). Calls made from the task end by then at the latest.
#[inline]
pub fn deadline() -> Option<Instant> {
    with_current(|current| current.deadline).flatten()
}

/// The caller of the request the current task handles, if any.
pub(crate) fn caller() -> Option<Caller> {
    with_current(|current| current.caller).flatten()
}

fn with_current<R>(f: impl FnOnce(Current) -> R) -> Option<R> {
    CURRENT.get().map(f)
}

/// Runs `f` with `current` as the current context, also when `f` panics.
/// Nests: the outer context is restored after.
pub(crate) fn within<R>(current: Current, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Current>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let _restore = Restore(CURRENT.replace(Some(current)));
    f()
}

pin_project_lite::pin_project! {
    /// `fut` polled inside its own context.
    struct Scoped<F> {
        current: Current,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        within(*this.current, || fut.poll(cx))
    }
}

/// The trace id a request sent now by node `node_id` carries: the current
/// trace's upper 48 bits with `node_id` as sender, or just `node_id`.
#[inline]
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
