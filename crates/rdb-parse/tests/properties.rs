//! Properties over real files: the same events whatever the read sizes, truncation detected at
//! every byte, and the length encodings at their boundaries.

mod common;

use common::{len, testdata};
use proptest::prelude::*;
use rdb_parse::{crc64, Error, ErrorKind, Event, Limits, Parser, Str};
use std::io::Read;
use std::path::PathBuf;

fn rdb_files() -> Vec<PathBuf> {
    let out = common::rdb_files_in(&["rdb"]);
    assert!(out.len() >= 40, "fixtures missing");
    out
}

/// A reader that hands out at most the next size from `sizes` (cycling) per read.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.i % self.sizes.len()].max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// All events as text, and the final error if any.
fn events<R: Read>(r: R) -> (Vec<String>, Option<Error>) {
    let mut p = Parser::new(r);
    let mut out = Vec::new();
    loop {
        match p.next_event() {
            Ok(Some(ev)) => out.push(format!("{ev:?}")),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn same_events_whatever_the_read_sizes() {
    for f in rdb_files() {
        let data = std::fs::read(&f).unwrap();
        let (whole, err) = events(data.as_slice());
        assert!(err.is_none(), "{}: {err:?}", f.display());
        for sizes in [
            vec![1],
            vec![1, 2, 3, 5, 7],
            vec![4096, 1, 13],
            vec![65536 + 3],
        ] {
            let (chunked, err) = events(Chunked {
                data: &data,
                sizes: sizes.clone(),
                i: 0,
            });
            assert!(err.is_none(), "{} {sizes:?}: {err:?}", f.display());
            assert_eq!(whole, chunked, "{} with read sizes {sizes:?}", f.display());
        }
    }
}

#[test]
fn every_prefix_is_a_truncation_at_its_end() {
    // Small files of each server, cut at every byte.
    let files: Vec<PathBuf> = rdb_files()
        .into_iter()
        .filter(|p| std::fs::metadata(p).unwrap().len() < 1200)
        .collect();
    assert!(files.len() >= 10);
    for f in files {
        let data = std::fs::read(&f).unwrap();
        for cut in 0..data.len() {
            let (_, err) = events(&data[..cut]);
            let err = err.unwrap_or_else(|| panic!("{} cut at {cut}: no error", f.display()));
            assert!(
                err.is_truncation(),
                "{} cut at {cut}: not a truncation: {err}",
                f.display()
            );
            assert_eq!(err.offset(), cut as u64, "{} cut at {cut}", f.display());
        }
    }
}

/// Builds an RDB 9 file with the given body, EOF and a correct CRC.
fn rdb(version: u32, body: &[u8]) -> Vec<u8> {
    let mut v = format!("REDIS{version:04}").into_bytes();
    v.extend_from_slice(body);
    v.push(0xff);
    let crc = crc64(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

fn string_key(key: &[u8], value_len: usize) -> Vec<u8> {
    let mut b = vec![0u8];
    b.extend(len(key.len() as u64));
    b.extend_from_slice(key);
    b.extend(len(value_len as u64));
    b.extend(std::iter::repeat_n(b'v', value_len));
    b
}

fn values(file: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut p = Parser::new(file);
    let mut out = Vec::new();
    while let Some(ev) = p.next_event()? {
        if let Event::Element(s) = ev {
            out.push(s.to_vec());
        }
    }
    Ok(out)
}

#[test]
fn length_encoding_boundaries() {
    for n in [0usize, 1, 63, 64, 16383, 16384, 65536, 70000] {
        let f = rdb(9, &string_key(b"k", n));
        assert_eq!(values(&f).unwrap(), vec![vec![b'v'; n]], "length {n}");
    }
    // Non-minimal forms are accepted: 5 as a 14-bit, 32-bit and 64-bit length.
    for enc in [
        vec![0x40, 5],
        vec![0x80, 0, 0, 0, 5],
        vec![0x81, 0, 0, 0, 0, 0, 0, 0, 5],
    ] {
        let mut body = vec![0u8, 1, b'k'];
        body.extend(&enc);
        body.extend_from_slice(b"hello");
        assert_eq!(
            values(&rdb(9, &body)).unwrap(),
            vec![b"hello".to_vec()],
            "{enc:?}"
        );
    }
    // Invalid length prefixes.
    for bad in [0x82u8, 0xbf] {
        let body = [0u8, 1, b'k', bad, 0, 0, 0, 0];
        let err = values(&rdb(9, &body)).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::BadLength { .. }), "{err}");
        assert_eq!(err.offset(), 12);
    }
}

#[test]
fn integer_encoded_strings() {
    for (enc, want) in [
        (vec![0xc0, 0x80], "-128"),
        (vec![0xc0, 0x7f], "127"),
        (vec![0xc1, 0x00, 0x80], "-32768"),
        (vec![0xc2, 0xff, 0xff, 0xff, 0x7f], "2147483647"),
        (vec![0xc2, 0x00, 0x00, 0x00, 0x80], "-2147483648"),
    ] {
        let mut body = vec![0u8, 1, b'k'];
        body.extend(&enc);
        assert_eq!(
            values(&rdb(9, &body)).unwrap(),
            vec![want.as_bytes().to_vec()]
        );
    }
    let body = [0u8, 1, b'k', 0xc4, 0];
    let err = values(&rdb(9, &body)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BadStringEncoding { byte: 0xc4 }),
        "{err}"
    );
}

#[test]
fn limits_stop_huge_lengths_before_allocating() {
    let limits = Limits {
        max_string_len: 1000,
        ..Limits::default()
    };
    let f = rdb(9, &string_key(b"k", 1001));
    let mut p = Parser::with_limits(f.as_slice(), limits);
    let err = loop {
        match p.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("accepted"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err.kind(), ErrorKind::LimitExceeded { value: 1001, .. }),
        "{err}"
    );
    // A claimed 2^60-byte string in a small file is refused, not allocated.
    let mut body = vec![0u8, 1, b'k'];
    body.extend(len(1 << 60));
    let err = values(&rdb(9, &body)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::LimitExceeded { .. }),
        "{err}"
    );
}

#[test]
fn zset_nan_and_duplicates_are_corrupt() {
    // Type 3 zset with score byte 253 = NaN.
    let body = [3u8, 1, b'z', 1, 1, b'm', 253];
    let err = values(&rdb(9, &body)).unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");
    // Type 2 set with a duplicate member.
    let body = [2u8, 1, b's', 2, 1, b'a', 1, b'a'];
    let err = values(&rdb(9, &body)).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    // The second member starts at 9 (header) + 4 (type, key) + 2 (first member).
    assert_eq!(err.offset(), 15);
}

#[test]
fn checksum_rules() {
    let mut f = rdb(9, &string_key(b"k", 3));
    let n = f.len();
    f[n - 12] ^= 1; // a value byte
    let err = values(&f).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ChecksumMismatch { .. }),
        "{err}"
    );
    // Stored 0 = checksum disabled.
    let n = f.len();
    f[n - 8..].fill(0);
    assert!(values(&f).is_ok());
    // RDB 4 has no checksum at all.
    let mut old = b"REDIS0004".to_vec();
    old.extend(string_key(b"k", 2));
    old.push(0xff);
    assert_eq!(values(&old).unwrap(), vec![b"vv".to_vec()]);
}

#[test]
fn int_keys_are_integers() {
    let body = [0u8, 0xc0, 7, 1, b'x'];
    let f = rdb(9, &body);
    let mut p = Parser::new(f.as_slice());
    let mut seen = false;
    while let Some(ev) = p.next_event().unwrap() {
        if let Event::KeyStart(info) = ev {
            assert_eq!(info.key, Str::Int(7));
            seen = true;
        }
    }
    assert!(seen);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes: an error or events, never a panic; and after a valid header, each byte
    /// change of a real file is either still valid or reported with an offset inside the file.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut input = b"REDIS0011".to_vec();
        input.extend_from_slice(&data);
        let (_, err) = events(input.as_slice());
        if let Some(e) = err {
            prop_assert!(e.offset() <= input.len() as u64);
        }
    }

    #[test]
    fn flipped_bytes_are_caught_in_bounds(pos in 9usize..2000, bit in 0u8..8) {
        let data = std::fs::read(testdata().join("rdb/redis-7.0.15/mixed_all.rdb")).unwrap();
        let pos = pos.min(data.len() - 1);
        let mut d = data.clone();
        d[pos] ^= 1 << bit;
        let (_, err) = events(d.as_slice());
        // The CRC covers every byte, so a flip is always detected somewhere.
        let e = err.expect("flipped byte not detected");
        prop_assert!(e.offset() <= d.len() as u64);
    }
}

/// Per key: its KeyStart as text and its element count, with values reported or skipped.
fn key_summaries(data: &[u8], skip: bool) -> Vec<(String, u64)> {
    summaries(data, skip, false, true)
}

/// [`key_summaries`], with the blobs checked aside or not, and the longest entry of each key
/// (not known of a blob checked aside) given only when `longest`.
fn summaries(data: &[u8], skip: bool, aside: bool, longest: bool) -> Vec<(String, u64)> {
    let mut p = Parser::new(data);
    p.skip_values(skip);
    p.check_blobs_aside(aside);
    let mut out = Vec::new();
    let mut start = String::new();
    let mut counted = 0u64;
    while let Some(ev) = p.next_event().unwrap() {
        match ev {
            Event::KeyStart(mut info) => {
                if !longest {
                    info.max_element = None;
                }
                start = format!("{info:?}");
                counted = 0;
            }
            Event::Element(_)
            | Event::ZMember { .. }
            | Event::HashField { .. }
            | Event::StreamEntry { .. }
            | Event::ArrayElement { .. } => {
                assert!(!skip, "element event while skipping values");
                counted += 1;
            }
            Event::KeyEnd => {
                if !skip {
                    assert_eq!(counted, p.key_elements(), "{start}");
                }
                out.push((start.clone(), p.key_elements()));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn skipping_values_keeps_keys_counts_and_verdicts() {
    for f in rdb_files() {
        let data = std::fs::read(&f).unwrap();
        assert_eq!(
            key_summaries(&data, false),
            key_summaries(&data, true),
            "{}",
            f.display()
        );
    }
    // Corrupt files fail the same way in both modes.
    for e in std::fs::read_dir(testdata().join("corrupt")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rdb") {
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        let run = |skip: bool| {
            let mut parser = Parser::new(data.as_slice());
            parser.skip_values(skip);
            parser
                .read_to_end()
                .err()
                .map(|e| (e.offset(), e.is_truncation()))
        };
        assert_eq!(run(false), run(true), "{}", p.display());
    }
}

#[test]
fn blobs_checked_aside_keep_keys_counts_and_verdicts() {
    for f in rdb_files() {
        let data = std::fs::read(&f).unwrap();
        assert_eq!(
            summaries(&data, true, true, false),
            summaries(&data, true, false, false),
            "{}",
            f.display()
        );
    }
}

/// How a parse ends when its errors pass through `settle`, as `drive` does: its error's offset
/// and text, or `None` when the file is read whole.
fn verdict(data: &[u8], aside: bool, limits: Limits) -> Option<(u64, String)> {
    let mut p = Parser::with_limits(data, limits);
    p.skip_values(true);
    p.check_blobs_aside(aside);
    p.read_to_end().err().map(|e| (e.offset(), e.to_string()))
}

/// Each byte changed in turn (the checksum not checked, so that only the structure can tell):
/// a file with blobs checked aside fails exactly when the inline check fails, and either with
/// the same error or with the signal to read it again. Some changes must be caught by the
/// thread: the test proves it checks.
#[test]
fn a_damaged_blob_checked_aside_is_never_missed() {
    let limits = Limits {
        verify_checksum: false,
        ..Limits::default()
    };
    let mut aside_faults = 0;
    for name in [
        "mixed_all.rdb",
        "list_quicklist_compressed.rdb",
        "hash_listpack.rdb",
    ] {
        let data = std::fs::read(testdata().join("rdb/redis-7.0.15").join(name)).unwrap();
        for pos in (9..data.len() - 9).step_by(3) {
            for flip in [0x01u8, 0x80] {
                let mut d = data.clone();
                d[pos] ^= flip;
                let inline = verdict(&d, false, limits.clone());
                let aside = verdict(&d, true, limits.clone());
                match (&inline, &aside) {
                    (None, None) => {}
                    (Some(_), Some((_, text))) if text.contains("second thread") => {
                        aside_faults += 1
                    }
                    _ => assert_eq!(inline, aside, "{name}: byte {pos} ^ {flip:#x}"),
                }
            }
        }
    }
    assert!(aside_faults > 100, "only {aside_faults} faults found aside");
}
