//! Any bytes: the CSV reader gives borrowed rows or an error, never panics, and keeps
//! its buffers within the record limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vectorflow::io::CsvReader;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Row<'a> {
    name: &'a str,
    x: f32,
    n: Option<u32>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = CsvReader::new(data, "fuzz") else {
        return;
    };
    let mut reader = reader.chunk_bytes(64).max_record(1024);
    while let Ok(Some(rows)) = reader.next_rows::<Row>() {
        std::hint::black_box(rows.len());
    }
});
