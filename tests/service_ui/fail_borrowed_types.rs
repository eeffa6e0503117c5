#[cluster::service]
pub trait Files {
    async fn name(&self) -> &'static str;
    async fn open(&self, path: &str) -> u32;
    async fn list(&self) -> Vec<std::borrow::Cow<'static, str>>;
}

fn main() {}
