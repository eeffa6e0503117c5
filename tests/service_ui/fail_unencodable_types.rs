pub struct NotSerde;

#[cluster::service]
pub trait Files {
    async fn open(&self, path: NotSerde, mode: u32) -> u32;
    async fn stat(&self, id: u32) -> NotSerde;
}

fn main() {}
