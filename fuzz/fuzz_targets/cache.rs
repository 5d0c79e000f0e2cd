//! Any bytes decoded as a block of the binary cache: an error, or rows that re-encode to
//! the same rows; never a panic, a hang or an allocation sized by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte is the block's row count, as its header would give it.
    if let Some((&rows, raw)) = data.split_first() {
        vectorflow::__private::fuzz_cache_block(raw, rows as usize);
    }
});
