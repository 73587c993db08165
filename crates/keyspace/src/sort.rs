//! `SORT ... STORE`: the list the server writes, computed from the sorted key and the keys its
//! BY and GET patterns name, as `sortCommandGeneric` (sort.c) computes it.
//!
//! Also the partial quicksort (`pqsort`, pqsort.c) and the C string comparison that SORT and
//! the GEO commands share; their numbers are read in [`crate::num`].

use crate::num::{c_str, sort_weight, string2ll};
use crate::Error;
use std::borrow::Cow;
use std::cmp::Ordering;

/// The value SORT sorts, as the caller holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum SortSource<'a> {
    /// No key: sorted as an empty list.
    Missing,
    /// A list, head first.
    List(Vec<&'a [u8]>),
    /// A set, in any order.
    Set(Vec<&'a [u8]>),
    /// A sorted set: (member, score), in any order.
    ZSet(Vec<(&'a [u8], f64)>),
}

/// The key a SORT or SORT_RO command sorts (`argv[1]`); the command name comes first, in any
/// case.
pub fn sort_source_key<'a>(argv: &[&'a [u8]]) -> Result<&'a [u8], Error> {
    sort_readonly(argv)?;
    Ok(argv[1])
}

/// Whether `argv` is SORT_RO (true) or SORT (false), checking the arity (at least a key).
fn sort_readonly(argv: &[&[u8]]) -> Result<bool, Error> {
    let Some(name) = argv.first() else {
        return Err(Error::Syntax("an empty command".into()));
    };
    let readonly = if name.eq_ignore_ascii_case(b"sort") {
        false
    } else if name.eq_ignore_ascii_case(b"sort_ro") {
        true
    } else {
        return Err(Error::Unknown(format!(
            "{} is not SORT",
            String::from_utf8_lossy(name)
        )));
    };
    if argv.len() < 2 {
        return Err(Error::Syntax("SORT needs a key".into()));
    }
    Ok(readonly)
}

/// One element of the vector SORT sorts (`redisSortObject`).
struct Item<'a> {
    /// The element.
    obj: &'a [u8],
    /// Its numeric weight (0 when the BY key is missing).
    score: f64,
    /// Its ALPHA weight from the BY pattern (`None` when missing).
    cmp: Option<Cow<'a, [u8]>>,
}

/// How SORT reads the keys its BY and GET patterns name: `(key, None)` the value of a string
/// key, `(key, Some(field))` the value of a field of a hash key; `None` when there is none.
/// A value is best borrowed: SORT keeps the BY value of each element while it sorts, and
/// many elements may name the same key, as the server keeps a reference to it.
pub type SortLookup<'a> = dyn Fn(&[u8], Option<&[u8]>) -> Option<Cow<'a, [u8]>> + 'a;

/// What a SORT with STORE writes: the destination key and the list, head first (empty: the
/// key is deleted).
pub type SortStored = (Vec<u8>, Vec<Vec<u8>>);

/// Computes what `SORT key ... STORE dest` writes, as `sortCommandGeneric` does.
///
/// `argv` is the whole command, name first (SORT or SORT_RO, any case). `source` is the value
/// at the sorted key (the caller answers a key of another type with [`Error::WrongType`], as
/// the server does). `lookup(key, None)` gives the value of a string key and
/// `lookup(key, Some(field))` the value of a hash field, `None` when the key is missing, of
/// another type (a string where a hash is wanted and the reverse), or the field is missing:
/// the BY and GET patterns read through it.
///
/// Returns `Ok(None)` when the command has no STORE (SORT without it, and SORT_RO, write
/// nothing); otherwise `Some((dest, elements))`, the list to write at `dest`, head first. An
/// empty `elements` means the server deletes `dest` (it never writes an empty list).
///
/// What the server does, reproduced here:
/// - numeric sort by default: each weight (the element, or the BY value) is read with the C
///   library's `strtod`, which allows leading spaces and hexadecimal, stops at a NUL byte, and
///   an empty string is 0; a weight that is not a number entirely, NaN, or out of range
///   (overflow, underflow: ERANGE) fails the whole command with "One or more scores can't be
///   converted into double" (an [`Error::Syntax`] here: the server writes nothing, so such a
///   command is never in an AOF). A BY key that is missing weighs 0. Equal weights are
///   ordered by comparing the elements as binary strings;
/// - ALPHA: with a BY pattern, the BY values compared as binary strings, a missing value first
///   (equal values are left in the order of the vector: that order is only defined for a
///   list; for a set or sorted set it is the server's hash table order, which this function
///   cannot know: it uses the order of `source`); without BY, the elements as binary strings;
/// - a BY pattern without `*` means no sort: a list keeps its order, a sorted set its score
///   order (reversed with DESC), LIMIT taken from that order; a set is then sorted ALPHA
///   anyway (STORE forces it, and drops the BY pattern);
/// - DESC reverses the comparison; LIMIT offset count: a negative offset is 0, a negative
///   count means to the end;
/// - BY with LIMIT sorts with the server's partial quicksort (`pqsort`), otherwise with a
///   stable sort (the C library's `qsort` of glibc is a merge sort);
/// - GET patterns: `#` is the element, `*` is replaced by the element, `key->field` reads a
///   hash field; a missing value is stored as an empty string; a pattern without `*` (other
///   than `#`) never finds anything.
pub fn sort_store<'a>(
    argv: &[&[u8]],
    source: SortSource<'a>,
    lookup: &SortLookup<'a>,
) -> Result<Option<SortStored>, Error> {
    let readonly = sort_readonly(argv)?;
    let mut desc = false;
    let mut alpha = false;
    let mut limit_start: i64 = 0;
    let mut limit_count: i64 = -1;
    let mut dontsort = false;
    let mut sortby: Option<&[u8]> = None;
    let mut storekey: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < argv.len() {
        let leftargs = argv.len() - j - 1;
        let arg = argv[j];
        if c_eq_ci(arg, b"asc") {
            desc = false;
        } else if c_eq_ci(arg, b"desc") {
            desc = true;
        } else if c_eq_ci(arg, b"alpha") {
            alpha = true;
        } else if c_eq_ci(arg, b"limit") && leftargs >= 2 {
            limit_start = string2ll(argv[j + 1])
                .ok_or_else(|| Error::Syntax("SORT LIMIT offset is not an integer".into()))?;
            limit_count = string2ll(argv[j + 2])
                .ok_or_else(|| Error::Syntax("SORT LIMIT count is not an integer".into()))?;
            j += 2;
        } else if !readonly && c_eq_ci(arg, b"store") && leftargs >= 1 {
            storekey = Some(argv[j + 1]);
            j += 1;
        } else if c_eq_ci(arg, b"by") && leftargs >= 1 {
            sortby = Some(argv[j + 1]);
            // A BY pattern without '*' is constant: nothing to sort by.
            if !c_str(argv[j + 1]).contains(&b'*') {
                dontsort = true;
            }
            j += 1;
        } else if c_eq_ci(arg, b"get") && leftargs >= 1 {
            gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(Error::Syntax(format!(
                "SORT: syntax error at {:?}",
                String::from_utf8_lossy(arg)
            )));
        }
        j += 1;
    }
    let Some(storekey) = storekey else {
        return Ok(None);
    };

    let is_set = matches!(source, SortSource::Set(_));
    // A set sorted with a constant BY pattern and STORE is sorted ALPHA, so that the stored
    // result does not depend on the hash table order.
    if dontsort && is_set {
        dontsort = false;
        alpha = true;
        sortby = None;
    }

    let full_len = match &source {
        SortSource::Missing => 0,
        SortSource::List(v) | SortSource::Set(v) => v.len(),
        SortSource::ZSet(v) => v.len(),
    } as i64;
    let mut vectorlen = full_len;
    // LIMIT, with the inputs bounded by the length (no overflow).
    let mut start = limit_start.max(0).min(vectorlen);
    let limit_count = limit_count.max(-1).min(vectorlen);
    let mut end = if limit_count < 0 {
        vectorlen - 1
    } else {
        start + limit_count - 1
    };
    if start >= vectorlen {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if end >= vectorlen {
        end = vectorlen - 1;
    }
    let ordered = matches!(source, SortSource::List(_) | SortSource::ZSet(_));
    if ordered && dontsort && (start != 0 || end != vectorlen - 1) {
        vectorlen = end - start + 1;
    }

    let item = |obj| Item {
        obj,
        score: 0.0,
        cmp: None,
    };
    let mut vector: Vec<Item> = Vec::new();
    match source {
        SortSource::Missing => {}
        SortSource::List(list) if dontsort => {
            if end >= start {
                let take = vectorlen.max(0) as usize;
                let first = start as usize;
                if desc {
                    vector.extend(list.iter().rev().skip(first).take(take).map(|e| item(e)));
                } else {
                    vector.extend(list.iter().skip(first).take(take).map(|e| item(e)));
                }
                end -= start;
                start = 0;
            }
        }
        SortSource::ZSet(mut members) if dontsort => {
            // The skiplist order: by score, then by member.
            members.sort_by(|a, b| zset_order(a.1, a.0, b.1, b.0));
            let take = vectorlen.max(0) as usize;
            let first = start.max(0) as usize;
            if desc {
                let it = members.iter().rev().skip(first).take(take);
                vector.extend(it.map(|e| item(e.0)));
            } else {
                vector.extend(members.iter().skip(first).take(take).map(|e| item(e.0)));
            }
            end -= start;
            start = 0;
        }
        SortSource::List(v) | SortSource::Set(v) => vector.extend(v.into_iter().map(item)),
        SortSource::ZSet(v) => vector.extend(v.into_iter().map(|(m, _)| item(m))),
    }

    if !dontsort {
        let mut conversion_error = false;
        for it in vector.iter_mut() {
            let byval: Cow<'a, [u8]> = match sortby {
                Some(pattern) => match lookup_by_pattern(pattern, it.obj, lookup) {
                    Some(v) => v,
                    None => continue,
                },
                None => Cow::Borrowed(it.obj),
            };
            if alpha {
                if sortby.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match sort_weight(&byval) {
                    Some(score) => it.score = score,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            return Err(Error::Syntax(
                "One or more scores can't be converted into double".into(),
            ));
        }
        let bypattern = sortby.is_some();
        let compare = |a: &Item, b: &Item| -> i32 {
            let c = if !alpha {
                if a.score > b.score {
                    1
                } else if a.score < b.score {
                    -1
                } else {
                    ord_i32(a.obj.cmp(b.obj))
                }
            } else if bypattern {
                match (&a.cmp, &b.cmp) {
                    (None, None) => 0,
                    (None, Some(_)) => -1,
                    (Some(_), None) => 1,
                    (Some(x), Some(y)) => ord_i32(x.as_ref().cmp(y.as_ref())),
                }
            } else {
                ord_i32(a.obj.cmp(b.obj))
            };
            if desc {
                -c
            } else {
                c
            }
        };
        let n = vector.len() as i64;
        if bypattern && (start != 0 || end != n - 1) {
            pqsort(&mut vector, start, end, &compare);
        } else {
            vector.sort_by(|a, b| compare(a, b).cmp(&0));
        }
    }

    let mut out = Vec::new();
    let mut j = start;
    while j <= end {
        let Some(it) = usize::try_from(j).ok().and_then(|j| vector.get(j)) else {
            break;
        };
        if gets.is_empty() {
            out.push(it.obj.to_vec());
        } else {
            for pattern in &gets {
                out.push(
                    lookup_by_pattern(pattern, it.obj, lookup)
                        .map(Cow::into_owned)
                        .unwrap_or_default(),
                );
            }
        }
        j += 1;
    }
    Ok(Some((storekey.to_vec(), out)))
}

/// The order of a skiplist: by score, then by member as a binary string.
fn zset_order(sa: f64, ma: &[u8], sb: f64, mb: &[u8]) -> Ordering {
    match sa.partial_cmp(&sb) {
        Some(Ordering::Equal) | None => ma.cmp(mb),
        Some(o) => o,
    }
}

fn ord_i32(o: Ordering) -> i32 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `lookupKeyByPattern`: the value a BY or GET pattern names for element `subst`.
fn lookup_by_pattern<'a>(
    pattern: &[u8],
    subst: &'a [u8],
    lookup: &SortLookup<'a>,
) -> Option<Cow<'a, [u8]>> {
    // "#" is the element itself.
    if pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&b| b == 0) {
        return Some(Cow::Borrowed(subst));
    }
    // The C string functions stop at the first NUL byte.
    let cpat = c_str(pattern);
    let star = cpat.iter().position(|&b| b == b'*')?;
    // "->" after the '*', followed by something, names a hash field.
    let arrow = cpat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p);
    let field = match arrow {
        Some(f) if pattern.get(f + 2).is_some_and(|&b| b != 0) => Some(&pattern[f + 2..]),
        _ => None,
    };
    let fieldlen = field.map_or(0, <[u8]>::len);
    let postfixlen = pattern.len() - (star + 1) - if fieldlen > 0 { fieldlen + 2 } else { 0 };
    let mut key = Vec::with_capacity(star + subst.len() + postfixlen);
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..star + 1 + postfixlen]);
    lookup(&key, field)
}

/// `strcasecmp(arg, word) == 0`, which compares up to the first NUL byte of `arg`.
pub(crate) fn c_eq_ci(arg: &[u8], word: &[u8]) -> bool {
    c_str(arg).eq_ignore_ascii_case(word)
}

/// The server's partial quicksort (pqsort.c, the NetBSD `qsort` that skips the partitions
/// lying wholly outside the element range `lrange..=rrange`). Elements in that range end up
/// where a full sort would put them, with ties placed exactly as the server places them. `cmp`
/// returns a negative, zero or positive number, as a C comparator does.
pub(crate) fn pqsort<T, F: Fn(&T, &T) -> i32>(v: &mut [T], lrange: i64, rrange: i64, cmp: &F) {
    // Partitions still to sort: (start, length). The order in which disjoint partitions are
    // sorted does not change the result.
    let mut work = vec![(0usize, v.len())];
    let outside = |s: usize, r: usize| {
        let l = s as i64;
        let h = (s + r) as i64 - 1;
        (lrange < l && rrange < l) || (lrange > h && rrange > h)
    };
    while let Some((a, n)) = work.pop() {
        pqsort_partition(v, a, n, cmp, &mut |s, r| {
            if r > 1 && !outside(s, r) {
                work.push((s, r));
            }
        });
    }
}

fn med3<T, F: Fn(&T, &T) -> i32>(v: &[T], a: usize, b: usize, c: usize, cmp: &F) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// One pass of `_pqsort` over `v[a..a + n]`: an insertion sort below 7 elements, otherwise a
/// three-way partition whose two outer parts (start, length) go to `more`, left part first.
fn pqsort_partition<T, F: Fn(&T, &T) -> i32>(
    v: &mut [T],
    a: usize,
    n: usize,
    cmp: &F,
    more: &mut dyn FnMut(usize, usize),
) {
    if n < 7 {
        for pm in a + 1..a + n {
            let mut pl = pm;
            while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                v.swap(pl, pl - 1);
                pl -= 1;
            }
        }
        return;
    }
    let mut pm = a + n / 2;
    if n > 7 {
        let mut pl = a;
        let mut pn = a + n - 1;
        if n > 40 {
            let d = n / 8;
            pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
            pm = med3(v, pm - d, pm, pm + d, cmp);
            pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
        }
        pm = med3(v, pl, pm, pn, cmp);
    }
    v.swap(a, pm);
    let (mut pa, mut pb) = (a + 1, a + 1);
    let (mut pc, mut pd) = (a + n - 1, a + n - 1);
    loop {
        while pb <= pc {
            let r = cmp(&v[pb], &v[a]);
            if r > 0 {
                break;
            }
            if r == 0 {
                v.swap(pa, pb);
                pa += 1;
            }
            pb += 1;
        }
        while pb <= pc {
            let r = cmp(&v[pc], &v[a]);
            if r < 0 {
                break;
            }
            if r == 0 {
                v.swap(pc, pd);
                pd -= 1;
            }
            pc -= 1;
        }
        if pb > pc {
            break;
        }
        v.swap(pb, pc);
        pb += 1;
        pc -= 1;
    }
    let pn = a + n;
    let r = (pa - a).min(pb - pa);
    vecswap(v, a, pb - r, r);
    let r = (pd - pc).min(pn - pd - 1);
    vecswap(v, pb, pn - r, r);
    more(a, pb - pa);
    let r = pd - pc;
    more(pn - r, r);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn pqsort_sorts_the_range() {
        let mut seed = 7u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            for _ in 0..20 {
                let mut v: Vec<u32> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((seed >> 33) % 50) as u32
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort();
                let (l, r) = (n as i64 / 3, n as i64 / 2);
                pqsort(&mut v, l, r, &|a: &u32, b: &u32| ord_i32(a.cmp(b)));
                for i in l.max(0)..=r.min(n as i64 - 1) {
                    assert_eq!(v[i as usize], sorted[i as usize]);
                }
            }
        }
    }

    /// One dataset of testdata/keyspace/sort.json.
    struct Dataset {
        strings: HashMap<Vec<u8>, Vec<u8>>,
        hashes: HashMap<Vec<u8>, HashMap<Vec<u8>, Vec<u8>>>,
        lists: HashMap<Vec<u8>, Vec<Vec<u8>>>,
        sets: HashMap<Vec<u8>, Vec<Vec<u8>>>,
        zsets: HashMap<Vec<u8>, Vec<(Vec<u8>, f64)>>,
    }

    fn bytes(v: &serde_json::Value) -> Vec<u8> {
        v.as_str().expect("a string").as_bytes().to_vec()
    }

    fn byte_list(v: &serde_json::Value) -> Vec<Vec<u8>> {
        v.as_array().unwrap().iter().map(bytes).collect()
    }

    fn dataset(v: &serde_json::Value) -> Dataset {
        let map = |v: &serde_json::Value| -> Vec<(Vec<u8>, serde_json::Value)> {
            let o = v.as_object().unwrap();
            o.iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect()
        };
        Dataset {
            strings: map(&v["strings"])
                .into_iter()
                .map(|(k, v)| (k, bytes(&v)))
                .collect(),
            hashes: map(&v["hashes"])
                .into_iter()
                .map(|(k, h)| {
                    (
                        k,
                        map(&h).into_iter().map(|(f, v)| (f, bytes(&v))).collect(),
                    )
                })
                .collect(),
            lists: map(&v["lists"])
                .into_iter()
                .map(|(k, v)| (k, byte_list(&v)))
                .collect(),
            sets: map(&v["sets"])
                .into_iter()
                .map(|(k, v)| (k, byte_list(&v)))
                .collect(),
            zsets: v["zsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| {
                    let members = kv[1].as_array().unwrap().iter();
                    let members = members
                        .map(|p| (bytes(&p[0]), p[1].as_str().unwrap().parse().unwrap()))
                        .collect();
                    (bytes(&kv[0]), members)
                })
                .collect(),
        }
    }

    /// Replays testdata/keyspace/sort.json (see testdata/gen/make_geosort.py): every case, on
    /// the result of every server.
    #[test]
    fn replays_sort_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keyspace/sort.json"
        );
        let text = std::fs::read_to_string(path).expect("testdata/keyspace/sort.json");
        let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
        let datasets: Vec<Dataset> = fixture["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .map(dataset)
            .collect();
        let mut failures = Vec::new();
        let mut runs = 0;
        for case in fixture["cases"].as_array().unwrap() {
            let ds = &datasets[case["dataset"].as_u64().unwrap() as usize];
            let argv_owned = byte_list(&case["argv"]);
            let argv: Vec<&[u8]> = argv_owned.iter().map(Vec::as_slice).collect();
            let key = sort_source_key(&argv).unwrap();
            let lookup = |k: &[u8], field: Option<&[u8]>| {
                let v = match field {
                    None => ds.strings.get(k),
                    Some(f) => ds.hashes.get(k).and_then(|h| h.get(f)),
                };
                v.map(|v| Cow::Borrowed(v.as_slice()))
            };
            for (server, want) in case["results"].as_object().unwrap() {
                runs += 1;
                let source = if let Some(l) = ds.lists.get(key) {
                    SortSource::List(l.iter().map(Vec::as_slice).collect())
                } else if let Some(l) = ds.sets.get(key) {
                    SortSource::Set(l.iter().map(Vec::as_slice).collect())
                } else if let Some(z) = ds.zsets.get(key) {
                    SortSource::ZSet(z.iter().map(|(m, s)| (m.as_slice(), *s)).collect())
                } else {
                    SortSource::Missing
                };
                let got = sort_store(&argv, source, &lookup);
                let ok = match (&got, want.get("stored")) {
                    (Err(_), None) => true,
                    (Ok(Some((dest, list))), Some(stored)) => {
                        let want = if stored.is_null() {
                            Vec::new()
                        } else {
                            byte_list(stored)
                        };
                        dest == b"dst" && *list == want
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!(
                        "{server}: {}: want {want}, got {got:?}",
                        case["argv"]
                    ));
                }
            }
        }
        assert!(runs >= 1000, "only {runs} fixture runs");
        assert!(
            failures.is_empty(),
            "{} of {runs} differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Random argument vectors: an answer (value or error), never a panic.
    #[test]
    fn arbitrary_arguments_do_not_panic() {
        let words: [&[u8]; 30] = [
            b"SORT",
            b"sort_ro",
            b"k",
            b"BY",
            b"GET",
            b"LIMIT",
            b"STORE",
            b"ALPHA",
            b"DESC",
            b"ASC",
            b"#",
            b"*",
            b"w_*",
            b"h_*->f",
            b"*->",
            b"->*",
            b"#\0",
            b"*\0->f",
            b"nosort",
            b"0",
            b"1",
            b"-1",
            b"3",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"d",
            b"",
            b"x",
            b"2",
            b"-5",
        ];
        let lookup = |k: &[u8], f: Option<&[u8]>| -> Option<Cow<'static, [u8]>> {
            match (k.len() % 3, f) {
                (0, _) => None,
                (1, None) => Some(Cow::Borrowed(b"1.5")),
                (2, Some(_)) => Some(Cow::Borrowed(b"x")),
                _ => Some(Cow::Owned(k.to_vec())),
            }
        };
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let elems: [&[u8]; 6] = [b"1", b"b", b"", b"2.5", b"a", b"1"];
        for _ in 0..20000 {
            let len = 1 + next(12);
            let mut argv: Vec<&[u8]> = (0..len).map(|_| words[next(words.len())]).collect();
            argv[0] = words[next(2)];
            let n = next(7);
            let list: Vec<&[u8]> = elems[..n].to_vec();
            let mut uniq = list.clone();
            uniq.sort();
            uniq.dedup();
            let zs: Vec<(&[u8], f64)> = uniq.iter().map(|&e| (e, e.len() as f64)).collect();
            for source in [
                SortSource::Missing,
                SortSource::List(list.clone()),
                SortSource::Set(uniq.clone()),
                SortSource::ZSet(zs),
            ] {
                let _ = sort_store(&argv, source, &lookup);
            }
            let _ = sort_source_key(&argv);
        }
    }

    fn run<'a>(argv: &[&str], source: SortSource<'a>) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
        let argv: Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
        let lookup = |k: &[u8], f: Option<&[u8]>| -> Option<Cow<'a, [u8]>> {
            match (k, f) {
                (b"w_a", None) => Some(Cow::Borrowed(b"3")),
                (b"w_b", None) => Some(Cow::Borrowed(b"1")),
                (b"h_a", Some(b"f")) => Some(Cow::Borrowed(b"x")),
                _ => None,
            }
        };
        sort_store(&argv, source, &lookup).unwrap()
    }

    #[test]
    fn sort_basics() {
        let l = || SortSource::List(vec![b"a".as_slice(), b"b", b"c"]);
        let got = run(&["SORT", "k", "BY", "w_*", "STORE", "d"], l());
        let want: Vec<Vec<u8>> = vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()];
        assert_eq!(got, Some((b"d".to_vec(), want)));
        let got = run(
            &[
                "sort", "k", "by", "nosort", "desc", "get", "h_*->f", "store", "d",
            ],
            l(),
        );
        let want: Vec<Vec<u8>> = vec![b"".to_vec(), b"".to_vec(), b"x".to_vec()];
        assert_eq!(got, Some((b"d".to_vec(), want)));
        assert_eq!(run(&["SORT", "k", "ALPHA"], l()), None);
        let got = run(&["SORT", "k", "STORE", "d"], SortSource::Missing);
        assert_eq!(got, Some((b"d".to_vec(), vec![])));
        let argv: Vec<&[u8]> = vec![b"SORT", b"k", b"STORE", b"d"];
        let err = sort_store(&argv, l(), &|_: &[u8], _: Option<&[u8]>| None);
        assert!(matches!(err, Err(Error::Syntax(_))));
    }
}
