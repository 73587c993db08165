//! The packed encodings Redis stores as one string: listpack, ziplist and intset.

/// The integer rule of the packed encodings, the parser's: see [`rdb_parse::canonical_int`].
pub use rdb_parse::canonical_int;

/// A listpack under construction (Redis 7+ `listpack.c` layout).
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    body: Vec<u8>,
    count: usize,
}

impl Listpack {
    /// An empty listpack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it has no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes of the finished listpack.
    pub fn bytes_len(&self) -> usize {
        self.body.len() + 7
    }

    /// Appends a string (stored as an integer when it is a canonical one, as Redis does).
    pub fn push(&mut self, s: &[u8]) {
        match canonical_int(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an integer in the smallest integer encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.body.len();
        let b = &mut self.body;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            b.push(0xC0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            b.push(0xF3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// Appends a string as a string entry.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.body.len();
        let b = &mut self.body;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = (self.body.len() - start) as u64;
        let b = &mut self.body;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.push((l >> 7) as u8);
            b.push((l & 127) as u8 | 128);
        } else if l < 2_097_151 {
            b.push((l >> 14) as u8);
            b.push(((l >> 7) & 127) as u8 | 128);
            b.push((l & 127) as u8 | 128);
        } else if l < 268_435_455 {
            b.push((l >> 21) as u8);
            b.push(((l >> 14) & 127) as u8 | 128);
            b.push(((l >> 7) & 127) as u8 | 128);
            b.push((l & 127) as u8 | 128);
        } else {
            b.push((l >> 28) as u8);
            b.push(((l >> 21) & 127) as u8 | 128);
            b.push(((l >> 14) & 127) as u8 | 128);
            b.push(((l >> 7) & 127) as u8 | 128);
            b.push((l & 127) as u8 | 128);
        }
        self.count += 1;
    }

    /// Moves the entries of `other` to the end of this listpack.
    pub fn append(&mut self, other: &mut Listpack) {
        self.body.append(&mut other.body);
        self.count += other.count;
        other.count = 0;
    }

    /// The finished listpack bytes (header, entries, terminator); the builder is emptied.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// Like [`Listpack::finish`], into `out` (cleared first); the builder keeps its memory.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let total = self.bytes_len();
        out.clear();
        out.reserve(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xFF);
        self.body.clear();
        self.count = 0;
    }
}

/// A ziplist under construction (the encoding of Redis 2.6-6.2).
#[derive(Clone, Debug, Default)]
pub struct Ziplist {
    body: Vec<u8>,
    count: usize,
    prev_len: usize,
    last_start: usize,
}

impl Ziplist {
    /// An empty ziplist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it has no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes of the finished ziplist.
    pub fn bytes_len(&self) -> usize {
        self.body.len() + 11
    }

    /// Appends a string (as an integer when Redis would: canonical, shorter than 32 bytes).
    pub fn push(&mut self, s: &[u8]) {
        let start = self.body.len();
        if self.prev_len < 254 {
            self.body.push(self.prev_len as u8);
        } else {
            self.body.push(0xFE);
            self.body
                .extend_from_slice(&(self.prev_len as u32).to_le_bytes());
        }
        let b = &mut self.body;
        match canonical_int(s).filter(|_| s.len() < 32) {
            Some(v) if (0..=12).contains(&v) => b.push(0xF1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => {
                b.push(0xFE);
                b.push(v as i8 as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                b.push(0xC0);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => {
                b.push(0xF0);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                b.push(0xD0);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                b.push(0xE0);
                b.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let n = s.len();
                if n < 64 {
                    b.push(n as u8);
                } else if n < 16384 {
                    b.push(0x40 | (n >> 8) as u8);
                    b.push(n as u8);
                } else {
                    b.push(0x80);
                    b.extend_from_slice(&(n as u32).to_be_bytes());
                }
                b.extend_from_slice(s);
            }
        }
        self.prev_len = self.body.len() - start;
        self.last_start = start;
        self.count += 1;
    }

    /// The finished ziplist bytes; the builder is emptied.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// Like [`Ziplist::finish`], into `out` (cleared first); the builder keeps its memory.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let total = self.bytes_len();
        let tail = if self.count == 0 {
            10
        } else {
            10 + self.last_start
        };
        out.clear();
        out.reserve(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.body);
        out.push(0xFF);
        self.body.clear();
        self.count = 0;
        self.prev_len = 0;
        self.last_start = 0;
    }
}

/// An intset of the given members (sorted and de-duplicated here), in the smallest width.
pub fn intset(members: &mut Vec<i64>) -> Vec<u8> {
    let mut out = Vec::new();
    intset_into(members, &mut out);
    out
}

/// Like [`intset`], into `out` (cleared first).
pub fn intset_into(members: &mut Vec<i64>, out: &mut Vec<u8>) {
    members.sort_unstable();
    members.dedup();
    let width: usize = if members.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if members.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    out.clear();
    out.reserve(8 + width * members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members.iter() {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-1"), Some(-1));
        assert_eq!(canonical_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        for s in [
            &b"-0"[..],
            b"007",
            b"+1",
            b"",
            b"-",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(canonical_int(s), None, "{s:?}");
        }
    }
}
