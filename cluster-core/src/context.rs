//! What a handler knows about the request it serves, without taking it as an
//! argument: the calling [`Peer`] (to call back over the same connection)
//! and, through [`crate::trace::current`], the trace id.
//!
//! Like the trace id, this is task-local: it is set for the handler's own
//! task only.

use crate::peer::Peer;

tokio::task_local! {
    /// The request being handled: its peer and its trace id. One task-local
    /// for both, as entering one costs about 100 instructions per poll.
    static REQUEST: (Peer, u64);
}

/// The peer whose request the current task is handling, if any.
///
/// ```no_run
/// # async fn handler() {
/// if let Some(peer) = cluster_core::context::peer() {
///     let _ = peer.send(7, "callback").await;
/// }
/// # }
/// ```
pub fn peer() -> Option<Peer> {
    REQUEST.try_with(|(peer, _)| peer.clone()).ok()
}

/// The trace id of the request the current task is handling, if any.
pub(crate) fn trace_id() -> Option<u64> {
    REQUEST.try_with(|&(_, trace_id)| trace_id).ok()
}

/// Runs `f`, one step of the handling of a request from `peer` in trace
/// `trace_id`, with both set as the current task's.
pub(crate) fn enter<R>(peer: Peer, trace_id: u64, f: impl FnOnce() -> R) -> R {
    REQUEST.sync_scope((peer, trace_id), f)
}
