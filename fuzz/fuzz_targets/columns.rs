//! Any bytes: a column spec's text either fails to parse or describes itself as text
//! that parses back to the same spec; CSV or JSON lines read with a spec give hashed
//! rows with finite values or an error naming a line of the input, never a panic.
//!
//! The input is `format byte, spec text, 0, file bytes`: an even first byte reads the
//! file as CSV, an odd one as JSON lines; its second bit keeps the features' names,
//! one per feature, each non-empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use vectorflow::features::Named;
use vectorflow::io::columns::{ColumnReader, ColumnSpec};

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else {
        return;
    };
    let Some(zero) = rest.iter().position(|&b| b == 0) else {
        return;
    };
    let (spec, file) = (&rest[..zero], &rest[zero + 1..]);
    let Ok(spec) = std::str::from_utf8(spec) else {
        return;
    };
    let Ok(spec) = spec.parse::<ColumnSpec>() else {
        return;
    };
    let text = spec.to_string();
    assert_eq!(text.parse::<ColumnSpec>().as_ref(), Ok(&spec), "{text}");
    let lines = file.split(|&b| b == b'\n').count() as u64;
    let file = Cursor::new(file.to_vec());
    let names = format & 2 != 0;
    let read = match format % 2 {
        0 => ColumnReader::csv(file, "fuzz.csv", &spec)
            .and_then(|r| r.names(names).read_all()),
        _ => ColumnReader::json_lines(file, "fuzz.jsonl", &spec)
            .names(names)
            .read_all(),
    };
    match read {
        Ok(rows) => {
            for row in rows.iter() {
                // A spec without a label column gives NaN labels, for prediction.
                assert!(row.label().is_finite() || spec.label().is_none());
                assert!(row.weight().is_finite());
                let mut features = 0;
                for root in spec.roots() {
                    let (ids, values) = row.root(root);
                    assert_eq!(ids.len(), values.len());
                    assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
                    features += ids.len();
                }
                let mut named = 0;
                row.visit_named(|f| {
                    assert!(!f.name.to_string().is_empty());
                    named += 1;
                })
                .unwrap();
                assert_eq!(named, features);
            }
        }
        Err(e) => assert!(e.line() <= lines, "{e} (the input has {lines} lines)"),
    }
});
