#[derive(cluster::zproto::Message)]
struct Duplicate {
    #[zproto(1)]
    a: Option<i32>,
    #[zproto(1)]
    b: Option<i32>,
}

fn main() {}
