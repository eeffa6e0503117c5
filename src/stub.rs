//! Client-side glue for generated code: encode, call or send, decode.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use cluster_codec::{Codec, Decode, Encode};
use cluster_core::observe::{self, RpcName};
use cluster_core::{Body, Error};
use tracing::Instrument;

use crate::dispatch::boxed;
use crate::target::CallTarget;

/// A value that codec `C` encodes straight into the frame carrying it: a
/// typed request (the tuple of the arguments; for zproto, the one
/// message, the shape the server decodes).
pub struct Encoded<C, T> {
    value: T,
    codec: PhantomData<C>,
}

impl<C, T> Encoded<C, T> {
    /// `value`, to be encoded with `C`.
    pub fn new(value: T) -> Self {
        Self {
            value,
            codec: PhantomData,
        }
    }
}

impl<C: Codec, T: Encode<C>> Body for Encoded<C, T> {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        encode::<C, T>(&self.value, dst)
    }
}

/// Appends the encoding of `value` with `C`: what a typed body writes.
pub fn encode<C: Codec, T: Encode<C> + ?Sized>(value: &T, dst: &mut BytesMut) -> Result<(), Error> {
    value.encode(dst).map_err(|e| Error::Encode(boxed(e)))
}

/// Calls `name` (command `cmd`) with `body` through `target` and decodes
/// the response, in a `call` span when a subscriber wants one.
pub fn call<C: Codec, Resp: Decode<C>, T: CallTarget>(
    target: &T,
    name: RpcName,
    cmd: u32,
    body: impl Body + Send,
    timeout: Option<Duration>,
) -> impl Future<Output = Result<Resp, T::Error>> {
    let call = async move {
        let reply = target.call(cmd, body, timeout).await?;
        Resp::decode_bytes(&reply).map_err(|e| Error::Decode(boxed(e)).into())
    };
    traced(name, cmd, call)
}

/// [`call`] of a `#[remote_error]` method: its error came as a status, so
/// the value is the method's `Ok`.
pub fn call_ok<C: Codec, Resp: Decode<C>, T: CallTarget, E>(
    target: &T,
    name: RpcName,
    cmd: u32,
    body: impl Body + Send,
    timeout: Option<Duration>,
) -> impl Future<Output = Result<Result<Resp, E>, T::Error>> {
    let call = async move {
        let reply = target.call(cmd, body, timeout).await?;
        match Resp::decode_bytes(&reply) {
            Ok(value) => Ok(Ok(value)),
            Err(e) => Err(Error::Decode(boxed(e)).into()),
        }
    };
    traced(name, cmd, call)
}

/// Sends `name` (command `cmd`) with `body` through `target`, one-way.
pub fn send<T: CallTarget>(
    target: &T,
    name: RpcName,
    cmd: u32,
    body: impl Body + Send,
) -> impl Future<Output = Result<(), T::Error>> {
    traced(name, cmd, target.send(cmd, body))
}

/// Runs `call` in its span, if a subscriber wants one, and records how it
/// ended.
async fn traced<R, E: Display + 'static>(
    name: RpcName,
    cmd: u32,
    call: impl Future<Output = Result<R, E>>,
) -> Result<R, E> {
    let Some(span) = observe::call_span(Some(name), cmd) else {
        return call.await;
    };
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let failure = result.as_ref().err().map(|e| (kind(e), e as &dyn Display));
    observe::call_done(&span, started, failure);
    result
}

/// The kind of a call's error: [`observe::outcome`] for the core's
/// [`Error`], `error` for a target's own.
pub(crate) fn kind<E: 'static>(error: &E) -> &'static str {
    (error as &dyn Any)
        .downcast_ref::<Error>()
        .map_or("error", observe::outcome)
}
