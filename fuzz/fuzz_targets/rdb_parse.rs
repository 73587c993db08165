//! Feeds arbitrary bytes to the RDB parser: it must end with an event stream or an error,
//! never panic, hang or allocate past its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rdb_parse::{Limits, Parser};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_string_len: 1 << 20,
        ..Limits::default()
    };
    // Also try with a valid header in front, so the fuzzer reaches the records quickly.
    for input in [data.to_vec(), [b"REDIS0012".as_slice(), data].concat()] {
        let mut parser = Parser::with_limits(input.as_slice(), limits.clone());
        let mut events = 0u64;
        while let Ok(Some(_)) = parser.next_event() {
            events += 1;
            assert!(
                events <= 4 * input.len() as u64 + 16,
                "more events than bytes"
            );
        }
    }
});
