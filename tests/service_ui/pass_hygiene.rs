//! The macro in a crate that shadows the prelude and common names: the
//! generated code must not care.
#![allow(dead_code)]

type Result<T> = core::result::Result<T, ()>;
struct Box;
struct Vec;
struct Error;
struct Arc;
struct Option;
struct Some;
struct Send;
struct Future;
struct Bytes;
mod cluster_core {}
mod bytes {}

#[cluster::service]
pub trait Shadowed {
    async fn echo(&self, req: String, service: u32, response: u8) -> (String, u32, u8);
    #[oneway]
    async fn fire(&self, cmd: u32);
}

struct Impl;

impl Shadowed for Impl {
    async fn echo(&self, req: String, service: u32, response: u8) -> (String, u32, u8) {
        (req, service, response)
    }

    async fn fire(&self, _cmd: u32) {}
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = cluster::Node::builder().handler(ShadowedServer::new(Impl)).build();
        let listener = server.listen("127.0.0.1:0").expect("bind");
        let peer = cluster::Node::builder()
            .build()
            .connect(&listener.local_addr().to_string())
            .await;
        let client = ShadowedClient::new(peer);
        let reply = client.echo("a".into(), 7, 9).await.expect("call");
        assert_eq!(reply, ("a".to_string(), 7, 9));
        client.fire(1).await.expect("send");
    });
}
