//! Arbitrary bytes to the AOF reader: items or an error, never a panic or a runaway allocation;
//! the cut offset never lies past what was read.
#![no_main]

use aof_parse::{AofReader, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bulk_len: 1 << 20,
        max_args: 1 << 16,
    };
    let mut r = AofReader::with_limits(data, limits);
    while let Ok(Some(_)) = r.next_item() {}
    assert!(r.last_good_offset() <= data.len() as u64);
});
