//! Any bytes: the JSON lines reader gives borrowed rows or an error on a line of the
//! input, never panics, and its parallel form agrees with the serial one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;
use vectorflow::io::{JsonLines, ReadError};

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct Row<'a> {
    name: &'a str,
    #[serde(borrow)]
    note: Option<Cow<'a, str>>,
    x: f32,
    tags: Vec<&'a str>,
}

/// Every row's debug text, or the first error's message.
fn read(data: &[u8], parallel: bool) -> Result<Vec<String>, ReadError> {
    let mut reader = JsonLines::new(data, "fuzz").chunk_bytes(64).max_line(4096);
    let mut out = Vec::new();
    loop {
        let rows = match parallel {
            true => reader.next_rows_parallel::<Row>()?,
            false => reader.next_rows::<Row>()?,
        };
        match rows {
            Some(rows) => out.extend(rows.iter().map(|r| format!("{r:?}"))),
            None => return Ok(out),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let serial = read(data, false);
    if let Err(e) = &serial {
        assert!(e.line() >= 1 && e.line() <= lines, "{e}");
    }
    let parallel = read(data, true);
    assert_eq!(
        serial.map_err(|e| e.to_string()),
        parallel.map_err(|e| e.to_string())
    );
});
