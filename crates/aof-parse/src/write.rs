//! The write half of the reader: RESP commands and `#TS` annotations as a server logs them,
//! appended to a buffer. What [`crate::AofReader`] reads back from these is what was written
//! (round-trip tested).

/// Appends `<kind><n>\r\n`: an array header (`*`) or a bulk-string header (`$`).
#[inline]
pub fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    // Most lengths have one or two digits.
    if n < 10 {
        out.extend_from_slice(&[kind, b'0' + n as u8, b'\r', b'\n']);
    } else if n < 100 {
        out.extend_from_slice(&[
            kind,
            b'0' + (n / 10) as u8,
            b'0' + (n % 10) as u8,
            b'\r',
            b'\n',
        ]);
    } else {
        out.push(kind);
        let mut digits = [0u8; 20];
        let d = rdb_parse::format_i64(n as i64, &mut digits);
        out.extend_from_slice(d);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends one bulk string: `$<len>\r\n<bytes>\r\n`.
#[inline]
pub fn bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.reserve(a.len() + 16);
    header(out, b'$', a.len());
    out.extend_from_slice(a);
    out.push(b'\r');
    out.push(b'\n');
}

/// Appends one command: the array header, then each argument as a bulk string.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    header(out, b'*', args.len());
    for a in args {
        bulk(out, a);
    }
}

/// Appends a `#TS:<unix-seconds>` restore point, as the server writes it before the first
/// command of a new second.
pub fn timestamp(out: &mut Vec<u8>, unix_secs: u64) {
    out.extend_from_slice(b"#TS:");
    out.extend_from_slice(unix_secs.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AofReader, Item};
    use proptest::prelude::*;

    proptest! {
        /// Whatever is written reads back as the same commands and restore points, in order,
        /// with the offsets where they were written.
        #[test]
        fn written_commands_read_back(
            log in proptest::collection::vec(
                prop_oneof![
                    (0u64..4_000_000_000).prop_map(Err),
                    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20).prop_map(Ok),
                ],
                0..30,
            )
        ) {
            let mut out = Vec::new();
            let mut offsets = Vec::new();
            for rec in &log {
                offsets.push(out.len() as u64);
                match rec {
                    Err(ts) => timestamp(&mut out, *ts),
                    Ok(args) => {
                        let a: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        command(&mut out, &a);
                    }
                }
            }
            let mut r = AofReader::new(&out[..]);
            for (rec, at) in log.iter().zip(&offsets) {
                match (rec, r.next_item().unwrap()) {
                    (Err(ts), Some(Item::Timestamp { unix_secs, offset, .. })) => {
                        prop_assert_eq!(unix_secs, *ts);
                        prop_assert_eq!(offset, *at);
                    }
                    (Ok(args), Some(Item::Command(c))) => {
                        let got: Vec<&[u8]> = c.args().collect();
                        let want: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        prop_assert_eq!(got, want);
                        prop_assert_eq!(c.offset, *at);
                    }
                    (want, got) => prop_assert!(false, "{:?} read back as {:?}", want, got),
                }
            }
            prop_assert!(r.next_item().unwrap().is_none());
        }
    }

    #[test]
    fn headers() {
        for n in [0usize, 9, 10, 99, 100, 12345] {
            let mut v = Vec::new();
            header(&mut v, b'*', n);
            assert_eq!(v, format!("*{n}\r\n").into_bytes());
        }
    }
}
