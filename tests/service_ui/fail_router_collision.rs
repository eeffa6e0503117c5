#[cluster::service]
pub trait Calc {
    #[cmd(7)]
    async fn add(&self, a: i32, b: i32) -> i32;
}

#[cluster::service]
pub trait Echo {
    #[cmd(7)]
    async fn echo(&self, text: String) -> String;
}

struct Impl;

impl Calc for Impl {
    async fn add(&self, a: i32, b: i32) -> i32 {
        a + b
    }
}

impl Echo for Impl {
    async fn echo(&self, text: String) -> String {
        text
    }
}

fn main() {
    let _router = cluster::router![CalcServer::new(Impl), EchoServer::new(Impl)];
}
