#[derive(cluster::zproto::Message)]
struct Mismatch {
    #[zproto(tag = 1, ty = "ushort")]
    wide: Option<i32>,
    #[zproto(tag = 2, ty = "double")]
    unknown: Option<f32>,
    #[zproto(3, map = "id")]
    not_messages: Vec<i32>,
}

fn main() {}
