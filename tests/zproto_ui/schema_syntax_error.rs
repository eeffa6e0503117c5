// trybuild compiles this in target/tests/trybuild/cluster, which is its
// CARGO_MANIFEST_DIR: hence the path up to the workspace root.
cluster::zproto!("../../../../tests/zproto_ui/broken.zproto");

fn main() {}
