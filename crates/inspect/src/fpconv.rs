//! The shortest-digits double-to-text conversion the servers use from Redis 7.2 on (and Valkey)
//! where `%.17g` was used before: Grisu2 (Loitsch, "Printing Floating-Point Numbers Quickly and
//! Accurately with Integers", 2010) with the output layout of the `fpconv` library they ship.
//! Grisu2 gives the shortest digits for almost every double and a correct, slightly longer
//! string for the rest; what matters here is to give the very string the server gives, since it
//! enters a digest.

/// A 64-bit significand and a binary exponent: `frac * 2^exp`.
#[derive(Clone, Copy)]
struct Fp {
    frac: u64,
    exp: i32,
}

/// 10^k for k = -348, -340, ..., 340, as `(m, e)` with `m * 2^e` the nearest 64-bit
/// normalized value (`2^63 <= m < 2^64`), computed exactly from the rational 10^k.
const POWERS: [(u64, i32); 87] = [
    (0xfa8fd5a0081c0288, -1220),
    (0xbaaee17fa23ebf76, -1193),
    (0x8b16fb203055ac76, -1166),
    (0xcf42894a5dce35ea, -1140),
    (0x9a6bb0aa55653b2d, -1113),
    (0xe61acf033d1a45df, -1087),
    (0xab70fe17c79ac6ca, -1060),
    (0xff77b1fcbebcdc4f, -1034),
    (0xbe5691ef416bd60c, -1007),
    (0x8dd01fad907ffc3c, -980),
    (0xd3515c2831559a83, -954),
    (0x9d71ac8fada6c9b5, -927),
    (0xea9c227723ee8bcb, -901),
    (0xaecc49914078536d, -874),
    (0x823c12795db6ce57, -847),
    (0xc21094364dfb5637, -821),
    (0x9096ea6f3848984f, -794),
    (0xd77485cb25823ac7, -768),
    (0xa086cfcd97bf97f4, -741),
    (0xef340a98172aace5, -715),
    (0xb23867fb2a35b28e, -688),
    (0x84c8d4dfd2c63f3b, -661),
    (0xc5dd44271ad3cdba, -635),
    (0x936b9fcebb25c996, -608),
    (0xdbac6c247d62a584, -582),
    (0xa3ab66580d5fdaf6, -555),
    (0xf3e2f893dec3f126, -529),
    (0xb5b5ada8aaff80b8, -502),
    (0x87625f056c7c4a8b, -475),
    (0xc9bcff6034c13053, -449),
    (0x964e858c91ba2655, -422),
    (0xdff9772470297ebd, -396),
    (0xa6dfbd9fb8e5b88f, -369),
    (0xf8a95fcf88747d94, -343),
    (0xb94470938fa89bcf, -316),
    (0x8a08f0f8bf0f156b, -289),
    (0xcdb02555653131b6, -263),
    (0x993fe2c6d07b7fac, -236),
    (0xe45c10c42a2b3b06, -210),
    (0xaa242499697392d3, -183),
    (0xfd87b5f28300ca0e, -157),
    (0xbce5086492111aeb, -130),
    (0x8cbccc096f5088cc, -103),
    (0xd1b71758e219652c, -77),
    (0x9c40000000000000, -50),
    (0xe8d4a51000000000, -24),
    (0xad78ebc5ac620000, 3),
    (0x813f3978f8940984, 30),
    (0xc097ce7bc90715b3, 56),
    (0x8f7e32ce7bea5c70, 83),
    (0xd5d238a4abe98068, 109),
    (0x9f4f2726179a2245, 136),
    (0xed63a231d4c4fb27, 162),
    (0xb0de65388cc8ada8, 189),
    (0x83c7088e1aab65db, 216),
    (0xc45d1df942711d9a, 242),
    (0x924d692ca61be758, 269),
    (0xda01ee641a708dea, 295),
    (0xa26da3999aef774a, 322),
    (0xf209787bb47d6b85, 348),
    (0xb454e4a179dd1877, 375),
    (0x865b86925b9bc5c2, 402),
    (0xc83553c5c8965d3d, 428),
    (0x952ab45cfa97a0b3, 455),
    (0xde469fbd99a05fe3, 481),
    (0xa59bc234db398c25, 508),
    (0xf6c69a72a3989f5c, 534),
    (0xb7dcbf5354e9bece, 561),
    (0x88fcf317f22241e2, 588),
    (0xcc20ce9bd35c78a5, 614),
    (0x98165af37b2153df, 641),
    (0xe2a0b5dc971f303a, 667),
    (0xa8d9d1535ce3b396, 694),
    (0xfb9b7cd9a4a7443c, 720),
    (0xbb764c4ca7a44410, 747),
    (0x8bab8eefb6409c1a, 774),
    (0xd01fef10a657842c, 800),
    (0x9b10a4e5e9913129, 827),
    (0xe7109bfba19c0c9d, 853),
    (0xac2820d9623bf429, 880),
    (0x80444b5e7aa7cf85, 907),
    (0xbf21e44003acdd2d, 933),
    (0x8e679c2f5e44ff8f, 960),
    (0xd433179d9c8cb841, 986),
    (0x9e19db92b4e31ba9, 1013),
    (0xeb96bf6ebadf77d9, 1039),
    (0xaf87023b9bf0ee6b, 1066),
];

const FIRST_POWER: i32 = -348;
const STEP: i32 = 8;
const FRAC_MASK: u64 = 0x000F_FFFF_FFFF_FFFF;
const HIDDEN: u64 = 0x0010_0000_0000_0000;
const EXP_BIAS: i32 = 1023 + 52;

fn decompose(d: f64) -> Fp {
    let bits = d.to_bits();
    let frac = bits & FRAC_MASK;
    let e = ((bits >> 52) & 0x7FF) as i32;
    if e != 0 {
        Fp {
            frac: frac + HIDDEN,
            exp: e - EXP_BIAS,
        }
    } else {
        Fp {
            frac,
            exp: 1 - EXP_BIAS,
        }
    }
}

/// The value's neighbours' midpoints, on a common exponent (`lower`, `upper`).
fn boundaries(w: Fp) -> (Fp, Fp) {
    let mut upper = Fp {
        frac: (w.frac << 1) + 1,
        exp: w.exp - 1,
    };
    while upper.frac & (HIDDEN << 1) == 0 {
        upper.frac <<= 1;
        upper.exp -= 1;
    }
    upper.frac <<= 64 - 52 - 2;
    upper.exp -= 64 - 52 - 2;
    // Just above a power of two, the gap below is half the gap above.
    let shift = if w.frac == HIDDEN { 2 } else { 1 };
    let mut lower = Fp {
        frac: (w.frac << shift) - 1,
        exp: w.exp - shift,
    };
    lower.frac <<= lower.exp - upper.exp;
    lower.exp = upper.exp;
    (lower, upper)
}

fn normalize(mut w: Fp) -> Fp {
    while w.frac & HIDDEN == 0 {
        w.frac <<= 1;
        w.exp -= 1;
    }
    w.frac <<= 64 - 52 - 1;
    w.exp -= 64 - 52 - 1;
    w
}

/// The upper 64 bits of the 128-bit product, rounded (as the 32-bit-halves method rounds).
fn multiply(a: Fp, b: Fp) -> Fp {
    let lo = 0xFFFF_FFFFu64;
    let (ah, al, bh, bl) = (a.frac >> 32, a.frac & lo, b.frac >> 32, b.frac & lo);
    let (ah_bl, al_bh, al_bl, ah_bh) = (ah * bl, al * bh, al * bl, ah * bh);
    let mid = (ah_bl & lo) + (al_bh & lo) + (al_bl >> 32) + (1u64 << 31);
    Fp {
        frac: ah_bh + (ah_bl >> 32) + (al_bh >> 32) + (mid >> 32),
        exp: a.exp + b.exp + 64,
    }
}

/// The cached power whose product with a value of binary exponent `exp` lands the exponent
/// in [-60, -32]; returns it and its decimal exponent.
fn cached_power(exp: i32) -> (Fp, i32) {
    let approx = (-(exp + 87) as f64 * 0.301_029_995_663_981_14) as i32;
    let mut idx = (approx - FIRST_POWER) / STEP;
    loop {
        let (frac, e) = POWERS[idx as usize];
        let current = exp + e + 64;
        if current < -60 {
            idx += 1;
        } else if current > -32 {
            idx -= 1;
        } else {
            return (Fp { frac, exp: e }, FIRST_POWER + idx * STEP);
        }
    }
}

/// Moves the last digit down while that brings the digits closer to the value and keeps
/// them inside the bounds.
fn round_last(digits: &mut [u8], delta: u64, mut rem: u64, kappa: u64, frac: u64) {
    let last = digits.len() - 1;
    while rem < frac
        && delta - rem >= kappa
        && (rem + kappa < frac || frac - rem > rem + kappa - frac)
    {
        digits[last] -= 1;
        rem += kappa;
    }
}

/// The digits of `d` (positive, finite, non-zero) and `k`: the value is `digits * 10^k`.
fn grisu2(d: f64) -> (Vec<u8>, i32) {
    let w = decompose(d);
    let (lower, upper) = boundaries(w);
    let w = normalize(w);
    let (cp, k) = cached_power(upper.exp);
    let w = multiply(w, cp);
    let mut upper = multiply(upper, cp);
    let mut lower = multiply(lower, cp);
    lower.frac += 1;
    upper.frac -= 1;
    let mut kk = -k;

    let wfrac = upper.frac - w.frac;
    let mut delta = upper.frac - lower.frac;
    let one_shift = (-upper.exp) as u32;
    let one = 1u64 << one_shift;
    let mut part1 = upper.frac >> one_shift;
    let mut part2 = upper.frac & (one - 1);
    let mut digits = Vec::with_capacity(18);
    // The integer part: up to 10 digits.
    let mut div = 1_000_000_000u64;
    let mut kappa = 10;
    while kappa > 0 {
        let digit = part1 / div;
        if digit != 0 || !digits.is_empty() {
            digits.push(b'0' + digit as u8);
        }
        part1 -= digit * div;
        kappa -= 1;
        let rest = (part1 << one_shift) + part2;
        if rest <= delta {
            kk += kappa;
            round_last(&mut digits, delta, rest, div << one_shift, wfrac);
            return (digits, kk);
        }
        div /= 10;
    }
    // The fraction: one digit at a time.
    let mut unit = 1u64;
    loop {
        part2 *= 10;
        delta *= 10;
        unit *= 10;
        kappa -= 1;
        let digit = part2 >> one_shift;
        if digit != 0 || !digits.is_empty() {
            digits.push(b'0' + digit as u8);
        }
        part2 &= one - 1;
        if part2 < delta {
            kk += kappa;
            round_last(&mut digits, delta, part2, one, wfrac.wrapping_mul(unit));
            return (digits, kk);
        }
    }
}

/// `d` as the servers' `fpconv_dtoa` writes it: shortest digits; plain integers up to a few
/// zeros past the digits, plain decimals down to 1e-6 or so, exponent form (`1.5e+30`,
/// `1e-7`) beyond; `0`, `-0`, `inf`, `-inf`, `nan`.
pub fn format_shortest(d: f64) -> String {
    let neg = d.is_sign_negative();
    let sign = if neg { "-" } else { "" };
    if d == 0.0 {
        return format!("{sign}0");
    }
    if d.is_nan() {
        return format!("{sign}nan");
    }
    if d.is_infinite() {
        return format!("{sign}inf");
    }
    let (digits, k) = grisu2(d.abs());
    let n = digits.len() as i32;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let exp = (k + n - 1).abs();
    let body = if k >= 0 && exp < n + 7 {
        text(&digits) + &"0".repeat(k as usize)
    } else if k < 0 && (k > -7 || exp < 4) {
        let offset = n + k;
        if offset <= 0 {
            format!("0.{}{}", "0".repeat((-offset) as usize), text(&digits))
        } else {
            let (a, b) = digits.split_at(offset as usize);
            format!("{}.{}", text(a), text(b))
        }
    } else {
        // At most 18 significant digits (17 for a negative value), as the server truncates.
        let m = digits.len().min(if neg { 17 } else { 18 });
        let mantissa = if m > 1 {
            format!("{}.{}", digits[0] as char, text(&digits[1..m]))
        } else {
            (digits[0] as char).to_string()
        };
        let e = k + m as i32 - 1;
        format!("{mantissa}e{}{}", if e < 0 { '-' } else { '+' }, exp)
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_powers_are_exact_where_10k_is_a_64_bit_multiple() {
        // 10^20 = 12500000000000000000 * 2^3; 10^-4 and others are rounded.
        assert_eq!(POWERS[46], (12_500_000_000_000_000_000, 3));
        assert_eq!(POWERS[45], (16_777_216_000_000_000_000, -24)); // 10^12
    }

    #[test]
    fn doubles_print_as_the_servers_print_them() {
        for (x, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456789.123, "123456789.123"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.71, "2.71"),
        ] {
            assert_eq!(format_shortest(x), want, "{x:e}");
        }
    }
}
