//! Compile-fail tests for `network!` and for rows that do not fit a net.
//!
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test --test ui`, then
//! read every `.stderr`: each message must read like a sentence and point at the user's
//! token. (`tests/ui_derive.rs` covers `#[derive(Features)]`.)

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/net_*.rs");
}
