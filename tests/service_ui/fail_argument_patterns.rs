#[cluster::service]
pub trait Calc {
    async fn add(&self, mut a: i32, b: i32) -> i32;
    async fn pair(&self, (a, b): (i32, i32)) -> i32;
    async fn ignored(&self, _: i32) -> i32;
    async fn by_ref(&self, ref a: i32) -> i32;
}

fn main() {}
