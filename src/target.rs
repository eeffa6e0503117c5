//! Call targets: what a generated client calls through. A [`Peer`] is one
//! (the default); with feature `membership`, so are a node by name and a
//! group of nodes, resolved at each call.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Body, Error, Peer};

/// Something a typed client can call through: it takes encoded requests
/// and gives back encoded responses. `CalcClient<T: CallTarget = Peer>`
/// is generic over it, so `CalcClient::new(peer)` stays a client of one
/// peer while `CalcClient::new(members.named("calc-1"))` finds its node by
/// name at each call. Implement it to mock a service or run it in memory.
pub trait CallTarget: Clone + Send + Sync + 'static {
    /// What a call fails with: [`Error`] for a peer; a target that can
    /// also fail to find its node has its own, built from [`Error`].
    type Error: From<Error> + std::fmt::Display + Send + 'static;

    /// Calls `cmd` with `body` and waits for the response, up to `timeout`
    /// or the node's default. A typed client's `body` encodes its
    /// arguments when its frame is written; a target that needs the bytes
    /// themselves takes them with [`cluster_core::body::to_bytes`].
    fn call<B: Body + Send>(
        &self,
        cmd: u32,
        body: B,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Bytes, Self::Error>> + Send;

    /// Sends `cmd` with `body`, one-way.
    fn send<B: Body + Send>(
        &self,
        cmd: u32,
        body: B,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

// Returning the core's futures as they are, rather than from an `async fn`
// that would wrap each in another state machine.
impl CallTarget for Peer {
    type Error = Error;

    fn call<B: Body + Send>(
        &self,
        cmd: u32,
        body: B,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send {
        self.call_timeout(cmd, body, timeout.unwrap_or_else(|| self.timeout()))
    }

    fn send<B: Body + Send>(
        &self,
        cmd: u32,
        body: B,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        Peer::send(self, cmd, body)
    }
}
