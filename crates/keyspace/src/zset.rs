//! A sorted set past the packed size: each member's score in a table, and, from the first
//! command that needs the order (a pop, a removal by rank, by score or by lex range,
//! ZRANGESTORE), an ordered index of the members, kept up to date from then on.
//!
//! The server keeps a skiplist beside its table for every such set; here the index is built
//! only for the sets a log reads in order, so that a set only ever added to costs no more than
//! its table. With the index, the commands that trim a set from one end (a leaderboard kept to
//! its top entries, a sliding window cut by score or by lex range) take time in what they
//! remove, not in the size of the set. The index holds a second copy of each member.

use crate::packed::{MAX_BYTES, MAX_ENTRIES};
use crate::Map;
use std::collections::BTreeSet;
use std::ops::Bound;

/// A sorted set: member → score, and (once needed) its members in the server's order.
///
/// Reads go through the table ([`std::ops::Deref`] to a [`Map`]); every change goes through
/// the methods here, which keep the index in step.
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: Map<Vec<u8>, f64>,
    order: Option<BTreeSet<Ranked>>,
    /// Past the packed size once: the server holds such a set in a skiplist for good.
    skiplist: bool,
}

/// One member in the order of a sorted set: by score (-0 and 0 equal), then by member.
#[derive(Debug, Clone)]
struct Ranked {
    score: f64,
    member: Box<[u8]>,
}

impl Ranked {
    /// The score as ordered: -0 as 0, so that a total order treats them alike.
    fn key(&self) -> f64 {
        if self.score == 0.0 {
            0.0
        } else {
            self.score
        }
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> std::cmp::Ordering {
        self.key()
            .total_cmp(&other.key())
            .then_with(|| self.member.cmp(&other.member))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.scores == other.scores
    }
}

impl std::ops::Deref for ZSet {
    type Target = Map<Vec<u8>, f64>;

    fn deref(&self) -> &Map<Vec<u8>, f64> {
        &self.scores
    }
}

impl From<Map<Vec<u8>, f64>> for ZSet {
    fn from(scores: Map<Vec<u8>, f64>) -> ZSet {
        let skiplist = scores.len() > MAX_ENTRIES || scores.keys().any(|m| m.len() > MAX_BYTES);
        ZSet {
            scores,
            order: None,
            skiplist,
        }
    }
}

impl FromIterator<(Vec<u8>, f64)> for ZSet {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, f64)>>(it: I) -> ZSet {
        ZSet::from(it.into_iter().collect::<Map<_, _>>())
    }
}

/// A score range end, as ZREMRANGEBYSCORE and ZRANGESTORE BYSCORE take it (`(1.5`: open).
#[derive(Debug, Clone, Copy)]
pub struct ScoreBound {
    /// The score.
    pub v: f64,
    /// Whether the end itself is left out.
    pub open: bool,
}

impl ScoreBound {
    /// Whether `s` is at or past this bound taken as the low end.
    pub fn below(&self, s: f64) -> bool {
        if self.open {
            self.v < s
        } else {
            self.v <= s
        }
    }

    /// Whether `s` is at or before this bound taken as the high end.
    pub fn above(&self, s: f64) -> bool {
        if self.open {
            s < self.v
        } else {
            s <= self.v
        }
    }
}

impl ZSet {
    /// Whether the server holds this set in a skiplist: it was past the packed size (more
    /// than [`MAX_ENTRIES`] members, or one longer than [`MAX_BYTES`]) at some point. The
    /// server never packs such a set again, however small it gets, and keeps its -0 scores.
    pub fn is_skiplist(&self) -> bool {
        self.skiplist
    }

    /// Sets the score of `member`; its previous score, if it was one.
    pub fn insert(&mut self, member: Vec<u8>, score: f64) -> Option<f64> {
        self.skiplist |= member.len() > MAX_BYTES;
        let Some(order) = &mut self.order else {
            let old = self.scores.insert(member, score);
            self.skiplist |= self.scores.len() > MAX_ENTRIES;
            return old;
        };
        match self.scores.get_mut(&member) {
            Some(old) => {
                let was = *old;
                *old = score;
                let mut r = Ranked {
                    score: was,
                    member: member.into_boxed_slice(),
                };
                // The indexed entry is taken out and put back at its new place.
                if let Some(indexed) = order.take(&r) {
                    r = indexed;
                }
                r.score = score;
                order.insert(r);
                Some(was)
            }
            None => {
                self.scores.insert(member.clone(), score);
                let member = member.into_boxed_slice();
                order.insert(Ranked { score, member });
                self.skiplist |= self.scores.len() > MAX_ENTRIES;
                None
            }
        }
    }

    /// Removes `member`; its score, if it was one.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (member, score) = self.scores.remove_entry(member)?;
        if let Some(order) = &mut self.order {
            let member = member.into_boxed_slice();
            order.remove(&Ranked { score, member });
        }
        Some(score)
    }

    /// Keeps the members for which `keep` holds; the ones removed leave the index too.
    pub fn retain(&mut self, mut keep: impl FnMut(&Vec<u8>, &mut f64) -> bool) {
        let gone = self.scores.extract_if(|m, s| !keep(m, s));
        match &mut self.order {
            Some(order) => {
                for (member, score) in gone {
                    let member = member.into_boxed_slice();
                    order.remove(&Ranked { score, member });
                }
            }
            None => gone.for_each(drop),
        }
    }

    /// The index, built from the table the first time.
    fn order(&mut self) -> &mut BTreeSet<Ranked> {
        let scores = &self.scores;
        self.order.get_or_insert_with(|| {
            scores
                .iter()
                .map(|(m, s)| Ranked {
                    score: *s,
                    member: m.as_slice().into(),
                })
                .collect()
        })
    }

    /// The members of ranks `lo..=hi` (from 0, lowest score first; `hi` below the size),
    /// walked from the nearer end: time in the members picked and their distance from it.
    fn ranked(&mut self, lo: usize, hi: usize) -> Vec<&Ranked> {
        let n = self.scores.len();
        let count = hi - lo + 1;
        let order = self.order();
        if lo <= n - 1 - hi {
            order.iter().skip(lo).take(count).collect()
        } else {
            order.iter().rev().skip(n - 1 - hi).take(count).collect()
        }
    }

    /// The members whose scores are within `lo..hi`, lowest first, or highest first with
    /// `rev`: time in the members walked, not in the size of the set.
    fn scored(&mut self, lo: ScoreBound, hi: ScoreBound, rev: bool) -> Vec<&Ranked> {
        let order = self.order();
        if rev {
            // Up to the first member past the high score (the empty member sorts first).
            let end = if hi.v == f64::INFINITY {
                Bound::Unbounded
            } else {
                Bound::Excluded(Ranked {
                    score: hi.v.next_up(),
                    member: Box::default(),
                })
            };
            order
                .range((Bound::Unbounded, end))
                .rev()
                .skip_while(|r| !hi.above(r.score))
                .take_while(|r| lo.below(r.score))
                .collect()
        } else {
            // From the first member at the low score, past the ones an open end leaves out.
            let start = Ranked {
                score: lo.v,
                member: Box::default(),
            };
            order
                .range((Bound::Included(start), Bound::Unbounded))
                .skip_while(|r| !lo.below(r.score))
                .take_while(|r| hi.above(r.score))
                .collect()
        }
    }

    /// Removes the members of ranks `lo..=hi` (from 0, lowest score first; `hi` below the
    /// size), walking from the nearer end.
    pub fn remove_ranks(&mut self, lo: usize, hi: usize) {
        let n = self.scores.len();
        if lo > hi || hi >= n {
            return;
        }
        let gone: Vec<Ranked> = if lo == 0 {
            let order = self.order();
            (lo..=hi).filter_map(|_| order.pop_first()).collect()
        } else if hi == n - 1 {
            let order = self.order();
            (lo..=hi).filter_map(|_| order.pop_last()).collect()
        } else {
            let picked = self.ranked(lo, hi).into_iter().cloned().collect();
            self.drop_picked(picked);
            return;
        };
        for r in gone {
            self.scores.remove(&r.member[..]);
        }
    }

    /// Removes `picked`, members read from the index, from the index and the table.
    fn drop_picked(&mut self, picked: Vec<Ranked>) {
        if let Some(order) = &mut self.order {
            for r in &picked {
                order.remove(r);
            }
        }
        for r in picked {
            self.scores.remove(&r.member[..]);
        }
    }

    /// Removes the members whose scores are within `lo..hi` (each end open or not).
    pub fn remove_scores(&mut self, lo: ScoreBound, hi: ScoreBound) {
        let picked = self.scored(lo, hi, false).into_iter().cloned().collect();
        self.drop_picked(picked);
    }

    /// Removes the members from `from` on (in member order) for which `ge` and `le` hold,
    /// walking only those, when every score is the same (lex ranges are defined for such sets
    /// only); false, and nothing done, when the scores differ. `ge` holds from some member on
    /// and `le` up to some member: the ends of a lex range.
    pub fn remove_lex(
        &mut self,
        from: &[u8],
        ge: impl Fn(&[u8]) -> bool,
        le: impl Fn(&[u8]) -> bool,
    ) -> bool {
        // One score for all: the ends of the index, or (before there is one) every score.
        let same = |a: f64, b: f64| a == b;
        let score = match &self.order {
            Some(order) => match (order.first(), order.last()) {
                (Some(a), Some(b)) if same(a.score, b.score) => a.score,
                (Some(_), Some(_)) => return false,
                _ => return true,
            },
            None => {
                let mut scores = self.scores.values();
                let Some(&first) = scores.next() else {
                    return true;
                };
                if !scores.all(|&s| same(s, first)) {
                    return false;
                }
                first
            }
        };
        let order = self.order();
        let start = Ranked {
            score,
            member: from.into(),
        };
        let picked: Vec<Ranked> = order
            .range((Bound::Included(start), Bound::Unbounded))
            .skip_while(|r| !ge(&r.member))
            .take_while(|r| le(&r.member))
            .cloned()
            .collect();
        self.drop_picked(picked);
        true
    }

    /// The members of ranks `lo..=hi` (`hi` past the end is the last), counted from the
    /// lowest score, or from the highest with `rev`, with their scores; in no set order.
    pub fn by_rank(&mut self, lo: usize, hi: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let n = self.scores.len();
        if lo > hi || lo >= n {
            return Vec::new();
        }
        let hi = hi.min(n - 1);
        let (lo, hi) = if rev {
            (n - 1 - hi, n - 1 - lo)
        } else {
            (lo, hi)
        };
        let picked = self.ranked(lo, hi);
        picked
            .into_iter()
            .map(|r| (r.member.to_vec(), r.score))
            .collect()
    }

    /// The members whose scores are within `lo..hi`, taken in order (highest first with
    /// `rev`) after skipping `skip`, at most `take` of them, with their scores.
    pub fn by_score(
        &mut self,
        lo: ScoreBound,
        hi: ScoreBound,
        rev: bool,
        skip: usize,
        take: Option<usize>,
    ) -> Vec<(Vec<u8>, f64)> {
        self.scored(lo, hi, rev)
            .into_iter()
            .skip(skip)
            .take(take.unwrap_or(usize::MAX))
            .map(|r| (r.member.to_vec(), r.score))
            .collect()
    }

    /// The members with their scores, lowest first (the server's order).
    pub fn sorted(&mut self) -> Vec<(Vec<u8>, f64)> {
        self.order()
            .iter()
            .map(|r| (r.member.to_vec(), r.score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members by (score, member), sorted outright: the reference.
    fn reference(z: &Map<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
        // partial_cmp takes -0 and 0 as equal, as the server does.
        v.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .expect("no NaN")
                .then_with(|| a.0.cmp(&b.0))
        });
        v
    }

    fn rng(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// A random set: scores with many ties, -0 beside 0, members of every short length.
    fn random_set(next: &mut impl FnMut() -> u64, size: usize) -> Map<Vec<u8>, f64> {
        let mut z: Map<Vec<u8>, f64> = Map::default();
        while z.len() < size {
            let member = (0..next() % 4).map(|_| b'a' + (next() % 3) as u8).collect();
            let score = match next() % 4 {
                0 => -0.0,
                1 => 0.0,
                _ => (next() % 3) as f64 - 1.0,
            };
            z.insert(member, score);
        }
        z
    }

    /// Removing every range of ranks, with the index built before or by the removal, leaves
    /// the members outside that slice of the sorted order.
    #[test]
    fn removed_ranks_are_the_sorted_order_s_slices() {
        let mut next = rng(0x2545_f491_4f6c_dd1d);
        for size in [1usize, 2, 3, 7, 40] {
            for round in 0..20 {
                let z = random_set(&mut next, size);
                let order = reference(&z);
                for lo in 0..size {
                    for hi in lo..size {
                        let mut set = ZSet::from(z.clone());
                        if round % 2 == 0 {
                            set.sorted();
                        }
                        set.remove_ranks(lo, hi);
                        let mut want = order.clone();
                        want.drain(lo..=hi);
                        assert_eq!(set.sorted(), want, "{z:?} ranks {lo}..={hi}");
                        assert_eq!(set.len(), want.len());
                    }
                }
            }
        }
    }

    /// Ranges read by rank or by score, either way, are the slices and filters of the sorted
    /// order: every rank range (past the end too), score ends open and closed, infinite ones.
    #[test]
    fn ranges_read_are_the_sorted_order_s_slices() {
        let mut next = rng(0x5851_f42d_4c95_7f2d);
        let sorted_bits = |v: Vec<(Vec<u8>, f64)>| {
            let mut v: Vec<(Vec<u8>, u64)> = v.into_iter().map(|(m, s)| (m, s.to_bits())).collect();
            v.sort();
            v
        };
        for size in [1usize, 2, 5, 30] {
            for _ in 0..10 {
                let z = random_set(&mut next, size);
                let order = reference(&z);
                let mut set = ZSet::from(z.clone());
                for rev in [false, true] {
                    let mut seen = order.clone();
                    if rev {
                        seen.reverse();
                    }
                    for lo in 0..size + 1 {
                        for hi in lo..size + 2 {
                            let want = seen[lo.min(size)..(hi + 1).min(size)].to_vec();
                            let got = set.by_rank(lo, hi, rev);
                            assert_eq!(sorted_bits(got), sorted_bits(want), "{lo}..={hi} {rev}");
                        }
                    }
                    let ends = [f64::NEG_INFINITY, -1.0, -0.0, 0.0, 0.5, 1.0, f64::INFINITY];
                    for &l in &ends {
                        for &h in &ends {
                            for (lo_open, hi_open) in
                                [(false, false), (true, false), (false, true), (true, true)]
                            {
                                let lo = ScoreBound {
                                    v: l,
                                    open: lo_open,
                                };
                                let hi = ScoreBound {
                                    v: h,
                                    open: hi_open,
                                };
                                let within: Vec<(Vec<u8>, f64)> = seen
                                    .iter()
                                    .filter(|(_, s)| lo.below(*s) && hi.above(*s))
                                    .cloned()
                                    .collect();
                                for (skip, take) in
                                    [(0, None), (1, Some(2)), (3, None), (0, Some(0))]
                                {
                                    let it = within.iter().skip(skip).cloned();
                                    let want: Vec<(Vec<u8>, f64)> = match take {
                                        Some(n) => it.take(n).collect(),
                                        None => it.collect(),
                                    };
                                    let got = set.by_score(lo, hi, rev, skip, take);
                                    let bits = |v: &[(Vec<u8>, f64)]| -> Vec<(Vec<u8>, u64)> {
                                        v.iter().map(|(m, s)| (m.clone(), s.to_bits())).collect()
                                    };
                                    assert_eq!(
                                        bits(&got),
                                        bits(&want),
                                        "{lo:?} {hi:?} {rev} {skip}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A lex range removed through the index from a set of one score (-0 beside 0) leaves
    /// what a filter leaves; a set of several scores is left to the filter.
    #[test]
    fn lex_ranges_removed_are_the_filter_s() {
        let mut next = rng(0x1405_7b7e_f767_814f);
        for round in 0..300 {
            let size = 1 + (next() % 12) as usize;
            let mut z = random_set(&mut next, size);
            let mixed = round % 5 == 0;
            for (i, s) in z.values_mut().enumerate() {
                *s = if mixed {
                    i as f64
                } else if i % 2 == 0 {
                    0.0
                } else {
                    -0.0
                };
            }
            let word = |next: &mut dyn FnMut() -> u64| -> Vec<u8> {
                (0..next() % 3).map(|_| b'a' + (next() % 3) as u8).collect()
            };
            let (lo, hi) = (word(&mut next), word(&mut next));
            let (lo_open, hi_open) = (next() % 2 == 1, next() % 2 == 1);
            let ge = |m: &[u8]| {
                if lo_open {
                    m > lo.as_slice()
                } else {
                    m >= lo.as_slice()
                }
            };
            let le = |m: &[u8]| {
                if hi_open {
                    m < hi.as_slice()
                } else {
                    m <= hi.as_slice()
                }
            };
            let mut want = z.clone();
            want.retain(|m, _| !(ge(m) && le(m)));
            let mut set = ZSet::from(z.clone());
            if round % 2 == 0 {
                set.sorted();
            }
            let done = set.remove_lex(&lo, ge, le);
            assert_eq!(done, !mixed || z.len() < 2);
            if done {
                assert_eq!(set.scores, want, "{z:?} {lo:?} {hi:?}");
                assert_eq!(set.sorted().len(), want.len());
            } else {
                assert_eq!(set.scores, z);
            }
        }
    }

    /// Changes made with the index in place keep it equal to a fresh sort of the table.
    #[test]
    fn the_index_follows_every_change() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let mut set = ZSet::from(random_set(&mut next, 10));
            set.sorted();
            for _ in 0..30 {
                let member: Vec<u8> = (0..next() % 4).map(|_| b'a' + (next() % 3) as u8).collect();
                match next() % 5 {
                    0 | 1 => {
                        let score = match next() % 3 {
                            0 => -0.0,
                            1 => 0.0,
                            _ => (next() % 5) as f64 - 2.0,
                        };
                        set.insert(member, score);
                    }
                    2 if next().is_multiple_of(2) => {
                        set.remove(&member);
                    }
                    2 => {
                        // A filter: the members of one length go.
                        let len = (next() % 4) as usize;
                        set.retain(|m, _| m.len() != len);
                    }
                    3 => {
                        let lo = ScoreBound {
                            v: (next() % 5) as f64 - 2.0,
                            open: next().is_multiple_of(2),
                        };
                        let hi = ScoreBound {
                            v: lo.v + (next() % 3) as f64,
                            open: next().is_multiple_of(2),
                        };
                        let mut want = set.scores.clone();
                        want.retain(|_, s| !(lo.below(*s) && hi.above(*s)));
                        set.remove_scores(lo, hi);
                        assert_eq!(set.scores, want, "scores {lo:?}..{hi:?}");
                    }
                    _ => {
                        let n = set.len();
                        if n > 0 {
                            let lo = (next() as usize) % n;
                            set.remove_ranks(lo, lo + (next() as usize) % (n - lo));
                        }
                    }
                }
                let fresh = reference(&set.scores);
                let kept: Vec<(Vec<u8>, u64)> = set
                    .sorted()
                    .into_iter()
                    .map(|(m, s)| (m, s.to_bits()))
                    .collect();
                let want: Vec<(Vec<u8>, u64)> =
                    fresh.into_iter().map(|(m, s)| (m, s.to_bits())).collect();
                assert_eq!(kept.len(), want.len());
                assert_eq!(kept, want);
            }
        }
    }
}
