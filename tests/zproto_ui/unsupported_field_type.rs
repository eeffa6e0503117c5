use std::collections::HashMap;

#[derive(cluster::zproto::Message)]
struct Unsupported {
    #[zproto(1)]
    ratio: f64,
    #[zproto(2)]
    index: HashMap<i32, String>,
    #[zproto(3)]
    pair: (i32, i32),
    #[zproto(4)]
    small: Vec<i8>,
    #[zproto(5)]
    nested: Vec<Vec<i32>>,
}

fn main() {}
