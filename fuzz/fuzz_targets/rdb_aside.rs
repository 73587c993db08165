//! Feeds arbitrary bytes after an RDB header to the parser twice, with the blob values checked
//! inline and on a second thread (`Parser::check_blobs_aside`), the checksum not checked so
//! that only the structure can tell: both must end alike, one with the same error as the other
//! or with the signal to read the input again inline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rdb_parse::{Limits, Parser};

/// How a parse that reads no value ends: `None` when whole, else its error.
fn verdict(input: &[u8], aside: bool) -> Option<(u64, String, bool)> {
    let limits = Limits {
        max_string_len: 1 << 20,
        verify_checksum: false,
        ..Limits::default()
    };
    let mut parser = Parser::with_limits(input, limits);
    parser.skip_values(true);
    parser.check_blobs_aside(aside);
    parser
        .read_to_end()
        .err()
        .map(|e| (e.offset(), e.to_string(), e.is_aside_fault()))
}

fuzz_target!(|data: &[u8]| {
    let input = [b"REDIS0011".as_slice(), data].concat();
    let inline = verdict(&input, false);
    let aside = verdict(&input, true);
    match (&inline, &aside) {
        (None, None) => {}
        (Some(_), Some((_, _, true))) => {}
        _ => assert_eq!(
            inline, aside,
            "the blob thread and the inline check disagree"
        ),
    }
});
