#[cluster::service]
pub trait Calc {
    #[cmd(3)]
    async fn add(&self, a: i32, b: i32) -> i32;
    #[cmd(0x03)]
    async fn sub(&self, a: i32, b: i32) -> i32;
}

fn main() {}
