//! Every diagnostic of `#[cluster::service]`, pinned by a snapshot of the
//! compiler's output (`tests/service_ui/*.stderr`). Regenerate with
//! `TRYBUILD=overwrite cargo test --test service_compile_fail` and review.

#[test]
fn service_macro_diagnostics() {
    let t = trybuild::TestCases::new();
    // A passing case makes trybuild build (not just check) the failing
    // ones, so errors found when generics are instantiated are seen too.
    t.pass("tests/service_ui/pass_*.rs");
    t.compile_fail("tests/service_ui/fail_*.rs");
}
