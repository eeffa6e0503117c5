//! Spans: one `tracing` span per request served and per call made, with
//! the OpenTelemetry RPC field names, so that a request's log lines on both
//! nodes carry its command, session and trace id.
//!
//! A span is made only when a subscriber wants one at `INFO`: a disabled
//! span still costs about 200 instructions (callgrind), most of it in
//! tracing's fallback to the `log` crate, which cannot carry span fields
//! anyway. With no subscriber a request pays one `enabled!` check.
//!
//! The spans are `request` (server) and `call` (client). Their fields:
//!
//! | field | value |
//! |---|---|
//! | `otel.name` | `Service/method` when the handler or client knows it ([`crate::Handler::method_name`]), else the command id |
//! | `otel.kind` | `server` or `client` |
//! | `rpc.system` | `silly` |
//! | `rpc.service`, `rpc.method` | the names, when known |
//! | `cmd`, `session` | as on the wire |
//! | `trace_id` | silly's trace id, 16 hex digits: the same on both nodes |
//! | `network.peer.address` / `server.address` | the caller's address (server), the peer's (client) |
//! | `outcome`, `elapsed_us` | recorded when it ends, with a `DEBUG` event |
//!
//! Failures (a call that times out or whose connection closed, a response
//! that does not decode, a request refused or dropped, a panicking handler)
//! are events inside the span, so they carry all of the above.

use std::fmt;
use std::time::Instant;

use tracing::Span;
use tracing::field::{Empty, display};

/// The value of `rpc.system`: the protocol is silly's.
const SYSTEM: &str = "silly";
/// The name of a client span: how a call made below a typed client finds
/// the span that client opened.
const CALL_SPAN: &str = "call";

/// What spans and metrics call a command: its service and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RpcName {
    /// The service (trait) name, `Calc`.
    pub service: &'static str,
    /// The method name, `add`.
    pub method: &'static str,
}

impl fmt::Display for RpcName {
    /// `Calc/add`, as gRPC and OpenTelemetry name RPCs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.method)
    }
}

/// The span of one request being served, and when it started.
#[derive(Debug, Clone)]
pub(crate) struct ServerSpan {
    span: Span,
    started: Instant,
}

impl ServerSpan {
    /// The span of request `cmd`/`session`, if a subscriber wants it.
    /// Inlined, so that with none a request pays the check alone.
    #[inline]
    pub(crate) fn new(cmd: u32, session: u32, trace_id: u64) -> Option<Self> {
        tracing::enabled!(tracing::Level::INFO).then(|| Self::make(cmd, session, trace_id))
    }

    #[inline(never)]
    fn make(cmd: u32, session: u32, trace_id: u64) -> Self {
        Self {
            span: tracing::info_span!(
                "request",
                otel.name = Empty,
                otel.kind = "server",
                rpc.system = SYSTEM,
                rpc.service = Empty,
                rpc.method = Empty,
                cmd,
                session,
                trace_id = %format_args!("{trace_id:016x}"),
                network.peer.address = Empty,
                outcome = Empty,
                elapsed_us = Empty,
            ),
            started: Instant::now(),
        }
    }

    /// Enters the span for as long as the guard lives.
    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    /// Names the request, once its handler is known.
    pub(crate) fn name(&self, name: Option<RpcName>, cmd: u32, peer: &str) {
        record_name(&self.span, name, cmd);
        self.span.record("network.peer.address", peer);
    }

    /// Records how the request ended; `outcome` is `ok` for a response,
    /// `no_response` for none (one-way, refused), or what went wrong.
    pub(crate) fn finish(&self, outcome: &'static str) {
        finish(&self.span, self.started, outcome);
    }
}

/// The span of one call or send on the client side: its own, or the one a
/// typed client opened around it (which then records how it ended).
#[derive(Debug)]
pub(crate) struct ClientSpan {
    span: Span,
    started: Instant,
    /// Whether the call opened the span, and so ends it.
    own: bool,
}

impl ClientSpan {
    /// The span of a call of `cmd` to `addr`, if a subscriber wants it.
    /// Inlined, so that with none a call pays the check alone.
    #[inline]
    pub(crate) fn new(cmd: u32, addr: impl FnOnce() -> String) -> Option<Box<Self>> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return None;
        }
        Self::make(cmd, addr())
    }

    #[inline(never)]
    fn make(cmd: u32, addr: String) -> Option<Box<Self>> {
        let current = Span::current();
        let typed = current
            .metadata()
            .is_some_and(|meta| meta.name() == CALL_SPAN && meta.target() == module_path!());
        let span = match typed {
            true => current,
            false => call_span(None, cmd)?,
        };
        span.record("server.address", addr);
        Some(Box::new(Self {
            span,
            started: Instant::now(),
            own: !typed,
        }))
    }

    /// Records the session and trace id the request went out with.
    pub(crate) fn sent(&self, session: u32, trace_id: u64) {
        self.span.record("session", session);
        self.span
            .record("trace_id", display(format_args!("{trace_id:016x}")));
    }

    /// Records how the call ended, if it opened its span.
    pub(crate) fn finish<T>(&self, result: &crate::Result<T>) {
        if self.own {
            let failure = result
                .as_ref()
                .err()
                .map(|e| (outcome(e), e as &dyn fmt::Display));
            call_done(&self.span, self.started, failure);
        }
    }
}

/// A client span for a call of `name` (or of command id `cmd`), if a
/// subscriber wants it: typed clients enter it around the call they make,
/// and the call below records its session and trace id in it.
#[doc(hidden)]
pub fn call_span(name: Option<RpcName>, cmd: u32) -> Option<Span> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return None;
    }
    let span = tracing::info_span!(
        CALL_SPAN,
        otel.name = Empty,
        otel.kind = "client",
        rpc.system = SYSTEM,
        rpc.service = Empty,
        rpc.method = Empty,
        cmd,
        session = Empty,
        trace_id = Empty,
        server.address = Empty,
        outcome = Empty,
        elapsed_us = Empty,
    );
    record_name(&span, name, cmd);
    Some(span)
}

/// Records how a call in `span`, started at `started`, ended: `Ok`, or
/// the failure's kind ([`outcome`]) and error. A failure is also an `INFO`
/// event, a success a `DEBUG` one.
#[doc(hidden)]
pub fn call_done(
    span: &Span,
    started: Instant,
    failure: Option<(&'static str, &dyn fmt::Display)>,
) {
    match failure {
        None => finish(span, started, "ok"),
        Some((outcome, error)) => {
            record_end(span, started, outcome);
            span.in_scope(|| tracing::info!(%error, "call failed"));
        }
    }
}

/// The `outcome` of a call that failed with `error`: its kind, in the
/// words metrics label errors with.
pub fn outcome(error: &crate::Error) -> &'static str {
    use crate::Error;
    match error {
        Error::Timeout => "timeout",
        Error::Closed | Error::PeerClosed => "closed",
        Error::Shutdown => "shutdown",
        Error::Connect { .. } | Error::Resolve { .. } => "connect",
        Error::Tls(_) => "tls",
        Error::TooLarge { .. } => "too_large",
        Error::Overloaded { .. } => "overloaded",
        Error::Protocol(_) => "protocol",
        Error::Remote { .. } => "remote",
        Error::Encode(_) => "encode",
        Error::Decode(_) => "decode",
        Error::Listen { .. } | Error::Io(_) => "io",
    }
}

fn record_name(span: &Span, name: Option<RpcName>, cmd: u32) {
    match name {
        Some(name) => {
            span.record("otel.name", display(name));
            span.record("rpc.service", name.service);
            span.record("rpc.method", name.method);
        }
        None => {
            span.record("otel.name", cmd);
        }
    }
}

fn record_end(span: &Span, started: Instant, outcome: &'static str) {
    let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.record("outcome", outcome);
    span.record("elapsed_us", elapsed);
}

fn finish(span: &Span, started: Instant, outcome: &'static str) {
    record_end(span, started, outcome);
    span.in_scope(|| tracing::debug!(outcome, "done"));
}
