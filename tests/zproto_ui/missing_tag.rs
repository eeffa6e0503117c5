#[derive(cluster::zproto::Message)]
struct Missing {
    #[zproto(1)]
    tagged: Option<i32>,
    untagged: Option<i32>,
}

fn main() {}
