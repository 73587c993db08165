//! Feeds arbitrary bytes to the RDB parser: it must end with an event stream or an error,
//! never panic, hang or allocate past its limits. Read three ways (every event; values
//! skipped, as `check-rdb` reads; streams' nodes placed instead of reported entry by entry, as
//! `convert` reads), the same bytes must end alike: whole, or at the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rdb_parse::{Event, Limits, Parser};

/// How a read of `input` ends: whole, or the error's offset and message.
fn read(input: &[u8], limits: &Limits, mode: u8) -> Result<(), (u64, String)> {
    let mut parser = Parser::with_limits(input, limits.clone());
    parser.skip_values(mode == 1);
    parser.stream_nodes_as_stored(mode == 2);
    let mut events = 0u64;
    loop {
        let mut placed = None;
        match parser.next_event() {
            Ok(None) => return Ok(()),
            Ok(Some(Event::StreamMeta(m))) => placed = m.stored_nodes,
            Ok(Some(_)) => {}
            Err(e) => return Err((e.offset(), e.to_string())),
        }
        if let Some(n) = placed {
            assert_eq!(mode, 2, "nodes placed when not asked");
            assert!(n.len > 0 && n.offset + n.len <= parser.offset());
        }
        events += 1;
        assert!(
            events <= 4 * input.len() as u64 + 16,
            "more events than bytes"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_string_len: 1 << 20,
        ..Limits::default()
    };
    // Also try with a valid header in front, so the fuzzer reaches the records quickly.
    for input in [data.to_vec(), [b"REDIS0012".as_slice(), data].concat()] {
        let all = read(&input, &limits, 0);
        assert_eq!(read(&input, &limits, 1), all, "values skipped");
        assert_eq!(read(&input, &limits, 2), all, "stream nodes placed");
    }
});
