//! Compile errors of `#[derive(zproto::Message)]` and `zproto!`, pinned with
//! their messages and spans.

#[test]
fn zproto_macro_errors() {
    // trybuild builds the cases as a crate under the target directory, which
    // may be anywhere: relative schema paths must start from this crate.
    // SAFETY: this binary's only test sets it before anything reads the
    // environment or starts a thread that could.
    unsafe { std::env::set_var("CLUSTER_ZPROTO_BASE_DIR", env!("CARGO_MANIFEST_DIR")) };
    // The glob stays relative (cargo runs tests from the package directory):
    // trybuild normalizes the snapshots of absolute paths differently.
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/zproto_ui/*.rs");
}
