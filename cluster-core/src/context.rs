//! What a handler knows about the request it serves, without taking it as an
//! argument: the calling [`Peer`] (to call back over the same connection)
//! and, through [`crate::trace::current`], the trace id.
//!
//! Like the trace id, this is task-local: it is set for the handler's own
//! task only.

use crate::peer::Peer;

/// The peer whose request the current task is handling, if any, while it
/// lives: a task spawned under [`crate::trace::scope`] does not keep it
/// alive.
///
/// ```no_run
/// # async fn handler() {
/// if let Some(peer) = cluster_core::context::peer() {
///     let _ = peer.send(7, "callback").await;
/// }
/// # }
/// ```
pub fn peer() -> Option<Peer> {
    crate::trace::caller().and_then(Peer::from_caller)
}
