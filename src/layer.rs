//! Middleware: layers around a node's handler (server side) and around a
//! typed client's calls (client side).
//!
//! A server layer is a [`Handler`] that wraps another: it sees each
//! [`Request`](cluster_core::Request) before the inner handler, may answer
//! it itself (refuse it with a status, drop it) or pass it on, and sees the
//! response come back. It forwards [`Handler::is_oneway`] and
//! [`Handler::method_name`], so that spans, metrics and cancellation still
//! know the command. [`Layer`] makes one from a handler, and
//! [`HandlerExt::layer`] stacks them, the last added outermost. A check
//! that only lets requests through or refuses them is an [`Admit`], a
//! layer by itself:
//!
//! ```
//! use cluster::layer::{ConcurrencyLimit, HandlerExt, Metrics, RateLimit};
//!
//! #[cluster::service]
//! pub trait Ping {
//!     async fn ping(&self) -> ();
//! }
//! struct Pinger;
//! impl Ping for Pinger {
//!     async fn ping(&self) {}
//! }
//!
//! let handler = PingServer::new(Pinger)
//!     .layer(ConcurrencyLimit::per_command(64))
//!     .layer(RateLimit::per_peer(1000.0, 100))
//!     .layer(Metrics::server());
//! let node = cluster::Node::builder().handler(handler).build();
//! ```
//!
//! A client layer is a [`CallTarget`](crate::CallTarget) that wraps
//! another, as [`MeteredTarget`] does: `CalcClient::new(MeteredTarget::new(peer, ...))`.
//!
//! # Why not tower
//!
//! tower's `Service` is request/response: `call(Request) -> Future<Response>`
//! with `poll_ready` backpressure before each call. Half of silly's traffic
//! is one-way sends, which have no response to wait for and no caller to
//! push back on; and a node's handler is first polled on the connection's
//! reader so that most requests cost no task, which `poll_ready` and boxed
//! tower stacks would give up. So layers here are plain [`Handler`]s and
//! [`CallTarget`](crate::CallTarget)s: no `tower` feature. A tower layer is
//! easy to reuse from inside a [`Handler`] where a project wants one.
//!
//! # Authentication
//!
//! silly frames carry no headers, so a credential travels as a call: a
//! first "login" command whose handler marks the connection's
//! [`Peer`](cluster_core::Peer) as trusted, and an [`Admit`] that refuses
//! every other command from a peer not marked yet. `examples/auth.rs` shows one.

mod admit;
mod concurrency;
mod metrics;
mod rate_limit;

use cluster_core::Handler;

pub use self::admit::{Admit, Admitted, Refusal};
pub use self::concurrency::ConcurrencyLimit;
pub use self::metrics::{MeteredTarget, Metrics, MetricsHandler, record_node_stats};
pub use self::rate_limit::RateLimit;

/// Makes a handler that wraps `inner`: a server layer.
pub trait Layer<H: Handler> {
    /// The wrapping handler.
    type Handler: Handler;

    /// Wraps `inner`.
    fn layer(self, inner: H) -> Self::Handler;
}

/// Stacks layers on a handler: `handler.layer(a).layer(b)` runs `b`, then
/// `a`, then `handler`.
pub trait HandlerExt: Handler + Sized {
    /// Wraps this handler in `layer`.
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Handler {
        layer.layer(self)
    }
}

impl<H: Handler> HandlerExt for H {}
