//! Feeds arbitrary bytes, behind an RDB header, to the salvage scan (the resynchronisation
//! path): it must end with a plan, never panic or hang, and the plan must hold together: spans
//! and skipped ranges in order, disjoint and inside the file, keys left out inside the spans.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    for header in [
        b"REDIS0011".as_slice(),
        b"REDIS0009",
        b"VALKEY080",
        b"RED1S0011",
    ] {
        let input = [header, data].concat();
        let mut f = rdb_parse::scratch::unlinked_file(None, "fuzz").expect("a temporary file");
        f.write_all(&input).expect("written");
        let plan = rdb_parse::salvage::scan(&f).expect("a plan");
        let len = input.len() as u64;
        let mut last = 0;
        for s in &plan.spans {
            assert!(s.start >= last && s.start < s.end && s.end <= len, "{s:?}");
            last = s.end;
        }
        let mut last = 0;
        for s in &plan.skipped {
            assert!(s.start >= last && s.start <= s.end && s.end <= len, "{s:?}");
            last = s.end;
        }
        for k in &plan.skip_keys {
            assert!(plan.spans.iter().any(|s| s.start <= *k && *k < s.end));
        }
        assert!(plan.keys <= len);
    }
});
