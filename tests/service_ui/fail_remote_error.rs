#[cluster::service]
pub trait Bank {
    #[remote_error]
    async fn balance(&self, id: u32) -> u64;
    #[remote_error]
    #[oneway]
    async fn audit(&self, id: u32);
    #[remote_error]
    #[remote_error]
    async fn close(&self, id: u32) -> Result<(), String>;
    #[remote_error(now)]
    async fn open(&self, id: u32) -> Result<(), String>;
}

fn main() {}
