//! Call targets: what a generated client calls through. A [`Peer`] is one
//! (the default); with feature `membership`, so are a node by name and a
//! group of nodes, resolved at each call.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Error, Peer};

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
    /// or the node's default.
    fn call(
        &self,
        cmd: u32,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<Bytes, Self::Error>> + Send;

    /// Sends `cmd` with `body`, one-way.
    fn send(&self, cmd: u32, body: Bytes) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl CallTarget for Peer {
    type Error = Error;

    async fn call(&self, cmd: u32, body: Bytes, timeout: Option<Duration>) -> Result<Bytes, Error> {
        match timeout {
            Some(timeout) => self.call_timeout(cmd, body, timeout).await,
            None => Peer::call(self, cmd, body).await,
        }
    }

    async fn send(&self, cmd: u32, body: Bytes) -> Result<(), Error> {
        Peer::send(self, cmd, body).await
    }
}
