//! Sorted sets: ZADD, ZINCRBY, the pops and range removals, ZREM, the Z*STORE commands and
//! ZRANGESTORE. Also the GEO commands that store, whose values are sorted sets (see
//! [`crate::geo`]).

use super::access::{existing, typed};
use super::args::arity;
use crate::num::{float, int, uint};
use crate::{text, Entry, Error, Keyspace, Map, ScoreBound, Set, Value, ZSet};

impl Keyspace {
    /// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member...
    pub(crate) fn zadd(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let (mut nx, mut xx, mut gt, mut lt, mut incr) = (false, false, false, false, false);
        let mut i = 2;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"NX" => nx = true,
                b"XX" => xx = true,
                b"GT" => gt = true,
                b"LT" => lt = true,
                b"CH" => {}
                b"INCR" => incr = true,
                _ => break,
            }
            i += 1;
        }
        if xx && !self.db_mut().contains_key(a[1]) {
            return Ok(());
        }
        let pairs = &a[i..];
        if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
            return Err(Error::Syntax("ZADD pairs".into()));
        }
        let z = typed!(self, a[1], ZSet, "ZADD");
        for p in pairs.chunks(2) {
            let s = float(p[0])?;
            match z.get(p[1]).copied() {
                Some(_) if nx => {}
                None if xx => {}
                Some(old) => {
                    let new = if incr { old + s } else { s };
                    if (gt && new <= old) || (lt && new >= old) || new.is_nan() {
                        continue;
                    }
                    z.insert(p[1].to_vec(), new);
                }
                None => {
                    z.insert(p[1].to_vec(), s);
                }
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZINCRBY key increment member.
    pub(crate) fn zincrby(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let by = float(a[2])?;
        let z = typed!(self, a[1], ZSet, "ZINCRBY");
        // A new member gets the increment itself (-0 stays -0).
        let v = z.get(a[3]).map_or(by, |s| s + by);
        if v.is_nan() {
            return Err(Error::Syntax("ZINCRBY to NaN".into()));
        }
        z.insert(a[3].to_vec(), v);
        Ok(())
    }

    /// ZPOPMIN / ZPOPMAX key [count].
    pub(crate) fn zpop(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        let n = match a.get(2) {
            Some(c) => int(c)?.max(0) as usize,
            None => 1,
        };
        if let Some(z) = existing!(self, a[1], ZSet, "ZPOP") {
            let len = z.len();
            let n = n.min(len);
            if n > 0 {
                let (lo, hi) = if name == b"ZPOPMAX" {
                    (len - n, len - 1)
                } else {
                    (0, n - 1)
                };
                z.remove_ranks(lo, hi);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZREMRANGEBYRANK key start stop.
    pub(crate) fn zremrangebyrank(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let (s, e) = (int(a[2])?, int(a[3])?);
        if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYRANK") {
            let n = z.len() as i64;
            let s = if s < 0 { (n + s).max(0) } else { s };
            let e = if e < 0 { n + e } else { e.min(n - 1) };
            if s <= e && s < n {
                z.remove_ranks(s as usize, e as usize);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZREMRANGEBYSCORE key min max.
    pub(crate) fn zremrangebyscore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let (lo, hi) = (score_bound(a[2])?, score_bound(a[3])?);
        if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYSCORE") {
            z.remove_scores(lo, hi);
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZREMRANGEBYLEX key min max.
    pub(crate) fn zremrangebylex(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        // Defined for sorted sets whose scores are all equal (the server's result on
        // others depends on its encoding).
        arity(a, 4)?;
        let (lo, hi) = (lex_bound(a[2])?, lex_bound(a[3])?);
        if let Some(z) = existing!(self, a[1], ZSet, "ZREMRANGEBYLEX") {
            let from = match &lo {
                LexBound::In(x) | LexBound::Ex(x) => x.as_slice(),
                LexBound::Min | LexBound::Max => &[],
            };
            // Through the order when the scores are equal; a plain filter otherwise.
            if !z.remove_lex(from, |m| lex_ge(m, &lo), |m| lex_le(m, &hi)) {
                z.retain(|m, _| !(lex_ge(m, &lo) && lex_le(m, &hi)));
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZREM key member...
    pub(crate) fn zrem(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if let Some(z) = existing!(self, a[1], ZSet, "ZREM") {
            for m in &a[2..] {
                z.remove(m);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE dest numkeys key... [WEIGHTS w...] [AGGREGATE
    /// SUM|MIN|MAX]; sets count as members of score 1.
    pub(crate) fn zstore(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        if a.len() < 4 {
            return Err(Error::Syntax("Z*STORE dest numkeys key...".into()));
        }
        let n = usize::try_from(uint(a[2])?).unwrap_or(usize::MAX);
        if n == 0 || n > a.len() - 3 {
            return Err(Error::Syntax("Z*STORE numkeys".into()));
        }
        let mut weights = vec![1.0f64; n];
        let mut agg = b"SUM".to_vec();
        let mut i = 3 + n;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"WEIGHTS" if i + n < a.len() => {
                    for (k, w) in weights.iter_mut().enumerate() {
                        *w = float(a[i + 1 + k])?;
                    }
                    i += 1 + n;
                }
                b"AGGREGATE" if i + 1 < a.len() => {
                    agg = a[i + 1].to_ascii_uppercase();
                    i += 2;
                }
                _ => return Err(Error::Syntax("Z*STORE option".into())),
            }
        }
        let out = {
            let held = self.sources(&a[3..3 + n], "Z*STORE", |v| {
                matches!(v, Value::ZSet(_) | Value::Set(_))
            })?;
            let srcs: Vec<Source<'_>> = (0..n)
                .map(|i| match held.get(i) {
                    Some(Value::ZSet(z)) => Source::ZSet(z),
                    Some(Value::Set(s)) => Source::Set(s),
                    _ => Source::Missing,
                })
                .collect();
            combine_sources(name, &srcs, &weights, &agg)
        };
        self.store_zset(a[1], out);
        Ok(())
    }

    /// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]: the
    /// range is stored at dst (without a TTL), or dst deleted when it is empty.
    pub(crate) fn zrangestore(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 5)?;
        let (mut by_score, mut by_lex, mut rev) = (false, false, false);
        let mut limit: Option<(i64, i64)> = None;
        let mut i = 5;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"BYSCORE" => by_score = true,
                b"BYLEX" => by_lex = true,
                b"REV" => rev = true,
                b"LIMIT" if i + 2 < a.len() => {
                    limit = Some((int(a[i + 1])?, int(a[i + 2])?));
                    i += 2;
                }
                _ => return Err(Error::Syntax(format!("ZRANGESTORE option {}", text(a[i])))),
            }
            i += 1;
        }
        if (by_score && by_lex) || (limit.is_some() && !by_score && !by_lex) {
            return Err(Error::Syntax("ZRANGESTORE options".into()));
        }
        // With REV, the range is given from its high end.
        let (lo, hi) = if rev && (by_score || by_lex) {
            (a[4], a[3])
        } else {
            (a[3], a[4])
        };
        // LIMIT: a negative offset selects nothing; a negative count, everything after it.
        let (skip, take) = match limit {
            Some((off, _)) if off < 0 => (usize::MAX, Some(0)),
            Some((off, count)) => (off as usize, usize::try_from(count).ok()),
            None => (0, None),
        };
        let z = existing!(self, a[2], ZSet, "ZRANGESTORE");
        let picked: Vec<(Vec<u8>, f64)> = if by_score {
            let (lo, hi) = (score_bound(lo)?, score_bound(hi)?);
            z.map_or_else(Vec::new, |z| z.by_score(lo, hi, rev, skip, take))
        } else if by_lex {
            let (lo, hi) = (lex_bound(lo)?, lex_bound(hi)?);
            let mut order = z.map_or_else(Vec::new, |z| z.sorted());
            order.retain(|(m, _)| lex_ge(m, &lo) && lex_le(m, &hi));
            if rev {
                order.reverse();
            }
            order
                .into_iter()
                .skip(skip)
                .take(take.unwrap_or(usize::MAX))
                .collect()
        } else {
            let n = z.as_ref().map_or(0, |z| z.len()) as i64;
            let (mut s, mut e) = (int(lo)?, int(hi)?);
            if s < 0 {
                s += n;
            }
            if e < 0 {
                e += n;
            }
            s = s.max(0);
            match z {
                Some(z) if s <= e && s < n => z.by_rank(s as usize, e as usize, rev),
                _ => Vec::new(),
            }
        };
        self.store_zset(a[1], picked.into_iter().collect());
        Ok(())
    }

    /// GEOADD: the ZADD the server turns it into.
    pub(crate) fn geoadd(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let zadd = crate::geo::geoadd_as_zadd(a)?;
        let argv: Vec<&[u8]> = zadd.iter().map(Vec::as_slice).collect();
        self.zadd(&argv)
    }

    /// GEOSEARCHSTORE, and GEORADIUS / GEORADIUSBYMEMBER with STORE or STOREDIST.
    pub(crate) fn geo_store(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        let src = crate::geo::geo_source_key(a)?;
        let stored = match self.found(src) {
            None => crate::geo::geo_store(a, None)?,
            Some(f) => match f.value().as_deref() {
                Some(Value::ZSet(z)) => crate::geo::geo_store(a, Some(z))?,
                _ => {
                    return Err(Error::WrongType(format!(
                        "{} on a {}",
                        text(a[0]),
                        f.type_name()
                    )))
                }
            },
        };
        self.store_zset(&stored.dest, stored.members.into_iter().collect());
        Ok(())
    }

    /// Writes `members` as the sorted set at `dest` (without a TTL), or deletes `dest` when
    /// there is none, as the *STORE commands do.
    fn store_zset(&mut self, dest: &[u8], z: Map<Vec<u8>, f64>) {
        let db = self.db_mut();
        if z.is_empty() {
            db.remove(dest);
        } else {
            let z = Box::new(ZSet::from(z));
            db.insert(
                dest,
                Entry {
                    value: Value::ZSet(z),
                    expire_ms: None,
                },
            );
        }
    }
}

/// A source of the Z*STORE commands, read in place: a sorted set, a set (every member scores
/// 1), or a missing key (empty).
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    ZSet(&'a Map<Vec<u8>, f64>),
    Set(&'a Set<Vec<u8>>),
}

impl<'a> Source<'a> {
    /// The score of `m`, `None` when it is not a member.
    fn score(self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.get(m).copied(),
            Source::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every member with its score.
    fn members(self) -> Box<dyn Iterator<Item = (&'a Vec<u8>, f64)> + 'a> {
        match self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new(z.iter().map(|(m, s)| (m, *s))),
            Source::Set(s) => Box::new(s.iter().map(|m| (m, 1.0))),
        }
    }
}

/// The result of ZUNIONSTORE, ZINTERSTORE or ZDIFFSTORE (`name`) over `srcs` with their
/// `weights` and the AGGREGATE `agg` (SUM, MIN or MAX), as `zunionInterDiffGenericCommand`
/// (t_zset.c) computes it: a weighted score that is NaN counts as 0, and so does a NaN sum.
/// Only the result is allocated.
fn combine_sources(
    name: &[u8],
    srcs: &[Source<'_>],
    weights: &[f64],
    agg: &[u8],
) -> Map<Vec<u8>, f64> {
    let combine = |acc: f64, v: f64| -> f64 {
        match agg {
            b"MIN" => acc.min(v),
            b"MAX" => acc.max(v),
            _ => {
                let s = acc + v;
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
        }
    };
    let weighted = |v: f64, w: f64| -> f64 {
        let s = v * w;
        if s.is_nan() {
            0.0
        } else {
            s
        }
    };
    let mut out: Map<Vec<u8>, f64> = Map::default();
    match name {
        b"ZUNIONSTORE" => {
            for (z, w) in srcs.iter().zip(weights) {
                for (m, v) in z.members() {
                    let v = weighted(v, *w);
                    match out.get_mut(m.as_slice()) {
                        Some(acc) => *acc = combine(*acc, v),
                        None => {
                            out.insert(m.clone(), v);
                        }
                    }
                }
            }
        }
        b"ZINTERSTORE" => {
            if let Some(first) = srcs.first() {
                'm: for (m, v) in first.members() {
                    let mut acc = weighted(v, weights[0]);
                    for (z, w) in srcs.iter().zip(weights).skip(1) {
                        match z.score(m) {
                            Some(x) => acc = combine(acc, weighted(x, *w)),
                            None => continue 'm,
                        }
                    }
                    out.insert(m.clone(), acc);
                }
            }
        }
        _ => {
            if let Some(first) = srcs.first() {
                for (m, v) in first.members() {
                    if srcs[1..].iter().all(|z| z.score(m).is_none()) {
                        out.insert(m.clone(), v);
                    }
                }
            }
        }
    }
    out
}

/// Parses a score range end.
fn score_bound(b: &[u8]) -> Result<ScoreBound, Error> {
    match b.strip_prefix(b"(") {
        Some(rest) => Ok(ScoreBound {
            v: float(rest)?,
            open: true,
        }),
        None => Ok(ScoreBound {
            v: float(b)?,
            open: false,
        }),
    }
}

/// A lex range end: `-`, `+`, `[x` (inclusive), `(x` (exclusive).
enum LexBound {
    Min,
    Max,
    In(Vec<u8>),
    Ex(Vec<u8>),
}

/// Parses a lex range end.
fn lex_bound(b: &[u8]) -> Result<LexBound, Error> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if b.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::In(b[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Ex(b[1..].to_vec())),
        _ => Err(Error::Syntax("lex range".into())),
    }
}

/// Whether `m` is at or past the lower end `lo`.
fn lex_ge(m: &[u8], lo: &LexBound) -> bool {
    match lo {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::In(x) => m >= x.as_slice(),
        LexBound::Ex(x) => m > x.as_slice(),
    }
}

/// Whether `m` is at or before the upper end `hi`.
fn lex_le(m: &[u8], hi: &LexBound) -> bool {
    match hi {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::In(x) => m <= x.as_slice(),
        LexBound::Ex(x) => m < x.as_slice(),
    }
}
