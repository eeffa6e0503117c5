//! Metrics through the [`metrics`] facade: the application installs the
//! recorder (Prometheus, StatsD, OpenTelemetry...) it wants. Names follow
//! the OpenTelemetry RPC conventions; a Prometheus exporter writes them
//! with underscores (`rpc_server_duration`).
//!
//! Per command, with labels `rpc.system="silly"`, `rpc.service` and
//! `rpc.method` (the command id where the names are not known), on each
//! side (`server` from the [`Metrics`] layer, `client` from a
//! [`MeteredTarget`]):
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `rpc.{side}.requests` | counter | requests served / calls and sends made |
//! | `rpc.{side}.errors` | counter | those that failed, by `error.type` |
//! | `rpc.{side}.duration` | histogram | seconds from start to end |
//! | `rpc.{side}.active_requests` | gauge | in flight now |
//!
//! Errors on the server: `no_response` (a call answered with nothing:
//! refused, undecodable, unknown) and `cancelled` (the handler was dropped
//! before it ended: panic, closed connection, deadline). On the client:
//! the call's error kind (`timeout`, `closed`, `connect`, `remote`,
//! `decode`...; see [`cluster_core::observe::outcome`]).
//!
//! `cluster.limit.hits` counts requests refused by an admission layer
//! (label `limit`: `rate`, `concurrency`, or an [`Admit`](super::Admit)'s
//! own reason), and [`record_node_stats`] publishes a
//! node's [`NodeStats`](cluster_core::NodeStats) as `cluster.node.*`.
//!
//! Handles are made once per command and kept, so that a request costs no
//! label allocation; with no recorder installed they do nothing. Install
//! the recorder before building the layers, which register with the
//! recorder installed at that time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster_core::{Body, Handler, Node, Request, RpcName};
use metrics::{Counter, Gauge, Histogram, Label};

use super::Layer;
use super::admit::Refusal;
use crate::service::Command;
use crate::target::CallTarget;

/// The names of one side's metrics.
struct Side {
    requests: &'static str,
    errors: &'static str,
    duration: &'static str,
    active: &'static str,
}

const SERVER: Side = Side {
    requests: "rpc.server.requests",
    errors: "rpc.server.errors",
    duration: "rpc.server.duration",
    active: "rpc.server.active_requests",
};

const CLIENT: Side = Side {
    requests: "rpc.client.requests",
    errors: "rpc.client.errors",
    duration: "rpc.client.duration",
    active: "rpc.client.active_requests",
};

/// The handles of one command on one side.
struct CommandMetrics {
    side: &'static Side,
    labels: Vec<Label>,
    requests: Counter,
    duration: Histogram,
    active: Gauge,
}

impl CommandMetrics {
    fn new(side: &'static Side, name: Option<RpcName>, cmd: u32) -> Arc<Self> {
        let labels = labels(name, cmd);
        Arc::new(Self {
            side,
            requests: metrics::counter!(side.requests, labels.clone()),
            duration: metrics::histogram!(side.duration, labels.clone()),
            active: metrics::gauge!(side.active, labels.clone()),
            labels,
        })
    }

    /// Counts a request that starts now.
    fn start(self: &Arc<Self>) -> InFlight {
        self.requests.increment(1);
        self.active.increment(1.0);
        InFlight {
            metrics: self.clone(),
            started: Instant::now(),
            ended: false,
        }
    }

    fn error(&self, kind: &'static str) {
        let mut labels = self.labels.clone();
        labels.push(Label::new("error.type", kind));
        metrics::counter!(self.side.errors, labels).increment(1);
    }
}

fn labels(name: Option<RpcName>, cmd: u32) -> Vec<Label> {
    let mut labels = vec![Label::new("rpc.system", "silly")];
    match name {
        Some(name) => {
            labels.push(Label::new("rpc.service", name.service));
            labels.push(Label::new("rpc.method", name.method));
        }
        None => labels.push(Label::new("rpc.method", cmd.to_string())),
    }
    labels
}

/// One request in flight: ends it when dropped, as `cancelled` unless
/// [`InFlight::end`] said how it ended.
struct InFlight {
    metrics: Arc<CommandMetrics>,
    started: Instant,
    ended: bool,
}

impl InFlight {
    fn end(mut self, error: Option<&'static str>) {
        self.ended = true;
        if let Some(kind) = error {
            self.metrics.error(kind);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.ended {
            self.metrics.error("cancelled");
        }
        self.metrics.active.decrement(1.0);
        self.metrics
            .duration
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// The server metrics layer: counts, times and errors of each command
/// served by the handler it wraps (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    _private: (),
}

impl Metrics {
    /// The layer; give it to [`HandlerExt::layer`](super::HandlerExt::layer).
    pub fn server() -> Self {
        Self::default()
    }
}

impl<H: Handler> Layer<H> for Metrics {
    type Handler = MetricsHandler<H>;

    fn layer(self, inner: H) -> MetricsHandler<H> {
        MetricsHandler {
            inner,
            commands: RwLock::default(),
        }
    }
}

/// A handler whose requests are measured: see [`Metrics`].
pub struct MetricsHandler<H> {
    inner: H,
    commands: RwLock<HashMap<u32, Arc<CommandMetrics>>>,
}

impl<H: Handler> MetricsHandler<H> {
    fn command(&self, cmd: u32) -> Arc<CommandMetrics> {
        let known = self
            .commands
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cmd)
            .cloned();
        known.unwrap_or_else(|| {
            self.commands
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(cmd)
                .or_insert_with(|| CommandMetrics::new(&SERVER, self.inner.method_name(cmd), cmd))
                .clone()
        })
    }
}

impl<H: Handler> Handler for MetricsHandler<H> {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        let oneway = self.inner.is_oneway(req.cmd);
        let request = self.command(req.cmd).start();
        let inner = self.inner.handle(req);
        async move {
            let response = inner.await;
            let silent = response.is_none() && !oneway;
            request.end(silent.then_some("no_response"));
            response
        }
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        self.inner.is_oneway(cmd)
    }

    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        self.inner.method_name(cmd)
    }
}

/// A client layer: a [`CallTarget`] that measures the calls and sends made
/// through it (see the [module docs](self)), named after the service's
/// command table: `CalcClient::new(MeteredTarget::new(peer,
/// CalcClient::SERVICE, CalcClient::COMMANDS))`.
pub struct MeteredTarget<T> {
    inner: T,
    commands: Arc<HashMap<u32, Arc<CommandMetrics>>>,
}

impl<T: CallTarget> MeteredTarget<T> {
    /// Measures the calls to `service`'s `commands` made through `inner`.
    pub fn new(inner: T, service: &'static str, commands: &'static [Command]) -> Self {
        let commands = commands
            .iter()
            .map(|c| {
                let name = RpcName {
                    service,
                    method: c.name,
                };
                (c.id, CommandMetrics::new(&CLIENT, Some(name), c.id))
            })
            .collect();
        Self {
            inner,
            commands: Arc::new(commands),
        }
    }

    /// The target calls go through.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn start(&self, cmd: u32) -> InFlight {
        match self.commands.get(&cmd) {
            Some(metrics) => metrics.start(),
            // Not in the table: measured by id, registered per call.
            None => CommandMetrics::new(&CLIENT, None, cmd).start(),
        }
    }
}

impl<T: Clone> Clone for MeteredTarget<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            commands: self.commands.clone(),
        }
    }
}

impl<T: CallTarget> CallTarget for MeteredTarget<T> {
    type Error = T::Error;

    async fn call<B: Body + Send>(
        &self,
        cmd: u32,
        body: B,
        timeout: Option<Duration>,
    ) -> Result<Bytes, T::Error> {
        let call = self.start(cmd);
        let result = self.inner.call(cmd, body, timeout).await;
        call.end(result.as_ref().err().map(crate::stub::kind));
        result
    }

    async fn send<B: Body + Send>(&self, cmd: u32, body: B) -> Result<(), T::Error> {
        let send = self.start(cmd);
        let result = self.inner.send(cmd, body).await;
        send.end(result.as_ref().err().map(crate::stub::kind));
        result
    }
}

/// Counts a request an [`Admit`](super::Admit) layer refused, logs it,
/// and answers it with the refusal's status if its connection agreed on
/// the extension.
pub(super) fn refused(refusal: Refusal, name: Option<RpcName>, req: &Request) {
    let Refusal { status, reason } = refusal;
    let mut labels = labels(name, req.cmd);
    labels.push(Label::new("limit", reason));
    metrics::counter!("cluster.limit.hits", labels).increment(1);
    tracing::debug!(limit = reason, cmd = req.cmd, peer = %req.peer.addr(), "request refused");
    req.refuse(status, reason);
}

/// Publishes `node`'s [`Node::stats`] as `cluster.node.*`:
///
/// | metric | kind | what |
/// |---|---|---|
/// | `cluster.node.connections`, `.pending_calls`, `.handlers`, `.tasks` | gauge | open now |
/// | `cluster.node.queued_bytes`, `.queued_requests`, `.memory` | gauge | queue depths and memory held |
/// | `cluster.node.network.io` | counter | bytes, by `network.io.direction` (`receive`, `transmit`) |
/// | `cluster.node.frames` | counter | frames, by `network.io.direction` |
/// | `cluster.node.limit_hits` | counter | times a node limit held it back, by `limit` |
/// | `cluster.node.refused_connections`, `.dropped_responses`, `.unsent_responses`, `.reconnects` | counter | events |
///
/// `limit` is a [`Limits`](cluster_core::Limits) field's name:
/// `max_connections`, `max_concurrent_requests`, `max_handlers`,
/// `memory_budget` or `write_queue` (see
/// [`LimitHits`](cluster_core::LimitHits)). Call it periodically (or
/// before each scrape).
pub fn record_node_stats(node: &Node) {
    let stats = node.stats();
    let gauges = [
        ("cluster.node.connections", stats.connections),
        ("cluster.node.pending_calls", stats.pending_calls),
        ("cluster.node.queued_bytes", stats.queued_bytes),
        ("cluster.node.handlers", stats.handlers),
        ("cluster.node.queued_requests", stats.queued_requests),
        ("cluster.node.memory", stats.memory),
        ("cluster.node.tasks", stats.tasks),
    ];
    for (name, value) in gauges {
        // Counts far below 2^53: exact as f64.
        metrics::gauge!(name).set(value as f64);
    }
    let counters = [
        (
            "cluster.node.refused_connections",
            stats.refused_connections,
        ),
        ("cluster.node.dropped_responses", stats.dropped_responses),
        ("cluster.node.unsent_responses", stats.unsent_responses),
        ("cluster.node.reconnects", stats.reconnects),
    ];
    for (name, value) in counters {
        metrics::counter!(name).absolute(value);
    }
    let traffic = [
        ("cluster.node.network.io", "receive", stats.bytes_in),
        ("cluster.node.network.io", "transmit", stats.bytes_out),
        ("cluster.node.frames", "receive", stats.frames_in),
        ("cluster.node.frames", "transmit", stats.frames_out),
    ];
    for (name, direction, value) in traffic {
        metrics::counter!(name, "network.io.direction" => direction).absolute(value);
    }
    let limits = std::iter::once(("max_connections", stats.refused_connections))
        .chain(stats.limit_hits.by_name());
    for (limit, hits) in limits {
        metrics::counter!("cluster.node.limit_hits", "limit" => limit).absolute(hits);
    }
}
