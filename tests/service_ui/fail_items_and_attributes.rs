#[cluster::service]
pub trait Calc {
    const LIMIT: u32;
    type Output;
    #[cmd("three")]
    async fn add(&self, a: i32, b: i32) -> i32;
    #[cmd(5_000_000_000)]
    async fn sub(&self, a: i32, b: i32) -> i32;
    #[oneway(now)]
    async fn log(&self, line: String);
    async fn new(&self) -> u32;
}

fn main() {}
