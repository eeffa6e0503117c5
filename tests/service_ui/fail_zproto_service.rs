#[derive(Default, cluster::zproto::Message)]
#[zproto(tag = 1)]
pub struct Ping {
    #[zproto(1)]
    pub msg: Option<String>,
}

#[derive(Default, cluster::zproto::Message)]
#[zproto(tag = 2)]
pub struct Pong {
    #[zproto(1)]
    pub msg: Option<String>,
}

#[cluster::service(codec = zproto)]
pub trait TwoArguments {
    async fn ping(&self, a: Ping, b: Ping) -> Pong;
    async fn none(&self) -> Pong;
}

#[cluster::service(codec = zproto)]
pub trait NotMessages {
    async fn ping(&self, text: String) -> Pong;
    async fn pong(&self, req: Ping) -> u32;
}

fn main() {}
