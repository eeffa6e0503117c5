//! Spans on both sides of a call, captured by a test subscriber: their
//! names, their OpenTelemetry fields, and a trace id shared by two nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use cluster::{Error, Node, Request};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[cluster::service]
pub trait Greeter {
    #[cmd(0x03)]
    async fn greet(&self, name: String) -> String;
    #[oneway]
    async fn wave(&self);
}

struct Greetings;

impl Greeter for Greetings {
    async fn greet(&self, name: String) -> String {
        tracing::info!("greeting");
        format!("hello {name}")
    }

    async fn wave(&self) {}
}

/// A span as the subscriber saw it: its name and every field recorded.
#[derive(Debug, Clone, Default)]
struct SpanRecord {
    name: &'static str,
    fields: HashMap<String, String>,
}

impl SpanRecord {
    fn get(&self, field: &str) -> &str {
        self.fields.get(field).map_or("", String::as_str)
    }
}

/// An event: its message and fields, and the fields of the span it was in.
#[derive(Debug, Clone)]
struct EventRecord {
    message: String,
    fields: HashMap<String, String>,
    span: Option<SpanRecord>,
}

#[derive(Default)]
struct Seen {
    /// Every span, in the order they were made.
    spans: Vec<SpanRecord>,
    /// Where each open span is in `spans`: the registry reuses ids.
    open: HashMap<u64, usize>,
    events: Vec<EventRecord>,
}

impl Seen {
    fn span(&mut self, id: &Id) -> Option<&mut SpanRecord> {
        let at = *self.open.get(&id.into_u64())?;
        self.spans.get_mut(at)
    }
}

/// Records every span and event, with their fields.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

impl Recorder {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spans(&self, name: &str) -> Vec<SpanRecord> {
        let seen = self.seen();
        seen.spans
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }

    fn events(&self, message: &str) -> Vec<EventRecord> {
        let seen = self.seen();
        seen.events
            .iter()
            .filter(|e| e.message == message)
            .cloned()
            .collect()
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut span = SpanRecord {
            name: attrs.metadata().name(),
            fields: HashMap::new(),
        };
        attrs.record(&mut Fields(&mut span.fields));
        let mut seen = self.seen();
        let at = seen.spans.len();
        seen.spans.push(span);
        seen.open.insert(id.into_u64(), at);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.seen().span(id) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.seen().open.remove(&id.into_u64());
    }

    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let mut seen = self.seen();
        let span = cx
            .event_span(event)
            .and_then(|s| seen.span(&s.id()).cloned());
        seen.events.push(EventRecord {
            message,
            fields,
            span,
        });
    }
}

/// Captures this thread's spans and events (every test here runs on a
/// current-thread runtime, so both nodes run on it).
fn capture() -> (Recorder, tracing::subscriber::DefaultGuard) {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    (recorder, tracing::subscriber::set_default(subscriber))
}

async fn greeter() -> (Node, GreeterClient) {
    let server = Node::builder()
        .node_id(0x0201)
        .handler(GreeterServer::new(Greetings))
        .build();
    let listener = server.listen("127.0.0.1:0").expect("listen");
    let client = Node::builder().node_id(0x0102).build();
    let peer = client.connect(&listener.local_addr().to_string()).await;
    (server, GreeterClient::new(peer))
}

#[tokio::test]
async fn typed_call_has_a_named_span_on_each_side_sharing_its_trace_id() {
    let (recorder, _guard) = capture();
    let (_server, greeter) = greeter().await;
    let trace_id = 0x0a0b_0c0d_0e0f_0000;
    let greeting = cluster::trace::scope(trace_id, greeter.greet("you".into())).await;
    assert_eq!(greeting.expect("greet"), "hello you");

    let [call] = &recorder.spans("call")[..] else {
        panic!("one call span: {:?}", recorder.spans("call"));
    };
    let [request] = &recorder.spans("request")[..] else {
        panic!("one request span: {:?}", recorder.spans("request"));
    };
    for (span, kind) in [(call, "client"), (request, "server")] {
        assert_eq!(span.get("otel.name"), "Greeter/greet", "{span:?}");
        assert_eq!(span.get("otel.kind"), kind);
        assert_eq!(span.get("rpc.system"), "silly");
        assert_eq!(span.get("rpc.service"), "Greeter");
        assert_eq!(span.get("rpc.method"), "greet");
        assert_eq!(span.get("cmd"), "3");
        assert_eq!(span.get("outcome"), "ok");
        assert!(span.get("elapsed_us").parse::<u64>().is_ok(), "{span:?}");
    }
    // The upper 48 bits of the trace, the sender's node id below.
    assert_eq!(call.get("trace_id"), "0a0b0c0d0e0f0102");
    assert_eq!(request.get("trace_id"), call.get("trace_id"));
    assert_eq!(request.get("session"), call.get("session"));
    assert!(call.get("server.address").starts_with("127.0.0.1:"));
    assert!(
        request
            .get("network.peer.address")
            .starts_with("127.0.0.1:")
    );

    // What the handler logs carries the request's span.
    let [adding] = &recorder.events("greeting")[..] else {
        panic!("one event from the handler");
    };
    let context = adding.span.as_ref().expect("in a span");
    assert_eq!(context.name, "request");
    assert_eq!(context.get("trace_id"), "0a0b0c0d0e0f0102");
}

#[tokio::test]
async fn oneway_send_has_a_client_span_and_a_server_span_without_response() {
    let (recorder, _guard) = capture();
    let (_server, greeter) = greeter().await;
    greeter.wave().await.expect("wave");
    // Read after the send on the same connection, so served after it.
    greeter.greet("me".into()).await.expect("greet");
    let call = recorder
        .spans("call")
        .into_iter()
        .next()
        .expect("a call span");
    assert_eq!(call.get("otel.name"), "Greeter/wave");
    assert_eq!(call.get("outcome"), "ok");
    let request = recorder
        .spans("request")
        .into_iter()
        .next()
        .expect("a request span");
    assert_eq!(request.get("otel.name"), "Greeter/wave");
    assert_eq!(request.get("outcome"), "no_response");
}

#[tokio::test]
async fn byte_call_is_named_by_its_command_id_and_its_failure_is_an_event() {
    let (recorder, _guard) = capture();
    // Answers nothing: the call times out.
    let server = Node::builder()
        .handler(|_: Request| async { None::<Bytes> })
        .build();
    let listener = server.listen("127.0.0.1:0").expect("listen");
    let peer = Node::builder()
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    let failed = peer.call_timeout(7, "x", Duration::from_millis(50)).await;
    assert!(matches!(failed, Err(Error::Timeout)), "{failed:?}");

    let call = recorder.spans("call").pop().expect("a call span");
    assert_eq!(call.get("otel.name"), "7");
    assert_eq!(call.get("rpc.service"), "");
    assert_eq!(call.get("outcome"), "timeout");
    let [event] = &recorder.events("call failed")[..] else {
        panic!("one failure event");
    };
    assert_eq!(
        event.fields.get("error").map(String::as_str),
        Some("timeout")
    );
    let context = event.span.as_ref().expect("in the call span");
    assert_eq!(context.get("cmd"), "7");
    assert_eq!(context.get("session"), call.get("session"));
    let request = recorder.spans("request").pop().expect("a request span");
    assert_eq!(request.get("otel.name"), "7");
}
