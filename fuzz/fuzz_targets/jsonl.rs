//! Any bytes: the JSON lines reader gives borrowed rows or an error on a line of the
//! input, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;
use vectorflow::io::JsonLines;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Row<'a> {
    name: &'a str,
    #[serde(borrow)]
    note: Option<Cow<'a, str>>,
    x: f32,
    tags: Vec<&'a str>,
}

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let mut reader = JsonLines::new(data, "fuzz").chunk_bytes(64).max_line(4096);
    loop {
        match reader.next_rows::<Row>() {
            Ok(Some(rows)) => {
                std::hint::black_box(rows.len());
            }
            Ok(None) => break,
            Err(e) => {
                assert!(e.line() >= 1 && e.line() <= lines, "{e}");
                break;
            }
        }
    }
});
