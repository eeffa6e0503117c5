//! What the membership tests share: nodes that answer with their name.
#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cluster_core::{Listener, Node, Request};
use cluster_membership::{BackendConfig, Error, Membership, NodeRecord, NodeTarget, ServiceInfo};
use tokio::sync::Semaphore;

/// Answers with the node's name.
pub const WHO: u32 = 1;
/// Answers with the name once the node's gate lets it through.
pub const GATED: u32 = 2;

/// A node that answers [`WHO`] and [`GATED`] with `name`, listening on a
/// port of its own; `gate` holds [`GATED`] calls until permits are added.
pub struct Named {
    pub node: Node,
    pub listener: Listener,
    pub gate: Arc<Semaphore>,
}

impl Named {
    pub fn start(name: &str) -> Self {
        Self::start_on(name, "127.0.0.1")
    }

    /// The same, listening on `host` (the thread's namespace decides where
    /// that is).
    pub fn start_on(name: &str, host: &str) -> Self {
        let gate = Arc::new(Semaphore::new(0));
        let (reply, held) = (Bytes::from(name.to_owned()), gate.clone());
        let node = Node::builder()
            .handler(move |req: Request| {
                let (reply, held) = (reply.clone(), held.clone());
                async move {
                    if req.cmd == GATED {
                        held.acquire().await.ok()?.forget();
                    }
                    Some(reply)
                }
            })
            .build();
        let listener = node
            .listen(&format!("{host}:0"))
            .expect("listen on a free port");
        Self {
            node,
            listener,
            gate,
        }
    }

    pub fn addr(&self) -> String {
        self.listener.local_addr().to_string()
    }
}

/// Waits until `watch`'s directory satisfies `ok`, at most `limit`; panics
/// saying `what` otherwise.
pub async fn until(
    watch: &mut cluster_membership::DirectoryWatch,
    limit: Duration,
    what: &str,
    mut ok: impl FnMut(&cluster_membership::Directory) -> bool,
) {
    let wait = async {
        loop {
            if ok(&watch.borrow_and_update()) {
                return;
            }
            watch.changed().await.expect("directory watch open");
        }
    };
    if tokio::time::timeout(limit, wait).await.is_err() {
        let names: Vec<String> = watch.borrow().names().map(str::to_owned).collect();
        panic!("{what} within {limit:?}; the directory has {names:?}");
    }
}
#[cfg(feature = "etcd")]
pub mod etcd;

/// The record every test node registers: the Echo service, role "echo".
pub fn record(name: &str, addr: &str) -> NodeRecord {
    NodeRecord::new(name, addr)
        .service(ServiceInfo::new("Echo", [("who", WHO), ("gated", GATED)]))
        .role("echo")
}

/// A node named `name` listening on `host`, registered in `backend`.
pub async fn register(
    backend: impl Into<BackendConfig>,
    name: &str,
    host: &str,
) -> (Named, Membership) {
    let named = Named::start_on(name, host);
    let members = Membership::builder(named.node.clone())
        .backend(backend)
        .register(record(name, &named.addr()))
        .build()
        .await
        .expect("register");
    (named, members)
}

/// A membership that only looks (and calls), on a node of its own.
pub async fn observer(backend: impl Into<BackendConfig>) -> Membership {
    Membership::builder(Node::builder().build())
        .backend(backend)
        .build()
        .await
        .expect("observer")
}

/// Asks `target` who it is.
pub async fn who(target: &NodeTarget) -> Result<Bytes, Error> {
    target.call(WHO, Bytes::new(), None).await
}
