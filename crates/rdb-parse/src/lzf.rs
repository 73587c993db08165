//! LZF decompression (the format of Redis's `lzf_d.c`), with every bound checked.

/// Decompresses `input` into `out`, which is cleared and filled with exactly `expected_len` bytes.
///
/// Errors (as a short reason) when the data reads past its end, writes past `expected_len`,
/// refers before the start of the output, or produces fewer than `expected_len` bytes.
///
/// `out` is used as scratch space: its length may end up larger than `expected_len` (it only
/// grows, so it is not zero-filled again each time); the result is `out[..expected_len]`.
pub fn decompress(
    input: &[u8],
    expected_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    if out.len() < expected_len {
        out.resize(expected_len, 0);
    }
    let n = decompress_into(input, &mut out[..expected_len])?;
    if n != expected_len {
        return Err("output shorter than the declared length");
    }
    Ok(())
}

/// Decompresses `input` into `out`, returning the number of bytes written. Fails if the output
/// would not fit in `out`.
pub fn decompress_into(input: &[u8], out: &mut [u8]) -> Result<usize, &'static str> {
    let mut ip = 0usize;
    let mut op = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if ip + run > input.len() {
                return Err("literal run reads past the end of the input");
            }
            if op + run > out.len() {
                return Err("output longer than the declared length");
            }
            if run <= 16 && ip + 16 <= input.len() && op + 16 <= out.len() {
                // A fixed 16-byte copy (one move) beats a call to memcpy; the bytes past `run`
                // are overwritten by what follows.
                out[op..op + 16].copy_from_slice(&input[ip..ip + 16]);
            } else {
                out[op..op + run].copy_from_slice(&input[ip..ip + run]);
            }
            ip += run;
            op += run;
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
            if off > op {
                return Err("back reference before the start of the output");
            }
            if op + len > out.len() {
                return Err("output longer than the declared length");
            }
            let start = op - off;
            if len <= 16 && off >= 16 && op + 16 <= out.len() {
                // Source and destination 16 bytes apart at least: one fixed-size move.
                let (head, tail) = out.split_at_mut(op);
                tail[..16].copy_from_slice(&head[start..start + 16]);
            } else if len <= 16 {
                // Short references, overlapping or not: byte by byte, in order.
                for i in 0..len {
                    out[op + i] = out[start + i];
                }
            } else if off >= 16 && op + len + 16 <= out.len() {
                // Far enough apart: 16-byte moves, the last one spilling past `len` into
                // bytes that later tokens overwrite.
                let mut k = 0;
                while k < len {
                    let (head, tail) = out.split_at_mut(op + k);
                    tail[..16].copy_from_slice(&head[start + k..start + k + 16]);
                    k += 16;
                }
            } else if off >= len {
                out.copy_within(start..start + len, op);
            } else {
                // Overlapping: the output repeats with period `off`. Copy what is already
                // written from `start`, doubling the chunk each time.
                let mut done = 0;
                while done < len {
                    let chunk = (op + done - start).min(len - done);
                    out.copy_within(start..start + chunk, op + done);
                    done += chunk;
                }
            }
            op += len;
        }
    }
    Ok(op)
}

/// Decompresses the first `out.len()` bytes of `input` at most (a blob's header), without
/// checking the rest; returns how many were written.
pub fn decompress_head(input: &[u8], out: &mut [u8]) -> usize {
    let mut ip = 0usize;
    let mut op = 0usize;
    while ip < input.len() && op < out.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            for _ in 0..=ctrl {
                let (Some(&b), true) = (input.get(ip), op < out.len()) else {
                    return op;
                };
                out[op] = b;
                ip += 1;
                op += 1;
            }
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&b) = input.get(ip) else { return op };
                len += b as usize;
                ip += 1;
            }
            let Some(&b) = input.get(ip) else { return op };
            ip += 1;
            let off = ((ctrl & 0x1f) << 8) + b as usize + 1;
            if off > op {
                return op;
            }
            for _ in 0..len + 2 {
                if op == out.len() {
                    return op;
                }
                out[op] = out[op - off];
                op += 1;
            }
        }
    }
    op
}

/// Checks that `input` decompresses to exactly `expected_len` bytes, without writing them: the
/// same rules as [`decompress`], at the cost of reading the control bytes only.
pub fn validate(input: &[u8], expected_len: usize) -> Result<(), &'static str> {
    let mut ip = 0usize;
    let mut op = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            ip += ctrl + 1;
            op += ctrl + 1;
            if ip > input.len() {
                return Err("literal run reads past the end of the input");
            }
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
            if off > op {
                return Err("back reference before the start of the output");
            }
            op += len + 2;
        }
        if op > expected_len {
            return Err("output longer than the declared length");
        }
    }
    if op != expected_len {
        return Err("output shorter than the declared length");
    }
    Ok(())
}

/// A naive decoder kept as the test oracle for the fast one.
#[cfg(test)]
fn decompress_naive(input: &[u8], expected_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            for _ in 0..=ctrl {
                out.push(*input.get(ip)?);
                ip += 1;
            }
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let off = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            for _ in 0..len + 2 {
                let b = *out.get(out.len().checked_sub(off)?)?;
                out.push(b);
            }
        }
        if out.len() > expected_len {
            return None;
        }
    }
    (out.len() == expected_len).then_some(out)
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
    fn fast_decoder_agrees_with_the_naive_one() {
        // Deterministic pseudo-random streams, many of them valid, most of them not.
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = Vec::new();
        for _ in 0..200_000 {
            let n = (next() % 24) as usize;
            let mut input: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            if next() % 2 == 0 && !input.is_empty() {
                input[0] %= 32; // start with a literal run more often
            }
            let expected = (next() % 64) as usize;
            let naive = decompress_naive(&input, expected);
            let fast = decompress(&input, expected, &mut out)
                .ok()
                .map(|_| out[..expected].to_vec());
            assert_eq!(naive, fast, "input {input:02x?} expected {expected}");
            assert_eq!(
                validate(&input, expected).is_ok(),
                naive.is_some(),
                "validate {input:02x?}"
            );
            // The head of a sound stream is the start of its output.
            if let Some(whole) = &naive {
                let mut head = [0u8; 10];
                let n = decompress_head(&input, &mut head);
                assert_eq!(n, whole.len().min(10), "head of {input:02x?}");
                assert_eq!(&head[..n], &whole[..n], "head of {input:02x?}");
            }
        }
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
