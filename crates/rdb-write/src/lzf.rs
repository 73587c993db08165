//! LZF compression in the format of Redis's `lzf_c.c` (decoded by `rdb_parse::lzf`).
//!
//! Literal runs of 1-32 bytes (`000LLLLL` then the bytes) and back references of 3-264 bytes
//! at most 8192 bytes back (`LLLooooo oooooooo`, with an extra length byte when `LLL` is 7).
//! Matches are found through a hash table of the last position of each 3-byte sequence.

const HASH_LOG: u32 = 14;
const MAX_LITERAL: usize = 32;
const MAX_OFFSET: usize = 1 << 13;
const MAX_MATCH: usize = 264;
/// Past this length only a match's last two positions are indexed, as `lzf_c.c` does: a long
/// match is a run or a repeated stretch, whose inner positions find nothing new.
const LONG_MATCH: usize = 32;

/// The three bytes at the start of `b`, as one number (the first the highest).
#[inline]
fn three(b: &[u8]) -> u32 {
    u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2])
}

/// The table's slot for the three bytes `v` (see [`three`]).
#[inline]
fn hash(v: u32) -> usize {
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// Reusable state for [`Compressor::compress`] (a 64 KiB hash table).
///
/// Positions are stored offset by `base`, which moves past each input, so that entries from
/// earlier calls are told apart without clearing the table (clearing 64 KiB for every short
/// string used to cost more than compressing it).
pub struct Compressor {
    table: Box<[u32; 1 << HASH_LOG]>,
    base: u32,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with an empty table.
    pub fn new() -> Self {
        Compressor {
            table: Box::new([0; 1 << HASH_LOG]),
            base: 0,
        }
    }

    /// Compresses `input` into `out` (cleared first). Returns false, leaving `out` unspecified,
    /// when the result would be longer than `max_out` bytes: Redis stores a string compressed
    /// only when that saves at least 4 bytes, so callers pass `input.len() - 4`.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        out.clear();
        let n = input.len();
        let base = match u32::try_from(n)
            .ok()
            .and_then(|n| self.base.checked_add(n)?.checked_add(1))
        {
            Some(_) if self.base > 0 => self.base,
            _ => {
                self.table.fill(0);
                0
            }
        };
        // The next call starts past every position stored by this one.
        self.base = base.saturating_add(n as u32).saturating_add(1);
        if n > u32::MAX as usize - 2 {
            // Positions would not fit the table: store such an input as it is.
            return false;
        }
        let mut lit_start = 0;
        let mut i = 0;
        // The three bytes at `i`, rolled forward one byte at a time.
        let mut v = if n >= 3 { three(input) } else { 0 };
        while i + 3 <= n {
            let h = hash(v);
            let cand = self.table[h];
            self.table[h] = base + (i + 1) as u32;
            if cand > base {
                let r = (cand - base - 1) as usize;
                let dist = i - r;
                if dist <= MAX_OFFSET && three(&input[r..]) == v {
                    let max = MAX_MATCH.min(n - i);
                    let mut len = 3;
                    // 8 bytes at a time, then byte by byte up to `max`.
                    while len + 8 <= max {
                        let word = |at: usize| {
                            u64::from_le_bytes(input[at..at + 8].try_into().expect("8 bytes"))
                        };
                        let diff = word(r + len) ^ word(i + len);
                        if diff != 0 {
                            len += (diff.trailing_zeros() / 8) as usize;
                            break;
                        }
                        len += 8;
                    }
                    while len < max && input[r + len] == input[i + len] {
                        len += 1;
                    }
                    if !literals(&input[lit_start..i], out, max_out) {
                        return false;
                    }
                    let off = dist - 1;
                    let l = len - 2;
                    if l < 7 {
                        out.push((l << 5) as u8 | (off >> 8) as u8);
                    } else {
                        out.push((7 << 5) as u8 | (off >> 8) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push(off as u8);
                    if out.len() > max_out {
                        return false;
                    }
                    // Index the positions inside a short match too (cheap, and finds more
                    // matches); of a long one, the last two.
                    let end = i + len;
                    let mut j = if len > LONG_MATCH { end - 2 } else { i + 1 };
                    while j < end && j + 3 <= n {
                        self.table[hash(three(&input[j..]))] = base + (j + 1) as u32;
                        j += 1;
                    }
                    i = end;
                    lit_start = i;
                    if i + 3 <= n {
                        v = three(&input[i..]);
                    }
                    continue;
                }
            }
            i += 1;
            if i + 3 <= n {
                v = (v << 8 | u32::from(input[i + 2])) & 0xff_ffff;
            }
        }
        literals(&input[lit_start..], out, max_out)
    }
}

fn literals(lit: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
    for chunk in lit.chunks(MAX_LITERAL) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
    out.len() <= max_out
}

#[cfg(test)]
mod tests {
    use super::Compressor;
    use proptest::prelude::*;

    fn roundtrip(data: &[u8]) -> Option<usize> {
        let mut c = Compressor::new();
        let mut out = Vec::new();
        if !c.compress(data, &mut out, usize::MAX) {
            return None;
        }
        let mut back = Vec::new();
        rdb_parse::lzf::decompress(&out, data.len(), &mut back).unwrap();
        assert_eq!(&back[..data.len()], data);
        Some(out.len())
    }

    #[test]
    fn edges() {
        assert_eq!(roundtrip(b""), Some(0));
        assert_eq!(roundtrip(b"a"), Some(2));
        assert_eq!(roundtrip(b"aaaa"), Some(4)); // literal, then a 3-byte back reference
        let long = vec![b'x'; 100_000];
        // 3 bytes per 264-byte back reference: 100,000 / 264 * 3 = 1,137 bytes.
        assert!(roundtrip(&long).unwrap() < 1200);
        // Every match length and offset boundary.
        for len in [3usize, 8, 9, 264, 265, 600] {
            for gap in [1usize, 100, 8191, 8192, 8193] {
                let mut d: Vec<u8> = (0..gap).map(|i| (i * 7 + i / 251) as u8).collect();
                let pat: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut v = pat.clone();
                v.append(&mut d);
                v.extend_from_slice(&pat);
                roundtrip(&v);
            }
        }
    }

    #[test]
    fn gives_up_when_the_output_would_not_fit() {
        let mut c = Compressor::new();
        let mut out = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(!c.compress(&random, &mut out, random.len() - 4));
        assert!(c.compress(&[b'z'; 1000], &mut out, 996));
    }

    /// One compressor reused across inputs (as the writer does) must not follow positions
    /// left by earlier inputs, also when its position base wraps around.
    #[test]
    fn a_reused_compressor_gives_the_same_output_as_a_fresh_one() {
        let mut reused = Compressor::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            if round == 1500 {
                reused.base = u32::MAX - 5000;
            }
            let len = (next() % 700) as usize;
            let alphabet = 1 + next() % 6;
            let data: Vec<u8> = (0..len).map(|_| (next() % alphabet) as u8).collect();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ok_a = reused.compress(&data, &mut a, usize::MAX);
            let ok_b = Compressor::new().compress(&data, &mut b, usize::MAX);
            assert_eq!((ok_a, &a), (ok_b, &b), "round {round}");
            let mut back = Vec::new();
            rdb_parse::lzf::decompress(&a, data.len(), &mut back).unwrap();
            assert_eq!(&back[..data.len()], &data[..]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn random_inputs_roundtrip(data in proptest::collection::vec(0u8..4, 0..3000)) {
            roundtrip(&data);
        }

        #[test]
        fn random_bytes_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            roundtrip(&data);
        }

        /// Runs and repeated stretches of every length around the long-match paths (8-byte
        /// compares, the last two positions indexed), between random bytes.
        #[test]
        fn runs_and_repeats_roundtrip(
            parts in proptest::collection::vec((any::<u8>(), 1usize..700, 1usize..12), 1..12),
            noise in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut data = Vec::new();
            for (i, (byte, len, period)) in parts.into_iter().enumerate() {
                // A run (period 1) or a pattern of `period` bytes, repeated to `len` bytes.
                let pattern: Vec<u8> = (0..period).map(|k| byte.wrapping_add((k as u8).wrapping_mul(37))).collect();
                data.extend(pattern.iter().cycle().take(len));
                data.extend_from_slice(&noise[..noise.len().min(i * 3)]);
            }
            roundtrip(&data);
        }
    }
}
