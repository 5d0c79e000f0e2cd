//! Compile-fail tests for losses that do not fit a net's output.
//!
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test --test ui_loss`,
//! then read every `.stderr`: each message must say which loss does not fit which output.

#[test]
fn ui_loss() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/loss_*.rs");
}
