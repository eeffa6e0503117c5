//! Client-side glue for generated code: encode, call or send, decode.

use std::time::Duration;

use bytes::BytesMut;
use cluster_codec::{Codec, Decode, Encode};
use cluster_core::Error;

use crate::dispatch::boxed;
use crate::target::CallTarget;

/// A request body under construction: the tuple of the arguments (for
/// zproto, the one message), the shape the server decodes.
pub struct Body(BytesMut);

impl Body {
    /// An empty body.
    #[allow(clippy::new_without_default)] // only generated code makes one
    pub fn new() -> Self {
        Self(BytesMut::new())
    }

    /// Appends the encoding of `value`.
    pub fn put<C: Codec, T: Encode<C> + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value
            .encode(&mut self.0)
            .map_err(|e| Error::Encode(boxed(e)))
    }
}

/// Calls `cmd` with `body` through `target` and decodes the response.
pub async fn call<C: Codec, Resp: Decode<C>, T: CallTarget>(
    target: &T,
    cmd: u32,
    body: Body,
    timeout: Option<Duration>,
) -> Result<Resp, T::Error> {
    let reply = target.call(cmd, body.0.freeze(), timeout).await?;
    Resp::decode(&reply).map_err(|e| Error::Decode(boxed(e)).into())
}

/// Sends `cmd` with `body` through `target`, one-way.
pub async fn send<T: CallTarget>(target: &T, cmd: u32, body: Body) -> Result<(), T::Error> {
    target.send(cmd, body.0.freeze()).await
}
