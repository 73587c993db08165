//! Cluster hash slots: the slot a server of a cluster keeps a key in, and sets of slots.

/// Slots in a cluster.
pub const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, init 0), the checksum cluster slots come from.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key`, as `CLUSTER KEYSLOT` gives it: CRC16 of the key modulo 16384, or of its
/// hash tag (the bytes between the first `{` and the first `}` after it, when not empty).
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) & (SLOTS - 1)
}

/// A set of slots, a bit each.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet(Box<[u64; SLOTS as usize / 64]>);

impl std::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotSet({})", self.ranges())
    }
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet(Box::new([0; SLOTS as usize / 64]))
    }
}

impl SlotSet {
    /// Adds the slots `from..=to`.
    pub fn add_range(&mut self, from: u16, to: u16) {
        for s in from..=to.min(SLOTS - 1) {
            self.0[s as usize / 64] |= 1 << (s % 64);
        }
    }

    /// Adds every slot of `other`.
    pub fn add_all(&mut self, other: &SlotSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    /// Whether `slot` is in the set.
    pub fn contains(&self, slot: u16) -> bool {
        slot < SLOTS && self.0[slot as usize / 64] & (1 << (slot % 64)) != 0
    }

    /// Whether the set holds no slot.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Whether the two sets share a slot.
    pub fn overlaps(&self, other: &SlotSet) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// Parses `N`, `A-B`, or several of those joined by `,`: slots 0 to 16383.
    pub fn parse(s: &str) -> Result<SlotSet, String> {
        let mut set = SlotSet::default();
        for part in s.split(',').map(str::trim) {
            let slot = |t: &str| -> Result<u16, String> {
                t.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|&v| v < SLOTS)
                    .ok_or_else(|| format!("'{t}' is not a slot (0 to 16383)"))
            };
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (slot(a)?, slot(b)?),
                None => {
                    let v = slot(part)?;
                    (v, v)
                }
            };
            if a > b {
                return Err(format!("the range {part} runs backwards"));
            }
            set.add_range(a, b);
        }
        Ok(set)
    }

    /// The set as ranges: `0-5460,5461` (empty: nothing).
    pub fn ranges(&self) -> String {
        let mut out = Vec::new();
        let mut s = 0u16;
        while s < SLOTS {
            if !self.contains(s) {
                s += 1;
                continue;
            }
            let start = s;
            while s + 1 < SLOTS && self.contains(s + 1) {
                s += 1;
            }
            out.push(if start == s {
                start.to_string()
            } else {
                format!("{start}-{s}")
            });
            s += 1;
        }
        out.join(",")
    }

    /// How many slots the set holds.
    pub fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_as_the_cluster_specification_gives_them() {
        // The specification's test vector for its CRC16.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        // Hash tags: the first `{` and the first `}` after it, when something is between.
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{"), crc16(b"{") & 16383);
    }

    #[test]
    fn slot_sets_parse_and_print() {
        let s = SlotSet::parse("0-5460, 10000,16383").unwrap();
        assert!(s.contains(0) && s.contains(5460) && !s.contains(5461));
        assert_eq!(s.len(), 5463);
        assert_eq!(s.ranges(), "0-5460,10000,16383");
        assert!(SlotSet::parse("16384").is_err());
        assert!(SlotSet::parse("5-3").is_err());
        assert!(SlotSet::parse("x").is_err());
        assert!(SlotSet::parse("").is_err());
    }
}
