#[derive(cluster::zproto::Message)]
#[zproto(tag = 0x1_0000_0000)]
struct OutOfRange {
    #[zproto(0)]
    zero: Option<i32>,
    #[zproto(40000)]
    high: Option<i32>,
}

fn main() {}
