//! Compile-fail tests for `#[derive(Features)]` and `#[derive(Category)]`.
//!
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test --test ui_derive`,
//! then read every `.stderr`: each message must read like a sentence and point at the
//! user's token.

#[test]
fn ui_derive() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/derive_pass_*.rs");
    t.compile_fail("tests/ui/derive_[!p]*.rs");
}
