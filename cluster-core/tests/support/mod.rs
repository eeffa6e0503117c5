//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod frames;

use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Error, Listener, Node, Peer, Request};
use tokio::sync::mpsc;

/// How long a test waits for an event before declaring it lost. Far above
/// anything the events need; only a broken test waits this long.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The address of a listener, as a `connect` argument.
pub fn addr(listener: &Listener) -> String {
    listener.local_addr().to_string()
}

/// A server node that echoes every request body, listening on 127.0.0.1.
pub fn echo_server() -> (Node, Listener) {
    let node = Node::builder()
        .handler(|req: Request| async move { Some(req.body) })
        .build();
    let listener = node.listen("127.0.0.1:0").expect("bind");
    (node, listener)
}

/// Events reported by callbacks and handlers, awaited in order.
pub struct Events<T> {
    rx: mpsc::UnboundedReceiver<T>,
}

pub fn events<T>() -> (mpsc::UnboundedSender<T>, Events<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Events { rx })
}

impl<T> Events<T> {
    /// The next event; panics if none comes within [`PATIENCE`].
    pub async fn next(&mut self) -> T {
        match tokio::time::timeout(PATIENCE, self.rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("event source dropped"),
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// An event that has already arrived, if any.
    pub fn try_next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// A node whose accept and close callbacks report to the returned streams.
pub fn observed_node(
    builder: cluster_core::NodeBuilder,
) -> (Node, Events<Peer>, Events<(Peer, Error)>) {
    let (accepted, accepts) = events();
    let (closed, closes) = events();
    let node = builder
        .on_accept(move |peer, _| {
            let _ = accepted.send(peer.clone());
        })
        .on_close(move |peer, error| {
            let _ = closed.send((peer.clone(), error.clone()));
        })
        .build();
    (node, accepts, closes)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, max_len: usize) -> Bytes {
        let len = (self.next_u64() % (max_len as u64 + 1)) as usize;
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
