//! Inner blob formats (listpack, ziplist, intset, zipmap): validation as deep as Redis's
//! `sanitize-dump-payload yes`, and entry decoding.
//!
//! Every function takes the whole blob and a position inside it; positions are checked, so a
//! corrupt blob gives an error with the offset inside the blob, never a panic.

use crate::event::Str;

/// A problem inside a blob: position relative to the blob start, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    /// Offset inside the blob.
    pub pos: usize,
    /// What is wrong.
    pub reason: String,
}

fn err<T>(pos: usize, reason: impl Into<String>) -> Result<T, BlobError> {
    Err(BlobError {
        pos,
        reason: reason.into(),
    })
}

fn le_uint(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    v
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

// ---------------------------------------------------------------------------------------------
// Listpack

/// Size of the listpack header.
pub const LP_HEADER: usize = 6;

/// Decodes the listpack entry at `pos`: its value and the position of the next entry.
pub fn lp_entry(b: &[u8], pos: usize) -> Result<(Str<'_>, usize), BlobError> {
    let Some(&first) = b.get(pos) else {
        return err(pos, "listpack entry starts past the end");
    };
    let need = |n: usize| -> Result<&[u8], BlobError> {
        b.get(pos..pos + n).ok_or_else(|| BlobError {
            pos,
            reason: "listpack entry extends past the end".into(),
        })
    };
    let (value, enc_len) = if first & 0x80 == 0 {
        (Str::Int((first & 0x7f) as i64), 1)
    } else if first & 0xc0 == 0x80 {
        let len = (first & 0x3f) as usize;
        let s = need(1 + len)?;
        (Str::Bytes(&s[1..]), 1 + len)
    } else if first & 0xe0 == 0xc0 {
        let s = need(2)?;
        let v = (((first & 0x1f) as u64) << 8) | s[1] as u64;
        (Str::Int(sign_extend(v, 13)), 2)
    } else if first & 0xf0 == 0xe0 {
        let s = need(2)?;
        let len = (((first & 0x0f) as usize) << 8) | s[1] as usize;
        let s = need(2 + len)?;
        (Str::Bytes(&s[2..]), 2 + len)
    } else {
        match first {
            0xf0 => {
                let h = need(5)?;
                let len = le_uint(&h[1..5]) as usize;
                let s = need(5usize.saturating_add(len))?;
                (Str::Bytes(&s[5..]), 5 + len)
            }
            0xf1 => (Str::Int(sign_extend(le_uint(&need(3)?[1..]), 16)), 3),
            0xf2 => (Str::Int(sign_extend(le_uint(&need(4)?[1..]), 24)), 4),
            0xf3 => (Str::Int(sign_extend(le_uint(&need(5)?[1..]), 32)), 5),
            0xf4 => (Str::Int(le_uint(&need(9)?[1..]) as i64), 9),
            0xff => return err(pos, "unexpected listpack end marker"),
            _ => {
                return err(
                    pos,
                    format!("invalid listpack entry encoding 0x{first:02x}"),
                )
            }
        }
    };
    // backlen: the encoded size, 7 bits per byte, most significant group first.
    let bl_start = pos + enc_len;
    if enc_len < 128 {
        // One byte: the common case.
        return match b.get(bl_start) {
            Some(&x) if x as usize == enc_len => Ok((value, bl_start + 1)),
            Some(_) => err(
                bl_start,
                format!("listpack backlen does not match entry size {enc_len}"),
            ),
            None => err(pos, "listpack entry backlen extends past the end"),
        };
    }
    let blen = lp_backlen_size(enc_len);
    let Some(bl) = b.get(bl_start..bl_start + blen) else {
        return err(pos, "listpack entry backlen extends past the end");
    };
    let mut v = 0usize;
    for (i, &x) in bl.iter().enumerate() {
        if (i == 0) != (x & 0x80 == 0) {
            return err(bl_start, "malformed listpack backlen");
        }
        v = (v << 7) | (x & 0x7f) as usize;
    }
    if v != enc_len {
        return err(
            bl_start,
            format!("listpack backlen {v} does not match entry size {enc_len}"),
        );
    }
    Ok((value, bl_start + blen))
}

/// The bytes of a listpack entry's backlen for an entry of `l` bytes, as `lpEncodeBacklen`
/// writes it: each bound itself takes the longer form (16383 takes 3 bytes).
pub fn lp_backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Checks the header, every entry and the end marker; returns the number of entries.
pub fn lp_validate(b: &[u8]) -> Result<usize, BlobError> {
    lp_walk(b, |_, _, _| Ok(()))
}

/// Walks a listpack once, checking the header, every entry and the end marker, and calls `f`
/// with each entry's index, position and value; returns the number of entries.
pub fn lp_walk<'a>(
    b: &'a [u8],
    mut f: impl FnMut(usize, usize, Str<'a>) -> Result<(), BlobError>,
) -> Result<usize, BlobError> {
    if b.len() < LP_HEADER + 1 {
        return err(
            0,
            format!(
                "listpack of {} bytes is shorter than the minimum of 7",
                b.len()
            ),
        );
    }
    let total = le_uint(&b[0..4]) as usize;
    if total != b.len() {
        return err(
            0,
            format!("listpack header says {total} bytes, blob has {}", b.len()),
        );
    }
    if b[b.len() - 1] != 0xff {
        return err(b.len() - 1, "listpack does not end with 0xff");
    }
    let declared = le_uint(&b[4..6]) as usize;
    let mut pos = LP_HEADER;
    let mut count = 0usize;
    let end = b.len() - 1;
    let body = &b[..end];
    while pos < end {
        let (v, next) = lp_entry(body, pos)?;
        f(count, pos, v)?;
        pos = next;
        count += 1;
    }
    if declared != 65535 && declared != count {
        return err(
            4,
            format!("listpack header says {declared} entries, found {count}"),
        );
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Ziplist

/// Size of the ziplist header.
pub const ZL_HEADER: usize = 10;

/// Decodes the ziplist entry at `pos`: value, position of the next entry, and this entry's
/// prevlen field value.
pub fn zl_entry(b: &[u8], pos: usize) -> Result<(Str<'_>, usize, usize), BlobError> {
    let short = || BlobError {
        pos,
        reason: "ziplist entry extends past the end".into(),
    };
    let first = *b.get(pos).ok_or_else(short)?;
    let (prevlen, mut p) = if first < 254 {
        (first as usize, pos + 1)
    } else if first == 254 {
        let s = b.get(pos + 1..pos + 5).ok_or_else(short)?;
        (le_uint(s) as usize, pos + 5)
    } else {
        return err(pos, "unexpected ziplist end marker");
    };
    let enc_pos = p;
    let enc = *b.get(p).ok_or_else(short)?;
    let value = match enc >> 6 {
        0 => {
            let len = (enc & 0x3f) as usize;
            p += 1;
            let s = b.get(p..p + len).ok_or_else(short)?;
            p += len;
            Str::Bytes(s)
        }
        1 => {
            let s = b.get(p..p + 2).ok_or_else(short)?;
            let len = (((enc & 0x3f) as usize) << 8) | s[1] as usize;
            p += 2;
            let s = b.get(p..p + len).ok_or_else(short)?;
            p += len;
            Str::Bytes(s)
        }
        2 => {
            let s = b.get(p..p + 5).ok_or_else(short)?;
            let len = u32::from_be_bytes([s[1], s[2], s[3], s[4]]) as usize;
            p += 5;
            let s = b.get(p..p.saturating_add(len)).ok_or_else(short)?;
            p += len;
            Str::Bytes(s)
        }
        _ => {
            let (n, v) = match enc {
                0xc0 => (2, None),
                0xd0 => (4, None),
                0xe0 => (8, None),
                0xf0 => (3, None),
                0xfe => (1, None),
                0xf1..=0xfd => (0, Some((enc & 0x0f) as i64 - 1)),
                _ => {
                    return err(
                        enc_pos,
                        format!("invalid ziplist entry encoding 0x{enc:02x}"),
                    )
                }
            };
            p += 1;
            let s = b.get(p..p + n).ok_or_else(short)?;
            p += n;
            Str::Int(match v {
                Some(v) => v,
                None => sign_extend(le_uint(s), 8 * n as u32),
            })
        }
    };
    Ok((value, p, prevlen))
}

/// Checks header, prevlen chain, tail offset, count and end marker; returns the entry count.
pub fn zl_validate(b: &[u8]) -> Result<usize, BlobError> {
    if b.len() < ZL_HEADER + 1 {
        return err(
            0,
            format!(
                "ziplist of {} bytes is shorter than the minimum of 11",
                b.len()
            ),
        );
    }
    let total = le_uint(&b[0..4]) as usize;
    if total != b.len() {
        return err(
            0,
            format!("ziplist header says {total} bytes, blob has {}", b.len()),
        );
    }
    let tail = le_uint(&b[4..8]) as usize;
    let declared = le_uint(&b[8..10]) as usize;
    if b[b.len() - 1] != 0xff {
        return err(b.len() - 1, "ziplist does not end with 0xff");
    }
    let end = b.len() - 1;
    let mut pos = ZL_HEADER;
    let mut prev_size = 0usize;
    let mut last = ZL_HEADER;
    let mut count = 0usize;
    while pos < end {
        let (_, next, prevlen) = zl_entry(&b[..end], pos)?;
        if prevlen != prev_size {
            return err(
                pos,
                format!("ziplist prevlen {prevlen} does not match previous entry size {prev_size}"),
            );
        }
        prev_size = next - pos;
        last = pos;
        pos = next;
        count += 1;
    }
    if tail != last {
        return err(
            4,
            format!("ziplist tail offset {tail} does not point at the last entry ({last})"),
        );
    }
    if declared != 65535 && declared != count {
        return err(
            8,
            format!("ziplist header says {declared} entries, found {count}"),
        );
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Intset

/// Checks an intset (encoding, size, strictly ascending members); returns (width, count).
pub fn intset_validate(b: &[u8]) -> Result<(usize, usize), BlobError> {
    if b.len() < 8 {
        return err(0, "intset shorter than its 8-byte header");
    }
    let width = le_uint(&b[0..4]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return err(0, format!("invalid intset encoding {width}"));
    }
    let count = le_uint(&b[4..8]) as usize;
    if count == 0 {
        return err(4, "intset with zero members");
    }
    if (b.len() - 8) as u64 != count as u64 * width as u64 {
        return err(
            4,
            format!(
                "intset of {count} x {width}-byte members does not fill its {} bytes",
                b.len()
            ),
        );
    }
    let mut prev = i64::MIN;
    for i in 0..count {
        let v = intset_get(b, width, i);
        if i > 0 && v <= prev {
            return err(8 + i * width, "intset members not strictly ascending");
        }
        prev = v;
    }
    Ok((width, count))
}

/// Member `i` of a validated intset.
pub fn intset_get(b: &[u8], width: usize, i: usize) -> i64 {
    let s = &b[8 + i * width..8 + (i + 1) * width];
    sign_extend(le_uint(s), 8 * width as u32)
}

// ---------------------------------------------------------------------------------------------
// Zipmap

fn zm_len(b: &[u8], pos: usize) -> Result<(usize, usize), BlobError> {
    let first = *b.get(pos).ok_or_else(|| BlobError {
        pos,
        reason: "zipmap length past the end".into(),
    })?;
    if first < 254 {
        Ok((first as usize, pos + 1))
    } else if first == 254 {
        let s = b.get(pos + 1..pos + 5).ok_or_else(|| BlobError {
            pos,
            reason: "zipmap length past the end".into(),
        })?;
        let v = le_uint(s) as usize;
        if v < 254 {
            return err(pos, "zipmap 5-byte length holds a value below 254");
        }
        Ok((v, pos + 5))
    } else {
        err(pos, "unexpected zipmap end marker")
    }
}

/// Decodes the zipmap pair at `pos`; `None` at the end marker.
#[allow(clippy::type_complexity)] // a pair and a position, named in the doc
pub fn zm_pair(b: &[u8], pos: usize) -> Result<Option<(&[u8], &[u8], usize)>, BlobError> {
    match b.get(pos) {
        None => return err(pos, "zipmap has no end marker"),
        Some(0xff) => return Ok(None),
        _ => {}
    }
    let (klen, p) = zm_len(b, pos)?;
    let key = b.get(p..p.saturating_add(klen)).ok_or_else(|| BlobError {
        pos,
        reason: "zipmap key past the end".into(),
    })?;
    let (vlen, p) = zm_len(b, p + klen)?;
    let free = *b.get(p).ok_or_else(|| BlobError {
        pos: p,
        reason: "zipmap free byte past the end".into(),
    })? as usize;
    let p = p + 1;
    let val = b.get(p..p.saturating_add(vlen)).ok_or_else(|| BlobError {
        pos: p,
        reason: "zipmap value past the end".into(),
    })?;
    let next = p + vlen + free;
    if next > b.len() {
        return err(p, "zipmap free space past the end");
    }
    Ok(Some((key, val, next)))
}

/// Checks a zipmap (pairs inside the blob, end marker last, no duplicate keys); returns pairs.
/// `seen`, cleared, checks the keys for repeats (as many as its cap allows).
pub fn zm_validate(b: &[u8], seen: &mut DupCheck) -> Result<usize, BlobError> {
    if b.len() < 2 {
        return err(0, "zipmap too short");
    }
    let mut pos = 1;
    let mut count = 0;
    while let Some((k, _, next)) = zm_pair(b, pos)? {
        if !seen.insert(k) {
            return err(pos, "duplicate zipmap key");
        }
        pos = next;
        count += 1;
    }
    if pos != b.len() - 1 {
        return err(pos, "zipmap has bytes after its end marker");
    }
    if count == 0 {
        return err(0, "empty zipmap");
    }
    if b[0] < 254 && b[0] as usize != count {
        return err(
            0,
            format!("zipmap header says {} pairs, found {count}", b[0]),
        );
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Duplicate detection

/// Detects repeated strings among the members of one collection.
///
/// Keeps a 128-bit fingerprint of each member (see [`Fingerprints`]): a table slot of 17
/// bytes a member, about twice that while the table grows. Two distinct members share one
/// with a chance of about n² / 2¹²⁹, and a forged file cannot aim for it. Past its cap (see
/// [`set_cap`](DupCheck::set_cap)) it records nothing more and takes every member as new, so
/// that a collection of tiny members cannot make the table many times its own size.
#[derive(Debug)]
pub struct DupCheck {
    /// The first members, scanned linearly: cheaper than a table for small collections.
    small: Vec<u128>,
    seen: std::collections::HashSet<u128, BuildNoHash>,
    fp: Fingerprints,
    cap: usize,
}

impl Default for DupCheck {
    fn default() -> DupCheck {
        DupCheck {
            small: Vec::new(),
            seen: Default::default(),
            fp: Fingerprints::random(),
            cap: usize::MAX,
        }
    }
}

const SMALL_DUP: usize = 8;

impl DupCheck {
    /// Clears the set for a new collection, keeping its memory.
    #[inline]
    pub fn clear(&mut self) {
        // Clearing costs the capacity, not the length: skip it when empty, and give back the
        // memory of a large collection so every later key does not pay for it.
        self.small.clear();
        if !self.seen.is_empty() {
            if self.seen.capacity() > 512 {
                self.seen = Default::default();
            } else {
                self.seen.clear();
            }
        }
    }

    /// Checks at most `cap` members of each collection; the members past them are not checked.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// True once the cap is reached: the members that follow are not checked.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap
    }

    /// Makes room for `n` members (a count the format states up front), capped so that a
    /// corrupt count cannot reserve much.
    pub fn expect(&mut self, n: u64) {
        if n as usize > SMALL_DUP {
            self.seen.reserve((n as usize).min(1 << 16));
        }
    }

    /// Records `s`; false if it was seen before (never once the cap is reached).
    #[inline]
    pub fn insert(&mut self, s: &[u8]) -> bool {
        if self.is_full() {
            return true;
        }
        let h = self.fp.of(0, s);
        if self.seen.is_empty() {
            if self.small.contains(&h) {
                return false;
            }
            if self.small.len() < SMALL_DUP {
                self.small.push(h);
                return true;
            }
            self.seen.extend(self.small.iter().copied());
        }
        self.seen.insert(h)
    }

    /// Records a [`Str`]; integers hash as their decimal text so `"5"` and `5` collide.
    pub fn insert_str(&mut self, s: Str<'_>) -> bool {
        if self.is_full() {
            return true;
        }
        let mut scratch = [0u8; 20];
        self.insert(s.as_bytes(&mut scratch))
    }

    /// Number of distinct members seen.
    pub fn len(&self) -> usize {
        if self.seen.is_empty() {
            self.small.len()
        } else {
            self.seen.len()
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 128-bit fingerprints of byte strings: two 64-bit hashes keyed with seeds drawn at random
/// for each set of fingerprints, so a forged file cannot pick strings that share one.
#[derive(Clone, Debug)]
pub struct Fingerprints([foldhash::quality::FixedState; 2]);

impl Fingerprints {
    /// Fingerprints under fresh random seeds.
    pub fn random() -> Fingerprints {
        use std::hash::{BuildHasher, Hasher};
        let seed = || {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            foldhash::quality::FixedState::with_seed(h.finish())
        };
        Fingerprints([seed(), seed()])
    }

    /// The fingerprint of `bytes` in space `space` (a database number, or 0).
    #[inline]
    pub fn of(&self, space: u64, bytes: &[u8]) -> u128 {
        use std::hash::{BuildHasher, Hasher};
        let half = |s: &foldhash::quality::FixedState| {
            let mut h = s.build_hasher();
            h.write_u64(space);
            h.write(bytes);
            h.finish() as u128
        };
        (half(&self.0[0]) << 64) | half(&self.0[1])
    }
}

/// The values stored are already hashes: pass them through.
#[derive(Default, Clone, Copy)]
pub struct BuildNoHash;

/// Hasher for [`BuildNoHash`].
#[derive(Default)]
pub struct NoHash(u64);

impl std::hash::Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl std::hash::BuildHasher for BuildNoHash {
    type Hasher = NoHash;
    fn build_hasher(&self) -> NoHash {
        NoHash(0)
    }
}

#[cfg(test)]
mod tests {
    /// A string entry whose encoded size is exactly 16383 bytes: Redis writes its backlen in
    /// 3 bytes (`lpEncodeBacklen`: `l < 16383` takes 2).
    #[test]
    fn backlen_at_its_bounds() {
        let n = 16378usize;
        let mut lp = vec![0u8; 6];
        lp.push(0xF0);
        lp.extend_from_slice(&(n as u32).to_le_bytes());
        lp.extend(std::iter::repeat_n(b'x', n));
        lp.extend_from_slice(&[0x00, 0xFF, 0xFF]);
        lp.push(0xFF);
        let total = lp.len() as u32;
        lp[..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(lp_validate(&lp).unwrap(), 1);
        assert_eq!(lp_backlen_size(16382), 2);
        assert_eq!(lp_backlen_size(2097150), 3);
        assert_eq!(lp_backlen_size(2097151), 4);
        assert_eq!(lp_backlen_size(268435455), 5);
    }

    use super::*;

    fn lp(entries: &[&[u8]]) -> Vec<u8> {
        let mut body: Vec<u8> = entries.concat();
        body.push(0xff);
        let mut b = Vec::new();
        b.extend_from_slice(&((body.len() + 6) as u32).to_le_bytes());
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        b.extend(body);
        b
    }

    fn lp_values(b: &[u8]) -> Vec<Str<'_>> {
        let n = lp_validate(b).unwrap();
        let mut pos = LP_HEADER;
        let mut out = Vec::new();
        for _ in 0..n {
            let (v, next) = lp_entry(b, pos).unwrap();
            out.push(v);
            pos = next;
        }
        out
    }

    #[test]
    fn listpack_reference_example() {
        // From the format reference §6.5: "a", 1, -1, 300.
        let b = [
            0x12, 0, 0, 0, 4, 0, 0x81, 0x61, 0x02, 0x01, 0x01, 0xdf, 0xff, 0x02, 0xc1, 0x2c, 0x02,
            0xff,
        ];
        assert_eq!(
            lp_values(&b),
            vec![Str::Bytes(b"a"), Str::Int(1), Str::Int(-1), Str::Int(300)]
        );
    }

    #[test]
    fn listpack_every_integer_kind() {
        let b = lp(&[
            &[0x00, 0x01],                                                 // 7-bit 0
            &[0x7f, 0x01],                                                 // 7-bit 127
            &[0xd0, 0x00, 0x02],                                           // 13-bit -4096
            &[0xcf, 0xff, 0x02],                                           // 13-bit 4095
            &[0xf1, 0x00, 0x80, 0x03],                                     // int16 -32768
            &[0xf2, 0xff, 0xff, 0x7f, 0x04],                               // int24 8388607
            &[0xf2, 0x00, 0x00, 0x80, 0x04],                               // int24 -8388608
            &[0xf3, 0x00, 0x00, 0x00, 0x80, 0x05],                         // int32 min
            &[0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x09], // int64 max
            &[0xf4, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x09],                      // int64 min
        ]);
        assert_eq!(
            lp_values(&b),
            vec![
                Str::Int(0),
                Str::Int(127),
                Str::Int(-4096),
                Str::Int(4095),
                Str::Int(-32768),
                Str::Int(8388607),
                Str::Int(-8388608),
                Str::Int(i32::MIN as i64),
                Str::Int(i64::MAX),
                Str::Int(i64::MIN),
            ]
        );
    }

    #[test]
    fn listpack_string_kinds() {
        let s63 = vec![b'x'; 63];
        let mut e1 = vec![0x80 | 63];
        e1.extend_from_slice(&s63);
        e1.push(64);
        let s64 = vec![b'y'; 64];
        let mut e2 = vec![0xe0, 64];
        e2.extend_from_slice(&s64);
        e2.push(66);
        let s4096 = vec![b'z'; 4096];
        let mut e3 = vec![0xf0];
        e3.extend_from_slice(&4096u32.to_le_bytes());
        e3.extend_from_slice(&s4096);
        // backlen of 4101 = 0b1_0000000_0101 → two bytes: 0x20 then 0x85
        e3.extend_from_slice(&[0x20, 0x85]);
        let b = lp(&[&e1, &e2, &e3, &[0x80, 0x01]]);
        assert_eq!(
            lp_values(&b),
            vec![
                Str::Bytes(&s63),
                Str::Bytes(&s64),
                Str::Bytes(&s4096),
                Str::Bytes(b"")
            ]
        );
    }

    #[test]
    fn listpack_rejects_corruption() {
        let good = lp(&[&[0x81, b'a', 0x02]]);
        assert!(lp_validate(&good).is_ok());
        let mut bad = good.clone();
        bad[8] = 0x03; // backlen
        assert!(lp_validate(&bad).is_err());
        let mut bad = good.clone();
        bad[4] = 2; // count
        assert!(lp_validate(&bad).is_err());
        let mut bad = good.clone();
        bad[0] = 99; // total bytes
        assert!(lp_validate(&bad).is_err());
        let mut bad = good.clone();
        bad[6] = 0xf5; // invalid encoding
        assert!(lp_validate(&bad).is_err());
        let mut bad = good;
        bad[6] = 0x8f; // string longer than the blob
        assert!(lp_validate(&bad).is_err());
        // 65535 = unknown count is accepted
        let mut unknown = lp(&[&[0x01, 0x01]]);
        unknown[4] = 0xff;
        unknown[5] = 0xff;
        assert_eq!(lp_validate(&unknown), Ok(1));
    }

    fn zl(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = ZL_HEADER;
        for e in entries {
            tail = ZL_HEADER + body.len();
            let mut ent = Vec::new();
            if prev < 254 {
                ent.push(prev as u8);
            } else {
                ent.push(254);
                ent.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            ent.extend_from_slice(e);
            prev = ent.len();
            body.extend(ent);
        }
        body.push(0xff);
        let mut b = Vec::new();
        b.extend_from_slice(&((body.len() + ZL_HEADER) as u32).to_le_bytes());
        b.extend_from_slice(&(tail as u32).to_le_bytes());
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        b.extend(body);
        b
    }

    #[test]
    fn ziplist_every_entry_kind() {
        let long = vec![b'q'; 300];
        let mut e14 = vec![0x40 | 1, 44];
        e14.extend_from_slice(&long);
        let mut e32 = vec![0x80, 0, 0, 1, 44];
        e32.extend_from_slice(&long);
        let entries = vec![
            vec![0x03, b'a', b'b', b'c'],
            e14,
            e32,
            vec![0xc0, 0x00, 0x80],             // int16 -32768
            vec![0xd0, 0xff, 0xff, 0xff, 0x7f], // int32 max
            vec![0xe0, 0, 0, 0, 0, 0, 0, 0, 0x80],
            vec![0xf0, 0x00, 0x00, 0x80], // int24 min
            vec![0xfe, 0x80],             // int8 -128
            vec![0xf1],                   // 0
            vec![0xfd],                   // 12
        ];
        let b = zl(&entries);
        let n = zl_validate(&b).unwrap();
        let mut pos = ZL_HEADER;
        let mut got = Vec::new();
        for _ in 0..n {
            let (v, next, _) = zl_entry(&b, pos).unwrap();
            got.push(v);
            pos = next;
        }
        assert_eq!(
            got,
            vec![
                Str::Bytes(b"abc"),
                Str::Bytes(&long),
                Str::Bytes(&long),
                Str::Int(-32768),
                Str::Int(i32::MAX as i64),
                Str::Int(i64::MIN),
                Str::Int(-8388608),
                Str::Int(-128),
                Str::Int(0),
                Str::Int(12),
            ]
        );
        // Corrupt prevlen of the second entry.
        let mut bad = b.clone();
        bad[ZL_HEADER + 5] = 7;
        assert!(zl_validate(&bad).is_err());
        // Wrong tail.
        let mut bad = b.clone();
        bad[4] = 10;
        bad[5] = 0;
        assert!(zl_validate(&bad).is_err());
        // Invalid encoding byte.
        let mut bad = b;
        bad[ZL_HEADER + 1] = 0xc5;
        assert!(zl_validate(&bad).is_err());
    }

    #[test]
    fn intset_rules() {
        let mut b = vec![2, 0, 0, 0, 3, 0, 0, 0];
        for v in [-5i16, 1, 300] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(intset_validate(&b), Ok((2, 3)));
        assert_eq!(intset_get(&b, 2, 0), -5);
        let mut unordered = b.clone();
        unordered.swap(8, 10);
        unordered.swap(9, 11);
        assert!(intset_validate(&unordered).is_err());
        assert!(intset_validate(&[4, 0, 0, 0, 0, 0, 0, 0]).is_err()); // empty
        assert!(intset_validate(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3]).is_err()); // width
        assert!(intset_validate(&b[..b.len() - 1]).is_err()); // size
    }

    #[test]
    fn zipmap_rules() {
        // 2 pairs: "a"->"1" (free 0), "bb"->"" (free 2)
        let b = [2, 1, b'a', 1, 0, b'1', 2, b'b', b'b', 0, 2, 0, 0, 0xff];
        let zm = |b: &[u8]| zm_validate(b, &mut DupCheck::default());
        assert_eq!(zm(&b), Ok(2));
        let dup = [2, 1, b'a', 1, 0, b'1', 1, b'a', 0, 0, 0xff];
        assert_eq!(zm(&dup).unwrap_err().pos, 6);
        assert!(zm(&[0, 0xff]).is_err());
        // 5-byte length holding a small value (CVE-2026-25243)
        let bad = [1, 254, 1, 0, 0, 0, b'a', 1, 0, b'1', 0xff];
        assert!(zm(&bad).is_err());
    }
}
