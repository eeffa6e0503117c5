#[cluster::service]
pub trait Calc {
    async fn add<T>(&self, a: T, b: T) -> i32;
    async fn sub(&self, a: i32, b: i32) -> i32 where Self: Sized;
}

#[cluster::service]
pub trait Generic<T> {
    async fn get(&self) -> u32;
}

fn main() {}
