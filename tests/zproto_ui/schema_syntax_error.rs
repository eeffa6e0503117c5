// The path starts from the `cluster` crate's directory, wherever trybuild
// builds this case (tests/zproto_compile_fail.rs sees to it).
cluster::zproto!("tests/zproto_ui/broken.zproto");

fn main() {}
