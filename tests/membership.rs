//! Typed clients through call targets other than a peer: nodes by name,
//! groups and keyed groups of the membership directory, and a mock.
#![cfg(feature = "membership")]

use std::time::Duration;

use bytes::Bytes;
use cluster::membership::{Membership, NodeRecord, Selector, StaticDirectory, service_info};
use cluster::{Body, CallTarget, Error, Node};

/// Says which node answered.
#[cluster::service]
pub trait Who {
    async fn name(&self) -> String;
    async fn add(&self, a: i32, b: i32) -> i32;
}

struct Named(String);

impl Who for Named {
    async fn name(&self) -> String {
        self.0.clone()
    }

    async fn add(&self, a: i32, b: i32) -> i32 {
        a + b
    }
}

/// Serves `Who` as `name`, registered in `dir`.
async fn serve(dir: &StaticDirectory, name: &str) -> Membership {
    serve_with(dir, name, &[]).await
}

/// [`serve`], with capabilities in its record.
async fn serve_with(dir: &StaticDirectory, name: &str, caps: &[&str]) -> Membership {
    let node = Node::builder()
        .handler(WhoServer::new(Named(name.to_owned())))
        .build();
    let listener = node.listen("127.0.0.1:0").expect("listen");
    let record = caps.iter().fold(
        NodeRecord::new(name, listener.local_addr().to_string())
            .service(service_info(WhoClient::SERVICE, WhoClient::COMMANDS)),
        |record, cap| record.cap(*cap),
    );
    Membership::builder(node)
        .backend(dir.clone())
        .register(record)
        .build()
        .await
        .expect("register")
}

#[tokio::test]
async fn typed_clients_call_by_name_by_group_and_by_key() {
    let dir = StaticDirectory::default();
    let mut servers = Vec::new();
    for name in ["w1", "w2", "w3"] {
        servers.push(serve(&dir, name).await);
    }
    let me = Membership::builder(Node::builder().build())
        .backend(dir.clone())
        .build()
        .await
        .unwrap();
    let record = me.directory().get("w2").cloned().expect("w2");
    assert_eq!(record.services[0].name, "Who");
    assert_eq!(record.services[0].commands.len(), WhoClient::COMMANDS.len());

    let w2 = WhoClient::new(me.named("w2")).with_timeout(Duration::from_secs(5));
    assert_eq!(w2.name().await.unwrap(), "w2");
    assert_eq!(w2.add(2, 3).await.unwrap(), 5);

    let group = me.group(Selector::service(WhoClient::SERVICE));
    let any = WhoClient::new(group.clone());
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(any.name().await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, ["w1", "w2", "w3"]);

    let keyed = WhoClient::new(group.by_key("player-7"));
    let owner = keyed.name().await.unwrap();
    assert_eq!(keyed.name().await.unwrap(), owner);
    assert_eq!(Some(owner), keyed.target().member().map(|r| r.name.clone()));

    let gone = WhoClient::new(me.named("w9"));
    let err = gone.name().await.unwrap_err();
    assert!(
        matches!(&err, cluster::membership::Error::NoNode { name } if name == "w9"),
        "{err}"
    );
}

/// A target that never reaches anything: what a test double looks like.
#[derive(Clone)]
struct Unreachable;

impl CallTarget for Unreachable {
    type Error = Error;

    async fn call<B: Body + Send>(
        &self,
        _: u32,
        _: B,
        _: Option<Duration>,
    ) -> Result<Bytes, Error> {
        Err(Error::Timeout)
    }

    async fn send<B: Body + Send>(&self, _: u32, _: B) -> Result<(), Error> {
        Err(Error::Closed)
    }
}

#[tokio::test]
async fn a_typed_client_calls_through_any_call_target() {
    let client = WhoClient::new(Unreachable);
    assert!(matches!(client.name().await, Err(Error::Timeout)));
    // The ids and the table are the service's, whatever the target.
    assert_eq!(WhoClient::COMMANDS[0].id, WhoClient::NAME);
    assert_eq!(WhoClient::SERVICE, "Who");
}

#[tokio::test]
async fn a_node_whose_record_lists_the_extension_is_dialed_with_it() {
    let dir = StaticDirectory::default();
    let _plain = serve(&dir, "plain").await;
    let _extended = serve_with(&dir, "extended", &[cluster::EXTENSION_CAPABILITY]).await;
    let me = Membership::builder(Node::builder().build())
        .backend(dir.clone())
        .build()
        .await
        .unwrap();
    // An unknown command answers with its status only where the record
    // says the node speaks the extension.
    let short = Some(Duration::from_millis(200));
    let err = me
        .named("extended")
        .call(0xdead, Bytes::new(), short)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            cluster::membership::Error::Call(Error::Remote {
                status: cluster::Status::UnknownCommand,
                ..
            })
        ),
        "{err}"
    );
    let err = me
        .named("plain")
        .call(0xdead, Bytes::new(), short)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, cluster::membership::Error::Call(Error::Timeout)),
        "{err}"
    );
}
