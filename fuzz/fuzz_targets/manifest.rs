//! Arbitrary text to the manifest parser; whatever parses must write back to text that parses
//! to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = manifest::Manifest::parse(data) {
        let text = m.to_bytes();
        if let Ok(mut back) = manifest::Manifest::parse(&text) {
            let mut m = m;
            for f in m
                .base
                .iter_mut()
                .chain(m.history.iter_mut())
                .chain(m.incr.iter_mut())
            {
                f.line = 0;
            }
            for f in back
                .base
                .iter_mut()
                .chain(back.history.iter_mut())
                .chain(back.incr.iter_mut())
            {
                f.line = 0;
            }
            assert_eq!(back, m);
        }
    }
});
