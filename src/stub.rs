//! Client-side glue for generated code: encode, call or send, decode.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use cluster_codec::{Codec, Decode, Encode};
use cluster_core::observe::{self, RpcName};
use cluster_core::{Body, Error};
use tracing::Span;

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
    let decoded = Decoded {
        call: target.call(cmd, body, timeout),
        ok: |value| value,
        codec: PhantomData,
    };
    traced(name, cmd, decoded)
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
    let decoded = Decoded {
        call: target.call(cmd, body, timeout),
        ok: Ok,
        codec: PhantomData,
    };
    traced(name, cmd, decoded)
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

pin_project_lite::pin_project! {
    /// A call's future, then its response decoded with `C` and passed to
    /// `ok`. Written out rather than an `async` block, which would keep the
    /// body twice (as its capture and inside the call) in every call in
    /// flight.
    struct Decoded<F, K, C, Resp> {
        #[pin]
        call: F,
        ok: K,
        codec: PhantomData<fn() -> (C, Resp)>,
    }
}

impl<F, K, C, Resp, R, E> Future for Decoded<F, K, C, Resp>
where
    F: Future<Output = Result<Bytes, E>>,
    E: From<Error>,
    C: Codec,
    Resp: Decode<C>,
    K: Fn(Resp) -> R,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R, E>> {
        let this = self.project();
        this.call.poll(cx).map(|reply| {
            let value = Resp::decode_bytes(&reply?).map_err(|e| Error::Decode(boxed(e)))?;
            Ok((this.ok)(value))
        })
    }
}

/// `call` in its span, if a subscriber wants one, recording how it ended.
fn traced<F, R, E>(name: RpcName, cmd: u32, call: F) -> Traced<F>
where
    F: Future<Output = Result<R, E>>,
    E: Display + 'static,
{
    Traced {
        call,
        span: observe::call_span(Some(name), cmd).map(|span| Box::new((span, Instant::now()))),
    }
}

pin_project_lite::pin_project! {
    /// A call polled inside its span, when there is one: boxed, so that a
    /// call in flight with no subscriber holds one empty word for it.
    struct Traced<F> {
        #[pin]
        call: F,
        span: Option<Box<(Span, Instant)>>,
    }
}

impl<F, R, E> Future for Traced<F>
where
    F: Future<Output = Result<R, E>>,
    E: Display + 'static,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R, E>> {
        let this = self.project();
        let Some(traced) = this.span.as_deref() else {
            return this.call.poll(cx);
        };
        let (span, started) = traced;
        let result = std::task::ready!(span.in_scope(|| this.call.poll(cx)));
        let failure = result.as_ref().err().map(|e| (kind(e), e as &dyn Display));
        observe::call_done(span, *started, failure);
        Poll::Ready(result)
    }
}

/// The kind of a call's error: [`observe::outcome`] for the core's
/// [`Error`], `error` for a target's own.
pub(crate) fn kind<E: 'static>(error: &E) -> &'static str {
    (error as &dyn Any)
        .downcast_ref::<Error>()
        .map_or("error", observe::outcome)
}
