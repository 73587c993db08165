//! Bitmaps: SETBIT, BITOP, BITFIELD, on string values.

use crate::num::{int, uint};
use crate::{text, Entry, Error, Keyspace, Value};

/// Bit offsets are below 2^32 (`proto-max-bulk-len`, 512 MB, in bits), as SETBIT and BITFIELD
/// check them.
const MAX_BITS: u64 = super::strings::PROTO_MAX_BULK_LEN * 8;

/// The `bits` bits of `s` from bit `off` (bit 0 the highest of byte 0), zero past its end.
fn get_bits(s: &[u8], off: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let bit = off + i;
        let byte = (bit / 8) as usize;
        let b = s.get(byte).map_or(0, |x| (x >> (7 - bit % 8)) & 1);
        v = (v << 1) | u64::from(b);
    }
    v
}

/// Writes the low `bits` bits of `v` at bit `off` of `s`, growing it with zero bytes.
fn set_bits(s: &mut Vec<u8>, off: u64, bits: u32, v: u64) {
    let need = ((off + bits as u64).div_ceil(8)) as usize;
    if s.len() < need {
        s.resize(need, 0);
    }
    for i in 0..bits as u64 {
        let bit = off + i;
        let byte = (bit / 8) as usize;
        let mask = 1u8 << (7 - bit % 8);
        if (v >> (bits as u64 - 1 - i)) & 1 == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
    }
}

/// BITFIELD OVERFLOW.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// Applies `value` (SET) or `current + by` (INCRBY) to a field of `bits` bits, as the server's
/// `checkSignedBitfieldOverflow` / `checkUnsignedBitfieldOverflow` do; `None` when FAIL refuses.
fn field_result(signed: bool, bits: u32, current: i128, incr: i128, ow: Overflow) -> Option<u64> {
    let (min, max): (i128, i128) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let want = current + incr;
    let v = if want > max || want < min {
        match ow {
            Overflow::Fail => return None,
            Overflow::Sat => {
                if want > max {
                    max
                } else {
                    min
                }
            }
            Overflow::Wrap => want.rem_euclid(1i128 << bits),
        }
    } else {
        want
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    Some((v as u64) & mask)
}

/// A BITOP operation.
#[derive(Clone, Copy)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// The result of BITOP `op` over `srcs`, as `bitopCommand` (bitops.c) computes it: as long as
/// the longest source, a shorter source (or a missing key, empty) read as zero bytes past its
/// end. Only the result is allocated.
fn bitop_result(op: BitOp, srcs: &[&[u8]]) -> Vec<u8> {
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    let Some((first, rest)) = srcs.split_first() else {
        return out;
    };
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => {
            for (o, s) in out.iter_mut().zip(*first) {
                *o = !s;
            }
        }
        BitOp::And => {
            for s in rest {
                for (o, s) in out.iter_mut().zip(*s) {
                    *o &= s;
                }
                // Past its end a source is zero bytes.
                out[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in rest {
                for (o, s) in out.iter_mut().zip(*s) {
                    *o |= s;
                }
            }
        }
        BitOp::Xor => {
            for s in rest {
                for (o, s) in out.iter_mut().zip(*s) {
                    *o ^= s;
                }
            }
        }
    }
    out
}

impl Keyspace {
    /// The string at `key` to change, created empty when missing.
    fn string_mut(&mut self, key: &[u8], name: &str) -> Result<&mut Vec<u8>, Error> {
        let db = self.db_mut();
        let e = db.get_or_insert_with(key, || Entry {
            value: Value::Str(Vec::new()),
            expire_ms: None,
        });
        match &mut e.value {
            Value::Str(s) => Ok(s),
            other => Err(Error::WrongType(format!(
                "{name} on a {}",
                other.type_name()
            ))),
        }
    }

    /// SETBIT key offset 0 | 1.
    pub(crate) fn setbit(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() != 4 {
            return Err(Error::Syntax("SETBIT key offset value".into()));
        }
        let off = int(a[2])?;
        if off < 0 || off as u64 >= MAX_BITS {
            return Err(Error::Syntax("SETBIT offset".into()));
        }
        let bit = match a[3] {
            b"0" => 0,
            b"1" => 1,
            _ => return Err(Error::Syntax("SETBIT value".into())),
        };
        let s = self.string_mut(a[1], "SETBIT")?;
        set_bits(s, off as u64, 1, bit);
        Ok(())
    }

    /// BITOP AND | OR | XOR | NOT destination key...: the result without a TTL, or the
    /// destination deleted when it is empty.
    pub(crate) fn bitop(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("BITOP op dest key...".into()));
        }
        let op = a[1].to_ascii_uppercase();
        let op = match op.as_slice() {
            b"AND" => BitOp::And,
            b"OR" => BitOp::Or,
            b"XOR" => BitOp::Xor,
            b"NOT" if a.len() == 4 => BitOp::Not,
            b"NOT" => {
                return Err(Error::Syntax(
                    "BITOP NOT must be called with a single source key".into(),
                ))
            }
            _ => return Err(Error::Unknown(format!("BITOP {}", text(&op)))),
        };
        let out = {
            // The sources are read in place: a key named many times costs nothing more.
            let mut srcs: Vec<&[u8]> = Vec::with_capacity(a.len() - 3);
            for k in &a[3..] {
                srcs.push(self.string_value(k, "BITOP")?.unwrap_or_default());
            }
            bitop_result(op, &srcs)
        };
        let db = self.db_mut();
        if out.is_empty() {
            db.remove(a[2]);
        } else {
            db.insert(
                a[2],
                Entry {
                    value: Value::Str(out),
                    expire_ms: None,
                },
            );
        }
        Ok(())
    }

    /// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
    /// [OVERFLOW WRAP | SAT | FAIL]...
    pub(crate) fn bitfield(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 2 {
            return Err(Error::Syntax("BITFIELD key".into()));
        }
        let mut ow = Overflow::Wrap;
        let mut i = 2;
        // Parse every operation first: a bad one fails the whole command.
        let mut ops: Vec<(bool, bool, u32, u64, i64, Overflow)> = Vec::new(); // (incr, signed, bits, off, v, ow)
        while i < a.len() {
            let op = a[i].to_ascii_uppercase();
            match op.as_slice() {
                b"OVERFLOW" => {
                    ow = match a.get(i + 1).map(|x| x.to_ascii_uppercase()).as_deref() {
                        Some(b"WRAP") => Overflow::Wrap,
                        Some(b"SAT") => Overflow::Sat,
                        Some(b"FAIL") => Overflow::Fail,
                        _ => return Err(Error::Syntax("BITFIELD OVERFLOW".into())),
                    };
                    i += 2;
                }
                b"GET" => i += 3,
                b"SET" | b"INCRBY" => {
                    let (Some(t), Some(o), Some(v)) = (a.get(i + 1), a.get(i + 2), a.get(i + 3))
                    else {
                        return Err(Error::Syntax("BITFIELD operation".into()));
                    };
                    let signed = match t.first() {
                        Some(b'i') | Some(b'I') => true,
                        Some(b'u') | Some(b'U') => false,
                        _ => return Err(Error::Syntax("BITFIELD type".into())),
                    };
                    let bits: u32 = text(&t[1..])
                        .parse()
                        .map_err(|_| Error::Syntax("BITFIELD type".into()))?;
                    if bits == 0 || (signed && bits > 64) || (!signed && bits > 63) {
                        return Err(Error::Syntax("BITFIELD type".into()));
                    }
                    let off = match o.strip_prefix(b"#") {
                        Some(n) => uint(n)?.saturating_mul(bits as u64),
                        None => uint(o)?,
                    };
                    // The server bounds where a field starts (`getBitOffsetFromArgument`):
                    // the last one may end up to 64 bits past 2^32.
                    if off >= MAX_BITS {
                        return Err(Error::Syntax("BITFIELD offset".into()));
                    }
                    ops.push((op.as_slice() == b"INCRBY", signed, bits, off, int(v)?, ow));
                    i += 4;
                }
                _ => return Err(Error::Syntax(format!("BITFIELD {}", text(&op)))),
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let s = self.string_mut(a[1], "BITFIELD")?;
        // The server first grows the string to the last field written, even when OVERFLOW
        // FAIL then skips that write.
        let end = ops.iter().map(|o| o.3 + u64::from(o.2)).max().unwrap_or(0);
        if (s.len() as u64) < end.div_ceil(8) {
            s.resize(end.div_ceil(8) as usize, 0);
        }
        for (incr, signed, bits, off, v, ow) in ops {
            let raw = get_bits(s, off, bits);
            let current: i128 = if signed && bits < 64 && raw >> (bits - 1) & 1 == 1 {
                raw as i128 - (1i128 << bits)
            } else if signed && bits == 64 {
                raw as i64 as i128
            } else {
                raw as i128
            };
            let result = if incr {
                field_result(signed, bits, current, v as i128, ow)
            } else {
                // SET: the new value, checked (and wrapped or saturated) like an increment
                // from zero; an unsigned field reads it as unsigned (-1 is 2^64 - 1).
                let v = if signed { v as i128 } else { v as u64 as i128 };
                field_result(signed, bits, 0, v, ow)
            };
            if let Some(r) = result {
                set_bits(s, off, bits, r);
            }
        }
        Ok(())
    }
}
