//! The sizes the servers' allocators and encodings give: allocator size classes, sds headers,
//! listpack and ziplist entries, and the node count of a radix tree of stream ids.

/// The allocator a server was built with: its size classes decide what `zmalloc_size` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// jemalloc 5 as Redis and Valkey build it from their sources (`make`, official release
    /// builds and container images): an 8-byte quantum, so 24-, 40- and 56-byte classes.
    Jemalloc,
    /// A distribution's shared libjemalloc 5 (Debian's and Ubuntu's redis-server packages):
    /// a 16-byte quantum.
    JemallocQ16,
    /// glibc's malloc (`mem_allocator:libc`): `malloc_usable_size` of a chunk.
    Libc,
}

impl Allocator {
    /// The usable size of an allocation of `n` bytes.
    pub fn usable(self, n: u64) -> u64 {
        match self {
            Allocator::Jemalloc => jemalloc_class_q8(n),
            Allocator::JemallocQ16 => jemalloc_class(n),
            Allocator::Libc => glibc_usable(n),
        }
    }

    /// The name `INFO memory` gives it (`mem_allocator`), without a version.
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Jemalloc => "jemalloc",
            Allocator::JemallocQ16 => "jemalloc-q16",
            Allocator::Libc => "libc",
        }
    }

    /// The allocator a name stands for.
    pub fn by_name(name: &str) -> Option<Allocator> {
        match name {
            "jemalloc" => Some(Allocator::Jemalloc),
            "jemalloc-q16" => Some(Allocator::JemallocQ16),
            "libc" => Some(Allocator::Libc),
            _ => None,
        }
    }
}

/// jemalloc 5's size class with an 8-byte quantum (`--with-lg-quantum=3`, as Redis builds its
/// own copy): multiples of 8 up to 64, then as with a 16-byte quantum.
pub fn jemalloc_class_q8(n: u64) -> u64 {
    if n <= 64 {
        n.max(1).div_ceil(8) * 8
    } else {
        jemalloc_class(n)
    }
}

/// jemalloc 5's size class of a request of `n` bytes with a 16-byte quantum (x86_64's default:
/// 8, then multiples of 16 up to 128, then four classes per doubling, small and large alike).
pub fn jemalloc_class(n: u64) -> u64 {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let lg = 63 - (n - 1).leading_zeros() as u64; // floor(log2(n - 1))
    let delta = 1u64 << (lg - 2);
    n.div_ceil(delta) * delta
}

/// glibc's `malloc_usable_size` of a request of `n` bytes on x86_64: chunks of 16-byte
/// granularity with an 8-byte header, 32 bytes at least; past the mmap threshold (128 KiB at
/// start), whole pages less the 16-byte header.
pub fn glibc_usable(n: u64) -> u64 {
    let chunk = ((n + 8 + 15) & !15).max(32);
    if chunk >= 128 * 1024 {
        (chunk + 8).div_ceil(4096) * 4096 - 16
    } else {
        chunk - 8
    }
}

/// The header length of an sds string of `len` bytes, as `sdsnewlen` picks its type
/// (type 5 below 32 bytes: a 1-byte header).
pub fn sds_header(len: u64) -> u64 {
    if len < 32 {
        1
    } else if len < 256 {
        3
    } else if len < 65536 {
        5
    } else if len < (1 << 32) {
        9
    } else {
        17
    }
}

/// The header length of an sds string of `len` bytes made where type 5 is not allowed
/// (`sdsnewlen` of an empty string, `sdsMakeRoomFor`): type 8 at least.
pub fn sds_header8(len: u64) -> u64 {
    sds_header(len).max(3)
}

/// The value of `s` when a server stores it as an integer (canonical decimal text of at most
/// 20 bytes that fits an i64), as the writer of packed encodings decides it.
pub use rdb_write::blob::canonical_int as as_int;

/// The length of a listpack entry's backlen field for an entry of `l` bytes.
fn lp_backlen(l: u64) -> u64 {
    rdb_parse::blob::lp_backlen_size(l as usize) as u64
}

/// The bytes a listpack entry takes: an integer in the smallest encoding, or a string.
pub fn lp_entry_int(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8388608..=8388607).contains(&v) {
        4
    } else if (-2147483648..=2147483647).contains(&v) {
        5
    } else {
        9
    };
    enc + lp_backlen(enc)
}

/// The bytes a listpack string entry of `len` bytes takes.
pub fn lp_entry_str(len: u64) -> u64 {
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    enc + lp_backlen(enc)
}

/// The bytes a listpack entry of `s` takes (a canonical integer is stored as one).
pub fn lp_entry(s: &[u8]) -> u64 {
    match as_int(s) {
        Some(v) => lp_entry_int(v),
        None => lp_entry_str(s.len() as u64),
    }
}

/// A listpack's header and end byte.
pub const LP_EMPTY: u64 = 7;

/// The bytes a ziplist entry of `s` takes after an entry of `prev` bytes, without its prevlen
/// field; returns (entry bytes including prevlen).
pub fn zl_entry(s: &[u8], prev: u64) -> u64 {
    let prevlen = if prev < 254 { 1 } else { 5 };
    let body = match (s.len() <= 32).then(|| as_int(s)).flatten() {
        Some(v) => {
            if (0..=12).contains(&v) {
                1
            } else if (-128..=127).contains(&v) {
                2
            } else if (-32768..=32767).contains(&v) {
                3
            } else if (-8388608..=8388607).contains(&v) {
                4
            } else if (-2147483648..=2147483647).contains(&v) {
                5
            } else {
                9
            }
        }
        None => {
            let l = s.len() as u64;
            if l <= 63 {
                1 + l
            } else if l <= 16383 {
                2 + l
            } else {
                5 + l
            }
        }
    };
    prevlen + body
}

/// A ziplist's header and end byte.
pub const ZL_EMPTY: u64 = 11;

/// The smallest power of two at least `n`, and at least `min`.
pub fn next_pow2(n: u64, min: u64) -> u64 {
    n.max(min).next_power_of_two()
}

/// The nodes of a radix tree (`rax`) holding 16-byte keys inserted in increasing order, as
/// Redis and Valkey build it: one node per branching point, one compressed node per chain of
/// single children, one empty node per key, and the root. Counts them (what Redis's
/// `streamRadixTreeMemoryUsage` needs) and sums their allocations (Valkey 8.1's
/// `raxAllocSize`) under `alloc`, without holding the keys.
#[derive(Debug, Clone)]
pub struct RaxCount {
    alloc: Allocator,
    prev: Option<[u8; 16]>,
    /// The longest common prefix of the last key with the one before it.
    prev_lcp: Option<u8>,
    keys: u64,
    nodes: u64,
    bytes: u64,
    /// The branching nodes on the path of the last key: (depth, children), depth increasing.
    path: Vec<(u8, u64)>,
}

/// The padding after a node's `n` bytes of characters (`raxPadding`).
fn rax_pad(n: u64) -> u64 {
    (8 - ((n + 4) % 8)) & 7
}

impl RaxCount {
    /// An empty tree, its node allocations sized by `alloc`.
    pub fn new(alloc: Allocator) -> RaxCount {
        RaxCount {
            alloc,
            prev: None,
            prev_lcp: None,
            keys: 0,
            nodes: 0,
            bytes: 0,
            path: Vec::new(),
        }
    }

    /// A node of `chars` characters: compressed (one child pointer) or branching (a pointer
    /// per character), with a value pointer when it holds a key.
    fn node(&mut self, chars: u64, compressed: bool, key: bool) {
        let ptrs = if compressed { 1 } else { chars };
        let n = 4 + chars + rax_pad(chars) + 8 * ptrs + if key { 8 } else { 0 };
        self.nodes += 1;
        self.bytes += self.alloc.usable(n);
    }

    /// The chain of single children between an important node at `depth` and its parent
    /// (the branching node at `parent`, or none: -1), as one compressed node.
    fn chain(&mut self, depth: i32, parent: i32) {
        let len = depth - parent - 1;
        if len > 0 {
            self.node(len as u64, true, false);
        }
    }

    /// The last key's leaf, once the depth of its parent is known.
    fn close_leaf(&mut self, parent: i32) {
        self.node(0, false, true);
        self.chain(16, parent);
    }

    /// A branching node left the path: its parent is `parent`.
    fn close_branch(&mut self, depth: u8, children: u64, parent: i32) {
        self.node(children, false, false);
        self.chain(depth as i32, parent);
    }

    /// Adds a key, larger than every key added before (a smaller or equal one is ignored).
    pub fn push(&mut self, key: [u8; 16]) {
        let Some(prev) = self.prev else {
            self.prev = Some(key);
            self.keys = 1;
            return;
        };
        if key <= prev {
            return;
        }
        let p = prev.iter().zip(&key).take_while(|(a, b)| a == b).count() as u8;
        // The previous key's leaf hangs from the deeper of its two branching points.
        let leaf_parent = self.prev_lcp.map_or(p, |q| q.max(p));
        self.close_leaf(leaf_parent as i32);
        while let Some(&(d, k)) = self.path.last() {
            if d <= p {
                break;
            }
            self.path.pop();
            let parent = match self.path.last() {
                Some(&(e, _)) if e > p => e,
                _ => p,
            };
            self.close_branch(d, k, parent as i32);
        }
        match self.path.last_mut() {
            Some((d, k)) if *d == p => *k += 1,
            _ => self.path.push((p, 2)),
        }
        self.prev = Some(key);
        self.prev_lcp = Some(p);
        self.keys += 1;
    }

    /// The keys added.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The finished tree: (nodes, allocated bytes of the nodes).
    fn finish(&self) -> (u64, u64) {
        let mut t = self.clone();
        if t.keys == 0 {
            t.node(0, false, false);
            return (t.nodes, t.bytes);
        }
        let leaf_parent = t.prev_lcp.map_or(-1, |q| q as i32);
        t.close_leaf(leaf_parent);
        while let Some((d, k)) = t.path.pop() {
            let parent = t.path.last().map_or(-1, |&(e, _)| e as i32);
            t.close_branch(d, k, parent);
        }
        (t.nodes, t.bytes)
    }

    /// The tree's nodes (1 for an empty tree: its root).
    pub fn nodes(&self) -> u64 {
        self.finish().0
    }

    /// The allocated bytes of the tree's nodes (Valkey 8.1 counts them, with the tree's own
    /// 32-byte struct).
    pub fn node_bytes(&self) -> u64 {
        self.finish().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        let want = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (128, 128),
            (129, 160),
            (161, 192),
            (257, 320),
            (1025, 1280),
            (4097, 5120),
            (16385, 20480),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, (1 << 20) + (1 << 18)),
        ];
        for (n, c) in want {
            assert_eq!(jemalloc_class(n), c, "{n}");
        }
    }

    #[test]
    fn glibc_sizes() {
        for (n, u) in [
            (0, 24),
            (24, 24),
            (25, 40),
            (40, 40),
            (41, 56),
            (1000, 1000),
            (1001, 1016),
        ] {
            assert_eq!(glibc_usable(n), u, "{n}");
        }
    }

    /// A plain trie over the keys, compressed as rax compresses it, counted the slow way.
    fn rax_nodes_slow(keys: &[[u8; 16]]) -> u64 {
        fn count(keys: &[[u8; 16]], depth: usize, chain: bool) -> u64 {
            // `keys` share their first `depth` bytes; `chain` says whether the node that holds
            // this prefix is a compressed node already counted.
            if depth == 16 {
                return 1; // the empty leaf of the key
            }
            let mut groups: Vec<&[[u8; 16]]> = Vec::new();
            let mut start = 0;
            for i in 1..=keys.len() {
                if i == keys.len() || keys[i][depth] != keys[start][depth] {
                    groups.push(&keys[start..i]);
                    start = i;
                }
            }
            if groups.len() == 1 {
                // A single child: part of a compressed chain (a new node if none is open).
                u64::from(!chain) + count(keys, depth + 1, true)
            } else {
                // A branching node; each child starts a new node.
                1 + groups
                    .iter()
                    .map(|g| count(g, depth + 1, false))
                    .sum::<u64>()
            }
        }
        if keys.is_empty() {
            return 1;
        }
        count(keys, 0, false)
    }

    /// Valkey's node allocations over the same trie (glibc sizes).
    fn rax_bytes_slow(keys: &[[u8; 16]]) -> u64 {
        let u = |n: u64| glibc_usable(n);
        fn node(keys: &[[u8; 16]], d: usize, u: &dyn Fn(u64) -> u64) -> u64 {
            if d == 16 {
                return u(4 + rax_pad(0) + 8);
            }
            let first = keys[0];
            let p = (0..16 - d)
                .find(|&j| keys.iter().any(|k| k[d + j] != first[d + j]))
                .unwrap_or(16 - d) as u64;
            if p > 0 {
                return u(4 + p + rax_pad(p) + 8) + node(keys, d + p as usize, u);
            }
            let mut groups: Vec<&[[u8; 16]]> = Vec::new();
            let mut start = 0;
            for i in 1..=keys.len() {
                if i == keys.len() || keys[i][d] != keys[start][d] {
                    groups.push(&keys[start..i]);
                    start = i;
                }
            }
            let k = groups.len() as u64;
            u(4 + k + rax_pad(k) + 8 * k) + groups.iter().map(|g| node(g, d + 1, u)).sum::<u64>()
        }
        if keys.is_empty() {
            return u(4 + rax_pad(0));
        }
        node(keys, 0, &u)
    }

    #[test]
    fn rax_count_matches_a_trie() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let n = (next() % 40) as usize;
            let base = next() % 1000;
            let mut keys: Vec<[u8; 16]> = (0..n)
                .map(|_| {
                    let ms = base + next() % (1 + round as u64 * 7);
                    let seq = next() % 3;
                    let mut k = [0u8; 16];
                    k[..8].copy_from_slice(&ms.to_be_bytes());
                    k[8..].copy_from_slice(&seq.to_be_bytes());
                    k
                })
                .collect();
            keys.sort();
            keys.dedup();
            let mut rc = RaxCount::new(Allocator::Libc);
            for k in &keys {
                rc.push(*k);
            }
            assert_eq!(rc.nodes(), rax_nodes_slow(&keys), "{keys:?}");
            assert_eq!(rc.node_bytes(), rax_bytes_slow(&keys), "{keys:?}");
        }
    }
}
