#[cluster::service]
pub trait Calc {
    #[oneway]
    async fn log(&self, line: String) -> bool;
}

fn main() {}
