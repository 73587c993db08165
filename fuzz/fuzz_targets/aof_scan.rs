//! Arbitrary bytes to the scans a repair relies on: the resync after damage, the salvage
//! ranges, the restore points, the summary of a cut and the move out of a MULTI. None panics;
//! every offset stays inside the file; salvage ranges are ordered and disjoint.
#![no_main]

use aof_parse::scan::{
    describe_range, next_command_after, outside_multi, restore_points, salvage_ranges,
};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let size = data.len() as u64;
    let mut c = Cursor::new(data);
    for from in [0, size / 3, size / 2] {
        if let Ok(Some(at)) = next_command_after(&mut c, size, from) {
            assert!(at > from && at < size);
        }
        let _ = describe_range(&mut c, size, from);
    }
    if let Ok(s) = salvage_ranges(&mut c, size) {
        let mut last = 0;
        for (a, b) in s.kept {
            assert!(a >= last && a < b && b <= size);
            last = b;
        }
    }
    let mut pts = Vec::new();
    let scan = restore_points(data, |p| pts.push(p));
    assert!(scan.last_good_offset <= size);
    for p in &pts {
        assert!(p.offset < size);
        if let Ok(cut) = outside_multi(data, p.offset) {
            assert!(cut <= p.offset);
        }
    }
});
