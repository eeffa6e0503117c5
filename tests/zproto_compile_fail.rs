//! Compile errors of `#[derive(zproto::Message)]` and `zproto!`, pinned with
//! their messages and spans.

#[test]
fn zproto_macro_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/zproto_ui/*.rs");
}
