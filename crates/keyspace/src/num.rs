//! Numbers in command arguments, read as the server reads them. One scanner, [`strtod`]
//! (glibc's, hexadecimal floats included), under every float parser here; the parsers differ
//! only in what they refuse, each as the server function named in its doc does, so that a
//! number one of them accepts has the same value in all of them.
//!
//! | parser | mirrors | used by |
//! | --- | --- | --- |
//! | [`strtod`] | the C library's `strtod` | the parsers below |
//! | [`string2d`] | `string2d` (util.c) | GEO coordinates and radii |
//! | [`sort_weight`] | the `strtod` checks of `sortCommandGeneric` (sort.c) | SORT weights |
//! | [`float`] | `string2d`, keeping a result out of range | scores, weights, increments |
//! | [`string2ll`] | `string2ll` (util.c) | SORT and GEO counts |
//! | [`int`], [`uint`] | Rust's integer grammar | every other integer argument |

use crate::{text, Error};

// ----- C strings -----

/// The bytes before the first NUL: what the C string functions see.
pub(crate) fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(p) => &s[..p],
        None => s,
    }
}

/// `isspace` in the C locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

// ----- strtod -----

/// What the C library's `strtod` makes of the start of a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Strtod {
    /// The value (0 when no number was found).
    pub value: f64,
    /// The bytes used; 0 when no number was found.
    pub used: usize,
    /// Whether errno is ERANGE: overflow, or a result below the normal range that is not exact.
    pub erange: bool,
}

/// glibc's `strtod`: leading spaces, a sign, then a decimal number with an optional exponent,
/// a hexadecimal one (`0x1.8p3`), `inf`, `infinity` or `nan[(chars)]` in any case. The
/// longest valid prefix is used. A decimal result below the normal range is taken as inexact
/// (ERANGE), which it is unless written with hundreds of digits.
pub(crate) fn strtod(s: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        used: 0,
        erange: false,
    };
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return Strtod {
            value: sign(f64::INFINITY),
            used: i + n,
            erange: false,
        };
    }
    if starts(b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let mut k = 4;
            while k < rest.len() && (rest[k].is_ascii_alphanumeric() || rest[k] == b'_') {
                k += 1;
            }
            if rest.get(k) == Some(&b')') {
                n = k + 1;
            }
        }
        return Strtod {
            value: f64::NAN,
            used: i + n,
            erange: false,
        };
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, n, erange)) = hex_float(&rest[2..]) {
            return Strtod {
                value: sign(v),
                used: i + 2 + n,
                erange,
            };
        }
        // Only the "0" is a number.
        return Strtod {
            value: sign(0.0),
            used: i + 1,
            erange: false,
        };
    }
    // Decimal: digits [. digits] | . digits, then [e [sign] digits].
    let mut k = 0;
    let int_start = k;
    while k < rest.len() && rest[k].is_ascii_digit() {
        k += 1;
    }
    let int_digits = &rest[int_start..k];
    let mut frac_digits: &[u8] = &[];
    if k < rest.len() && rest[k] == b'.' {
        let fs = k + 1;
        let mut fe = fs;
        while fe < rest.len() && rest[fe].is_ascii_digit() {
            fe += 1;
        }
        if !int_digits.is_empty() || fe > fs {
            frac_digits = &rest[fs..fe];
            k = fe;
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return none;
    }
    let mut exp: i64 = 0;
    if k < rest.len() && (rest[k] | 0x20) == b'e' {
        let mut e = k + 1;
        let mut eneg = false;
        if e < rest.len() && (rest[e] == b'+' || rest[e] == b'-') {
            eneg = rest[e] == b'-';
            e += 1;
        }
        let ds = e;
        while e < rest.len() && rest[e].is_ascii_digit() {
            exp = (exp * 10 + i64::from(rest[e] - b'0')).min(1_000_000_000);
            e += 1;
        }
        if e > ds {
            k = e;
            if eneg {
                exp = -exp;
            }
        } else {
            exp = 0;
        }
    }
    let mut text = String::with_capacity(int_digits.len() + frac_digits.len() + 16);
    text.push_str(if int_digits.is_empty() {
        "0"
    } else {
        std::str::from_utf8(int_digits).unwrap_or("0")
    });
    text.push('.');
    text.push_str(if frac_digits.is_empty() {
        "0"
    } else {
        std::str::from_utf8(frac_digits).unwrap_or("0")
    });
    text.push('e');
    text.push_str(&exp.to_string());
    let v: f64 = text.parse().unwrap_or(0.0);
    let nonzero = int_digits
        .iter()
        .chain(frac_digits.iter())
        .any(|&d| d != b'0');
    let erange =
        v.is_infinite() || (nonzero && v == 0.0) || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    Strtod {
        value: sign(v),
        used: i + k,
        erange,
    }
}

/// 2^n for n in the normal exponent range.
fn pow2(n: i64) -> f64 {
    f64::from_bits(((1023 + n) as u64) << 52)
}

/// x * 2^n, exact when the result is representable.
fn ldexp(mut x: f64, mut n: i64) -> f64 {
    while n > 1000 {
        x *= pow2(1000);
        n -= 1000;
    }
    while n < -1000 {
        x *= pow2(-1000);
        n += 1000;
    }
    x * pow2(n)
}

/// The hexadecimal number after "0x": (value, bytes used, ERANGE), rounded to nearest even;
/// `None` when no hexadecimal digit follows.
fn hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let hex = |b: u8| (b as char).to_digit(16).map(u64::from);
    let mut k = 0;
    let mut mant: u64 = 0;
    let mut exp2: i64 = 0;
    let mut sticky = false;
    let mut digits = 0;
    while let Some(d) = s.get(k).and_then(|&b| hex(b)) {
        if mant >> 60 == 0 {
            mant = mant * 16 + d;
        } else {
            exp2 += 4;
            sticky |= d != 0;
        }
        digits += 1;
        k += 1;
    }
    if s.get(k) == Some(&b'.') {
        let mut f = k + 1;
        let mut frac = 0;
        while let Some(d) = s.get(f).and_then(|&b| hex(b)) {
            if mant >> 60 == 0 {
                mant = mant * 16 + d;
                exp2 -= 4;
            } else {
                sticky |= d != 0;
            }
            frac += 1;
            f += 1;
        }
        if digits > 0 || frac > 0 {
            digits += frac;
            k = f;
        }
    }
    if digits == 0 {
        return None;
    }
    if s.get(k).is_some_and(|&b| b | 0x20 == b'p') {
        let mut e = k + 1;
        let mut eneg = false;
        if e < s.len() && (s[e] == b'+' || s[e] == b'-') {
            eneg = s[e] == b'-';
            e += 1;
        }
        let ds = e;
        let mut pexp: i64 = 0;
        while e < s.len() && s[e].is_ascii_digit() {
            pexp = (pexp * 10 + i64::from(s[e] - b'0')).min(1_000_000_000);
            e += 1;
        }
        if e > ds {
            k = e;
            exp2 += if eneg { -pexp } else { pexp };
        }
    }
    if mant == 0 {
        return Some((0.0, k, false));
    }
    let lz = i64::from(mant.leading_zeros());
    let m = mant << lz;
    let e = exp2 - lz; // value = m * 2^e, m in [2^63, 2^64)
    let top = e + 63; // exponent of the leading bit
    if top > 1023 {
        return Some((f64::INFINITY, k, true));
    }
    // Bits dropped from m: 11 for a normal result, more below the normal range.
    let drop = if top >= -1022 { 11 } else { 11 + (-1022 - top) };
    let (kept, rem_nonzero, round_up) = if drop >= 65 {
        (0u64, true, false)
    } else if drop == 64 {
        let half = m == 1 << 63;
        (0u64, true, (m > 1 << 63) || (half && sticky))
    } else {
        let kept = m >> drop;
        let rem = m & ((1u64 << drop) - 1);
        let half = 1u64 << (drop - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        (kept, rem != 0, up)
    };
    let inexact = rem_nonzero || sticky;
    let kept = kept + u64::from(round_up);
    let v = if kept == 0 {
        0.0
    } else {
        ldexp(kept as f64, e + drop)
    };
    let erange = v.is_infinite() || (top < -1022 && inexact);
    Some((v, k, erange))
}

// ----- the server's parsers -----

/// `string2ll`: a strict decimal integer (no sign but '-', no leading zero, no spaces).
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > 1 << 63 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// `string2d` (util.c, behind the server's `getDoubleFromObject`): the whole string must be a
/// number for `strtod`, not starting with a space, not NaN, and not out of range to infinity
/// or zero.
pub(crate) fn string2d(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let r = strtod(s);
    if r.used != s.len() || r.value.is_nan() {
        return None;
    }
    if r.erange && (r.value.is_infinite() || r.value == 0.0) {
        return None;
    }
    Some(r.value)
}

/// The numeric weight SORT reads from a value, with the checks `sortCommandGeneric` (sort.c)
/// makes after `strtod`: over the C string (up to the first NUL byte), which it must use all,
/// without ERANGE or NaN. Leading spaces are allowed and an empty string is 0.
pub(crate) fn sort_weight(v: &[u8]) -> Option<f64> {
    let s = c_str(v);
    let r = strtod(s);
    if r.used != s.len() || r.erange || r.value.is_nan() {
        return None;
    }
    Some(r.value)
}

/// A float argument of a write command: a score (ZADD, ZINCRBY, range ends), a weight
/// (ZUNIONSTORE, ZINTERSTORE). The server's `string2d` (through `getDoubleFromObject`), except
/// that a result out of range is kept, as an infinity or a zero, where the server refuses the
/// command: such a command is never in an AOF.
pub(crate) fn float(b: &[u8]) -> Result<f64, Error> {
    let refuse = || match std::str::from_utf8(b) {
        Ok(s) => Error::Syntax(format!("not a float: {s}")),
        Err(_) => Error::Syntax("not a float".into()),
    };
    if b.is_empty() || is_c_space(b[0]) {
        return Err(refuse());
    }
    let r = strtod(b);
    if r.used != b.len() {
        return Err(refuse());
    }
    if r.value.is_nan() {
        // `nan(chars)` is refused as not a number at all, a bare `nan` as NaN.
        return Err(if b.ends_with(b")") {
            refuse()
        } else {
            Error::Syntax("NaN".into())
        });
    }
    Ok(r.value)
}

/// An integer argument: an optional sign (`+` too), then decimal digits (leading zeros
/// allowed), within i64 (Rust's grammar). Wider than the server's [`string2ll`], which refuses
/// `+1` and `01`; a number both accept has the same value.
pub(crate) fn int(b: &[u8]) -> Result<i64, Error> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::Syntax(format!("not an integer: {}", text(b))))
}

/// An integer that must not be negative: a count, an offset, a database number.
pub(crate) fn uint(b: &[u8]) -> Result<u64, Error> {
    let n = int(b)?;
    u64::try_from(n).map_err(|_| Error::Syntax(format!("negative: {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_forms() {
        let v = |s: &str| {
            let r = strtod(s.as_bytes());
            (r.value, r.used, r.erange)
        };
        assert!(v("1e-310").2);
        assert_eq!(v("0x1p-1074"), (5e-324, 9, false));
        assert_eq!(v("0x1p-1075"), (0.0, 9, true));
        assert_eq!(v("0x1.8p-1074"), (1e-323, 11, true));
        assert_eq!(v("0x1p-1022"), (2.2250738585072014e-308, 9, false));
        assert_eq!(v("0x1.0000000000001p-1022").0, 2.225073858507202e-308);
        assert_eq!(v("1e400"), (f64::INFINITY, 5, true));
        assert_eq!(v("0x1p1024"), (f64::INFINITY, 8, true));
        assert_eq!(v("0x").1, 1);
        assert_eq!(v("0x.").1, 1);
        assert_eq!(v("0xg").1, 1);
        assert_eq!(v("nan(abc)").1, 8);
        assert_eq!(v("nan(ab").1, 3);
        assert_eq!(v("infin"), (f64::INFINITY, 3, false));
        assert_eq!(v("0x1p"), (1.0, 3, false));
        assert_eq!(v("0x1.p1"), (2.0, 6, false));
        assert_eq!(v("0x.1"), (0.0625, 4, false));
        assert_eq!(v("1e+"), (1.0, 1, false));
        assert_eq!(v("-.e1").1, 0);
        assert_eq!(v("0X1P+1"), (2.0, 6, false));
        assert!(v("1.5e-320").2);
        assert_eq!(v("  -12.5e1x"), (-125.0, 9, false));
        assert_eq!(v("0x123456789abcdef01").0, 0x123456789abcdef01u128 as f64);
        assert_eq!(v("0x1fffffffffffff.8").0, 9007199254740992.0);
        assert_eq!(v("0x1fffffffffffff.7").0, 9007199254740991.0);
        assert_eq!(v("1e-99999999999999999999"), (0.0, 23, true));
        assert_eq!(v("1e99999999999999999999"), (f64::INFINITY, 22, true));
        assert_eq!(v("0x1p-99999999999999999999"), (0.0, 25, true));
        assert_eq!(v("0x1p99999999999999999999"), (f64::INFINITY, 24, true));
        assert_eq!(v("0x0.00000000000000000000000001p100").0, 0.0625);
        assert_eq!(v("5."), (5.0, 2, false));
        assert_eq!(v(".5e1"), (5.0, 4, false));
    }

    #[test]
    fn sort_and_string2ll_rules() {
        assert_eq!(string2ll(b"+1"), None);
        assert_eq!(string2ll(b"01"), None);
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        assert_eq!(sort_weight(b""), Some(0.0));
        assert_eq!(sort_weight(b"  "), None);
        assert_eq!(sort_weight(b" 12"), Some(12.0));
        assert_eq!(sort_weight(b"1 "), None);
        assert_eq!(sort_weight(b"12\0ab"), Some(12.0));
        assert_eq!(sort_weight(b"1e-310"), None);
        assert_eq!(sort_weight(b"-Inf"), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn string2d_rules() {
        assert_eq!(string2d(b"0x0F"), Some(15.0));
        assert_eq!(string2d(b" 15"), None);
        assert_eq!(string2d(b"1e-400"), None);
        assert_eq!(string2d(b"1e-310"), Some(1e-310));
        assert_eq!(string2d(b"inf"), Some(f64::INFINITY));
        assert_eq!(string2d(b"nan"), None);
        assert_eq!(string2d(b"1\0"), None);
    }

    /// The forms the command arguments take: the old parser of write commands gave these.
    #[test]
    fn float_forms() {
        let ok = |s: &str| float(s.as_bytes()).map(f64::to_bits);
        let bits = |v: f64| Ok(v.to_bits());
        for (s, v) in [
            ("1.5", 1.5),
            ("+1.5", 1.5),
            ("-0", -0.0),
            ("5.", 5.0),
            (".5e1", 5.0),
            ("1E+2", 100.0),
            ("inf", f64::INFINITY),
            ("+Infinity", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("0x1.8p1", 3.0),
            ("-0X10", -16.0),
            ("0x1.", 1.0),
            ("0x.8", 0.5),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("1e-400", 0.0),
            ("1e-310", 1e-310),
        ] {
            assert_eq!(ok(s), bits(v), "{s}");
        }
        for s in [
            "", " 1", "1 ", "1e", "0x", "0x.", "0xp1", "0x1p", "1,5", "in", "infx", "--1", "+-1",
            "0x1.8.1", "1\0",
        ] {
            assert!(float(s.as_bytes()).is_err(), "{s}");
        }
        let msg = |s: &[u8]| float(s).unwrap_err().to_string();
        assert_eq!(msg(b"nan"), "bad arguments: NaN");
        assert_eq!(msg(b"-NaN"), "bad arguments: NaN");
        assert_eq!(msg(b"nan(1)"), "bad arguments: not a float: nan(1)");
        assert_eq!(msg(b"x"), "bad arguments: not a float: x");
        assert_eq!(msg(b"\xff"), "bad arguments: not a float");
    }

    /// Hexadecimal floats as glibc's strtod reads them (values checked against it), rounded
    /// once: past 30 digits, below the normal range, with exponents past 32 bits.
    #[test]
    fn float_hex_like_strtod() {
        let f = |s: &str| float(s.as_bytes()).unwrap().to_bits();
        assert_eq!(
            f("0x1.000000000000080000000000000001p0"),
            1.0000000000000002f64.to_bits()
        );
        assert_eq!(
            f("0x1.fa04d6ce9764237f507878e1b8a7b8ap-1061"),
            8.0004e-320f64.to_bits()
        );
        assert_eq!(f("0x1.460dfafb86b99a4f0d91p-1075"), 5e-324f64.to_bits());
        assert_eq!(f("0x1.8p-1074"), 1e-323f64.to_bits());
        assert_eq!(f("-0x0P88417"), (-0.0f64).to_bits());
        assert_eq!(f("0x1p99999999999"), f64::INFINITY.to_bits());
        assert_eq!(f("0x1p-99999999999"), 0.0f64.to_bits());
    }

    #[test]
    fn integers() {
        assert_eq!(int(b"+7"), Ok(7));
        assert_eq!(int(b"007"), Ok(7));
        assert_eq!(int(b"-9223372036854775808"), Ok(i64::MIN));
        assert!(int(b"9223372036854775808").is_err());
        assert!(int(b" 1").is_err());
        assert!(int(b"1.0").is_err());
        assert_eq!(uint(b"0"), Ok(0));
        assert_eq!(
            uint(b"-1").unwrap_err().to_string(),
            "bad arguments: negative: -1"
        );
    }
}
