// An explicit id equal to another method's default id is caught too.
#[cluster::service]
pub trait Calc {
    async fn add(&self, a: i32, b: i32) -> i32;
    #[cmd(0xbdaf_910d)]
    async fn sub(&self, a: i32, b: i32) -> i32;
}

fn main() {}
