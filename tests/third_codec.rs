//! A service on a codec that `cluster` does not know: JSON through
//! `serde_json`, implemented here as any user would. Client and server
//! agree on one shape (the tuple of the arguments), so calls of every
//! arity round-trip; and the bincode body of a call is its arguments one
//! after another, byte for byte as before the shape was shared.

use bytes::{BufMut, Bytes, BytesMut};
use cluster::Node;
use cluster::codec::{Codec, Decode, DecodeError, Encode, EncodeError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// JSON bodies: a request is the JSON array of the arguments.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    const NAME: &'static str = "json";
}

fn to_json<T: Serialize + ?Sized>(value: &T, dst: &mut BytesMut) -> Result<(), EncodeError> {
    serde_json::to_writer(dst.writer(), value).map_err(EncodeError::other)
}

fn from_json<T: DeserializeOwned>(src: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(src).map_err(DecodeError::other)
}

/// The orphan rule forbids `impl<T: Serialize> Encode<Json> for T` outside
/// `cluster-codec`, so the codec names the types it carries.
macro_rules! json {
    ($(<$($p:ident),*> $ty:ty;)*) => {$(
        impl<$($p: Serialize),*> Encode<Json> for $ty {
            fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
                to_json(self, dst)
            }
        }
        impl<$($p: DeserializeOwned),*> Decode<Json> for $ty {
            fn decode(src: &[u8]) -> Result<Self, DecodeError> {
                from_json(src)
            }
        }
    )*};
}

json! {
    <> ();
    <A> (A,);
    <A, B> (A, B);
    <A, B, C> (A, B, C);
    <> u32;
    <> String;
    <T> Vec<T>;
}

#[cluster::service(codec = Json)]
pub trait Notebook {
    async fn count(&self) -> u32;
    async fn shout(&self, line: String) -> String;
    async fn join(&self, parts: Vec<String>, sep: String, times: u32) -> String;
    #[oneway]
    async fn note(&self, line: String);
}

struct Book(mpsc::UnboundedSender<String>);

impl Notebook for Book {
    async fn count(&self) -> u32 {
        7
    }

    async fn shout(&self, line: String) -> String {
        line.to_uppercase()
    }

    async fn join(&self, parts: Vec<String>, sep: String, times: u32) -> String {
        parts.join(&sep).repeat(times as usize)
    }

    async fn note(&self, line: String) {
        let _ = self.0.send(line);
    }
}

/// A peer of a node serving with `handler`, and that node, which serves
/// for as long as it is held.
async fn serve(handler: impl cluster::Handler) -> (cluster::Peer, Node) {
    let server = Node::builder().handler(handler).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder()
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    (peer, server)
}

#[tokio::test]
async fn a_json_service_round_trips_calls_of_every_arity() {
    let (notes, mut noted) = mpsc::unbounded_channel();
    let (peer, _server) = serve(NotebookServer::new(Book(notes))).await;
    let book = NotebookClient::new(peer.clone());
    assert_eq!(book.count().await.expect("no arguments"), 7);
    assert_eq!(book.shout("hi".into()).await.expect("one"), "HI");
    let parts = vec!["a".to_owned(), "b".to_owned()];
    assert_eq!(
        book.join(parts, "-".into(), 2).await.expect("several"),
        "a-ba-b"
    );
    book.note("kept".into()).await.expect("one-way");
    assert_eq!(noted.recv().await.as_deref(), Some("kept"));

    // On the wire a request is the JSON array of its arguments.
    let reply = peer
        .call(NotebookClient::JOIN, r#"[["x","y"],"+",1]"#)
        .await
        .expect("raw call");
    assert_eq!(&reply[..], br#""x+y""#);
}

#[cluster::service]
pub trait Pair {
    async fn pair(&self, a: i32, b: String) -> ();
}

#[tokio::test]
async fn a_bincode_request_is_its_arguments_one_after_another() {
    let (bodies, mut seen) = mpsc::unbounded_channel();
    let (peer, _server) = serve(move |req: cluster::Request| {
        let _ = bodies.send(req.body.clone());
        async { Some(Bytes::new()) }
    })
    .await;
    PairClient::new(peer)
        .pair(-3, "ab".into())
        .await
        .expect("call");
    // bincode's standard config: -3 as a zigzag varint, then the string's
    // varint length and bytes.
    assert_eq!(seen.recv().await.as_deref(), Some(&[5, 2, b'a', b'b'][..]));
}
