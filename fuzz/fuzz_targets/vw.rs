//! Any bytes: the Vowpal Wabbit reader returns rows or an error on a line of the input,
//! never panics, and gives the same answer whatever the chunk size and thread count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vectorflow::io::{SparseFormat, Vw, VwHash};

fuzz_target!(|data: &[u8]| {
    let Some((&opts, text)) = data.split_first() else {
        return;
    };
    let format = Vw::new().hash(if opts & 1 == 1 {
        VwHash::All
    } else {
        VwHash::Strings
    });
    let lines = text.split(|&b| b == b'\n').count() as u64;
    let whole = format.reader(text, "fuzz").threads(1).read_all();
    let chunked = format
        .reader(text, "fuzz")
        .chunk_bytes(usize::from(opts >> 1) + 1)
        .max_line(4096)
        .threads(3)
        .parallel_min(0)
        .read_all();
    match (&whole, &chunked) {
        // Debug text, so that NaN labels compare equal.
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => {
            assert!(a.line() >= 1 && a.line() <= lines, "{a}");
            assert!(b.line() >= 1 && b.line() <= lines, "{b}");
        }
        (Ok(_), Err(e)) => assert!(e.to_string().contains("a line of at most"), "{e}"),
        (Err(e), Ok(_)) => panic!("only the whole parse failed: {e}"),
    }
});
