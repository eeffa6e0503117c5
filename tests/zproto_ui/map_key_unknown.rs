#[derive(cluster::zproto::Message)]
struct Item {
    #[zproto(1)]
    id: Option<i32>,
}

#[derive(cluster::zproto::Message)]
struct Items {
    #[zproto(1, map = "name")]
    by_name: Vec<Item>,
}

fn main() {}
