#[derive(Default, cluster::zproto::Message)]
#[zproto(tag = 1)]
pub struct Ping {
    #[zproto(1)]
    pub msg: Option<String>,
}

// Both methods take `Ping`, so both get command id 1: a compile error,
// found by evaluating the command table.
#[cluster::service(codec = zproto)]
pub trait Twice {
    async fn ping(&self, req: Ping) -> Ping;
    async fn again(&self, req: Ping) -> Ping;
}

fn main() {}
