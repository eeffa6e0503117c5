#[cluster::service]
pub trait Calc {
    async fn by_value(self, a: i32) -> i32;
    async fn by_mut(&mut self, a: i32) -> i32;
    async fn no_receiver(a: i32) -> i32;
    async fn boxed(self: Box<Self>, a: i32) -> i32;
}

fn main() {}
