#[derive(cluster::zproto::Message)]
struct Unsorted {
    #[zproto(2)]
    a: Option<i32>,
    #[zproto(tag = 1)]
    b: Option<i32>,
}

fn main() {}
