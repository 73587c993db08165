//! LZF decompression (the format of Redis's `lzf_d.c`), with every bound checked.

/// Decompresses `input` into `out`, which is cleared and filled with exactly `expected_len` bytes.
///
/// Errors (as a short reason) when the data reads past its end, writes past `expected_len`,
/// refers before the start of the output, or produces fewer than `expected_len` bytes.
pub fn decompress(
    input: &[u8],
    expected_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    out.clear();
    out.reserve(expected_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if ip + run > input.len() {
                return Err("literal run reads past the end of the input");
            }
            if out.len() + run > expected_len {
                return Err("output longer than the declared length");
            }
            out.extend_from_slice(&input[ip..ip + run]);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&b) = input.get(ip) else {
                    return Err("back reference reads past the end of the input");
                };
                len += b as usize;
                ip += 1;
            }
            let Some(&b) = input.get(ip) else {
                return Err("back reference reads past the end of the input");
            };
            ip += 1;
            let off = ((ctrl & 0x1f) << 8) + b as usize + 1;
            let len = len + 2;
            if off > out.len() {
                return Err("back reference before the start of the output");
            }
            if out.len() + len > expected_len {
                return Err("output longer than the declared length");
            }
            let start = out.len() - off;
            if off >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: the source grows as we write, byte by byte.
                for i in 0..len {
                    let byte = out[start + i];
                    out.push(byte);
                }
            }
        }
    }
    if out.len() != expected_len {
        return Err("output shorter than the declared length");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_backref() {
        // "aaaaaaaaaa": literal 'a', then a back reference of length 9 at offset 1.
        let data = [0x00, b'a', 0xe0, 0x00, 0x00];
        let mut out = Vec::new();
        decompress(&data, 10, &mut out).unwrap();
        assert_eq!(out, b"aaaaaaaaaa");
    }

    #[test]
    fn rejects_bad_streams() {
        let mut out = Vec::new();
        assert!(decompress(&[0x05, b'a'], 6, &mut out).is_err());
        assert!(decompress(&[0x20, 0x00], 3, &mut out).is_err());
        assert!(decompress(&[0x00, b'a'], 2, &mut out).is_err());
        assert!(decompress(&[0x01, b'a', b'b'], 1, &mut out).is_err());
        assert!(decompress(&[0x00, b'a', 0xe0], 10, &mut out).is_err());
    }
}
