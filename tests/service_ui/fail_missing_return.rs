#[cluster::service]
pub trait Calc {
    async fn reset(&self);
}

fn main() {}
