//! The AOF reader on hand-made and real inputs: framing, offsets, transactions, torn tails,
//! the RDB preamble, and the same items whatever the read sizes.

use aof_parse::{AofReader, ErrorKind, Item, Limits};
use std::io::Read;
use std::path::Path;

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// A small AOF: SELECT, a timestamp, SET, a transaction, another timestamp, a binary SET.
fn sample() -> (Vec<u8>, Vec<u64>) {
    let parts: Vec<Vec<u8>> = vec![
        cmd(&[b"SELECT", b"0"]),
        b"#TS:1700000000\r\n".to_vec(),
        cmd(&[b"SET", b"k", b"v"]),
        cmd(&[b"MULTI"]),
        cmd(&[b"INCR", b"n"]),
        cmd(&[b"EXEC"]),
        b"#TS:1700000005\r\n".to_vec(),
        b"# a note\n".to_vec(),
        cmd(&[b"set", b"bin\x00\xff", b"\r\n*$#"]),
    ];
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for p in parts {
        data.extend(p);
        ends.push(data.len() as u64);
    }
    (data, ends)
}

fn items<R: Read>(r: R) -> (Vec<String>, Option<aof_parse::Error>, u64) {
    let mut rd = AofReader::new(r);
    let mut out = Vec::new();
    loop {
        match rd.next_item() {
            Ok(Some(it)) => out.push(format!("{it:?}")),
            Ok(None) => return (out, None, rd.last_good_offset()),
            Err(e) => return (out, Some(e), rd.last_good_offset()),
        }
    }
}

struct Chunked<'a> {
    data: &'a [u8],
    n: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.n.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn reads_every_record_with_offsets() {
    let (data, ends) = sample();
    let (its, err, last) = items(data.as_slice());
    assert!(err.is_none());
    assert_eq!(its.len(), 9);
    assert!(
        its[1].contains("Timestamp { unix_secs: 1700000000, offset: 23, len: 16 }"),
        "{its:?}"
    );
    assert!(its[7].contains("Annotation"), "{its:?}");
    assert!(
        its[8].contains(r#"["set" "bin\x00\xff" "\x0d\x0a*$#"]"#),
        "{its:?}"
    );
    assert_eq!(last, *ends.last().unwrap());
    for n in [1, 2, 3, 7, 64] {
        let (chunked, err, _) = items(Chunked { data: &data, n });
        assert!(err.is_none());
        assert_eq!(chunked, its, "read size {n}");
    }
}

#[test]
fn every_cut_is_clean_or_a_torn_tail_with_the_right_cut_offset() {
    let (data, ends) = sample();
    let multi = ends[2]; // MULTI starts where SET ends
    let exec_end = ends[5];
    for cut in 0..data.len() {
        let (_, err, last) = items(&data[..cut]);
        let at_boundary = cut == 0 || ends.contains(&(cut as u64));
        let boundary = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut as u64)
            .max()
            .unwrap_or(0);
        let in_multi = boundary >= multi && boundary < exec_end;
        let want = if in_multi { multi } else { boundary };
        assert_eq!(last, want, "cut at {cut}");
        match err {
            None => assert!(at_boundary, "cut at {cut}: no error mid-record"),
            Some(e) => {
                assert!(e.is_truncation(), "cut at {cut}: {e}");
                assert_eq!(e.offset(), cut as u64);
            }
        }
    }
}

#[test]
fn format_errors_name_the_offset() {
    let (mut data, ends) = sample();
    // Garbage in the middle.
    let mut bad = data.clone();
    bad[ends[2] as usize] = b'x';
    let (_, err, last) = items(bad.as_slice());
    let e = err.unwrap();
    assert!(matches!(e.kind(), ErrorKind::Format { .. }), "{e}");
    assert_eq!(e.offset(), ends[2]);
    assert_eq!(last, ends[2]);
    // A zero-filled tail after power loss.
    data.extend(std::iter::repeat_n(0u8, 4096));
    let (_, err, last) = items(data.as_slice());
    let e = err.unwrap();
    assert!(e.to_string().contains("found byte 0x00"), "{e}");
    assert_eq!(e.offset(), *ends.last().unwrap());
    assert_eq!(last, *ends.last().unwrap());
    // A bulk not followed by CRLF.
    let bad = b"*1\r\n$3\r\nPINGX\r\n".to_vec();
    let e = items(bad.as_slice()).1.unwrap();
    assert!(
        e.to_string()
            .contains("expected \\r\\n after a 3-byte argument"),
        "{e}"
    );
    assert_eq!(e.offset(), 11);
    // Non-numeric count, empty command.
    assert!(items(&b"*x\r\n"[..])
        .1
        .unwrap()
        .to_string()
        .contains("not a number"));
    assert!(items(&b"*0\r\n"[..])
        .1
        .unwrap()
        .to_string()
        .contains("zero arguments"));
    // A bad timestamp.
    let e = items(&b"#TS:12a\r\n"[..]).1.unwrap();
    assert!(e.to_string().contains("invalid timestamp"), "{e}");
}

#[test]
fn transactions_are_checked() {
    let mut d = cmd(&[b"EXEC"]);
    let e = items(d.as_slice()).1.unwrap();
    assert!(matches!(e.kind(), ErrorKind::Transaction { .. }), "{e}");
    d = [cmd(&[b"MULTI"]), cmd(&[b"multi"])].concat();
    let e = items(d.as_slice()).1.unwrap();
    assert_eq!(e.offset(), 15);
    // A complete file that ends inside MULTI: no error, but the cut is before the MULTI.
    let d = [
        cmd(&[b"SET", b"a", b"1"]),
        cmd(&[b"MULTI"]),
        cmd(&[b"SET", b"b", b"2"]),
    ]
    .concat();
    let mut r = AofReader::new(d.as_slice());
    while r.next_item().unwrap().is_some() {}
    assert_eq!(r.open_multi(), Some(27));
    assert_eq!(r.last_good_offset(), 27);
}

#[test]
fn huge_lengths_do_not_allocate() {
    let d = b"*1\r\n$1073741824\r\nabc".to_vec();
    let e = items(d.as_slice()).1.unwrap();
    assert!(e.is_truncation(), "{e}");
    let mut r = AofReader::with_limits(
        &b"*1\r\n$2000\r\n"[..],
        Limits {
            max_bulk_len: 1000,
            ..Limits::default()
        },
    );
    let e = r.next_item().unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::LimitExceeded { value: 2000, .. }),
        "{e}"
    );
    let e = items(&b"*99999999999999999999\r\n"[..]).1.unwrap();
    assert!(matches!(e.kind(), ErrorKind::Format { .. }), "{e}");
}

#[test]
fn rdb_preamble_then_resp() {
    let rdb = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rdb/redis-7.0.15/mixed_all.rdb"),
    )
    .unwrap();
    let tail = cmd(&[b"SET", b"after", b"rdb"]);
    let data = [rdb.clone(), tail.clone()].concat();
    for n in [1usize, 5, 100, 1 << 20] {
        let mut r = AofReader::new(Chunked { data: &data, n });
        assert!(matches!(r.next_item().unwrap(), Some(Item::Preamble)));
        // Drive the RDB ourselves and count its keys.
        let mut keys = 0;
        while let Some(ev) = r.rdb().unwrap().next_event().unwrap() {
            keys += matches!(ev, rdb_parse::Event::KeyStart(_)) as u32;
        }
        assert!(keys > 10);
        match r.next_item().unwrap() {
            Some(Item::PreambleEnd { end }) => assert_eq!(end, rdb.len() as u64),
            other => panic!("{other:?}"),
        }
        match r.next_item().unwrap() {
            Some(Item::Command(c)) => {
                assert_eq!(c.offset, rdb.len() as u64);
                assert_eq!(c.arg(1), Some(&b"after"[..]));
            }
            other => panic!("read size {n}: {other:?}"),
        }
        assert!(r.next_item().unwrap().is_none());
        assert_eq!(r.last_good_offset(), data.len() as u64);
    }
    // Without driving the RDB, the reader walks it itself; a corrupt preamble is an RDB error.
    let mut bad = data.clone();
    bad[rdb.len() - 3] ^= 0xff; // inside the CRC
    let mut r = AofReader::new(bad.as_slice());
    r.next_item().unwrap();
    let e = r.next_item().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Rdb(_)), "{e}");
}

/// The offset, length, argument count and name of each record, the error and the last good
/// offset, reading with `keep_args(keep)` or not.
fn shapes(data: &[u8], keep: Option<usize>, chunk: usize) -> (Vec<String>, Option<String>, u64) {
    let mut rd = AofReader::new(Chunked { data, n: chunk });
    if let Some(k) = keep {
        rd.keep_args(k);
    }
    let mut out = Vec::new();
    loop {
        match rd.next_item() {
            Ok(Some(Item::Command(c))) => out.push(format!(
                "{}+{} {} {:?}",
                c.offset,
                c.len,
                c.argc(),
                c.name()
            )),
            Ok(Some(it)) => out.push(format!("{it:?}")),
            Ok(None) => return (out, None, rd.last_good_offset()),
            Err(e) => return (out, Some(e.to_string()), rd.last_good_offset()),
        }
    }
}

/// Keeping only the names gives the same records, errors and cut offsets as keeping every
/// argument, on every prefix of the sample and of damaged copies, whatever the read sizes; the
/// arguments not kept are empty.
#[test]
fn keeping_only_names_reads_the_same_records() {
    let (data, ends) = sample();
    let mut inputs = vec![data.clone()];
    let mut bad = data.clone();
    bad[ends[2] as usize + 9] = b'!'; // inside the MULTI's argument: no CRLF where one must be
    inputs.push(bad);
    let mut big = cmd(&[b"SET", b"k", &vec![b'x'; 300_000]]);
    big.extend(cmd(&[b"APPEND", b"k", b"y"]));
    inputs.push(big);
    for input in &inputs {
        let cuts: Vec<usize> = if input.len() > 1000 {
            vec![0, 5, 20, 150_000, input.len() - 3, input.len()]
        } else {
            (0..=input.len()).collect()
        };
        for cut in cuts {
            for chunk in [1, 7, 1 << 20] {
                let part = &input[..cut];
                let all = shapes(part, None, chunk);
                assert_eq!(shapes(part, Some(1), chunk), all, "cut {cut} chunk {chunk}");
                assert_eq!(shapes(part, Some(2), chunk), all, "cut {cut} chunk {chunk}");
            }
        }
    }
    let mut rd = AofReader::new(&inputs[2][..]);
    rd.keep_args(2);
    let Ok(Some(Item::Command(c))) = rd.next_item() else {
        panic!("a command")
    };
    assert_eq!(
        (c.arg(1), c.arg(2), c.argc()),
        (Some(&b"k"[..]), Some(&b""[..]), 3)
    );
}
