//! Client-side glue for generated code: encode, call or send, decode.

use std::time::Duration;

use bytes::BytesMut;
use cluster_codec::{Codec, Decode, Encode};
use cluster_core::{Error, Peer};

use crate::dispatch::boxed;

/// A request body under construction: the arguments encoded one after
/// another (for zproto, the one message).
pub struct Body(BytesMut);

impl Body {
    #[allow(clippy::new_without_default)] // only generated code makes one
    pub fn new() -> Self {
        Self(BytesMut::new())
    }

    /// Appends one argument.
    pub fn put<C: Codec, T: Encode<C> + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value
            .encode(&mut self.0)
            .map_err(|e| Error::Encode(boxed(e)))
    }
}

/// Calls `cmd` with `body` and decodes the response.
pub async fn call<C: Codec, Resp: Decode<C>>(
    peer: &Peer,
    cmd: u32,
    body: Body,
    timeout: Option<Duration>,
) -> Result<Resp, Error> {
    let body = body.0.freeze();
    let reply = match timeout {
        Some(timeout) => peer.call_timeout(cmd, body, timeout).await?,
        None => peer.call(cmd, body).await?,
    };
    Resp::decode(&reply).map_err(|e| Error::Decode(boxed(e)))
}

/// Sends `cmd` with `body`, one-way.
pub async fn send(peer: &Peer, cmd: u32, body: Body) -> Result<(), Error> {
    peer.send(cmd, body.0.freeze()).await
}
