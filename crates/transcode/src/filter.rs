//! Which keys a job works on: databases, a Redis glob, a regular expression, types.

use crate::slot::{key_slot, SlotSet};
use rdb_parse::ValueType;

/// Which keys a command works on.
#[derive(Debug, Default)]
pub struct KeyFilter {
    dbs: Vec<u64>,
    glob: Option<Vec<u8>>,
    regex: Option<regex::bytes::Regex>,
    types: Vec<ValueType>,
    slots: Option<SlotSet>,
}

impl KeyFilter {
    /// Builds a filter; an empty list or `None` means "any".
    pub fn new(
        dbs: Vec<u64>,
        glob: Option<String>,
        regex: Option<String>,
        types: Vec<ValueType>,
    ) -> Result<Self, String> {
        let regex = regex
            .map(|r| {
                regex::bytes::Regex::new(&r).map_err(|e| format!("invalid --key-regex '{r}': {e}"))
            })
            .transpose()?;
        if let Some(g) = &glob {
            check_glob(g.as_bytes()).map_err(|why| format!("invalid --key '{g}': {why}"))?;
        }
        Ok(KeyFilter {
            dbs,
            glob: glob.map(String::into_bytes),
            regex,
            types,
            slots: None,
        })
    }

    /// Only keys whose cluster slot is in `slots` (see [`key_slot`]).
    pub fn with_slots(mut self, slots: SlotSet) -> Self {
        self.slots = Some(slots);
        self
    }

    /// True when no filter is set.
    pub fn is_all(&self) -> bool {
        self.dbs.is_empty()
            && self.glob.is_none()
            && self.regex.is_none()
            && self.types.is_empty()
            && self.slots.is_none()
    }

    /// Whether a key passes every filter.
    pub fn matches(&self, db: u64, key: &[u8], t: ValueType) -> bool {
        (self.dbs.is_empty() || self.dbs.contains(&db))
            && (self.types.is_empty() || self.types.contains(&t))
            && self.glob.as_deref().is_none_or(|g| glob_match(g, key))
            && self.regex.as_ref().is_none_or(|r| r.is_match(key))
            && self
                .slots
                .as_ref()
                .is_none_or(|s| s.contains(key_slot(key)))
    }
}

/// Refuses what is surely a mistake in a glob, though Redis would read it somehow: a class
/// `[` without its `]`, or a `\\` with nothing to escape at the end.
pub fn check_glob(p: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 == p.len() => return Err("it ends with a lone \\".into()),
            b'\\' => i += 2,
            b'[' => {
                let mut q = i + 1;
                while q < p.len() && p[q] != b']' {
                    q += if p[q] == b'\\' { 2 } else { 1 };
                }
                if q >= p.len() {
                    return Err(format!("the class opened at byte {i} has no ]"));
                }
                i = q + 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Redis's glob matching (`KEYS`, `SCAN MATCH`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pattern, p, s[i]) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches byte `c` against the class starting at `pattern[p] == '['`; returns whether it
/// matched and where the pattern goes on. An unterminated class runs to the end, as in Redis.
fn class_match(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut q = p + 1;
    let negate = pattern.get(q) == Some(&b'^');
    if negate {
        q += 1;
    }
    let mut matched = false;
    while q < pattern.len() && pattern[q] != b']' {
        if pattern[q] == b'\\' && q + 1 < pattern.len() {
            q += 1;
            matched |= pattern[q] == c;
            q += 1;
        } else if q + 2 < pattern.len() && pattern[q + 1] == b'-' && pattern[q + 2] != b']' {
            let (lo, hi) = if pattern[q] <= pattern[q + 2] {
                (pattern[q], pattern[q + 2])
            } else {
                (pattern[q + 2], pattern[q])
            };
            matched |= (lo..=hi).contains(&c);
            q += 3;
        } else {
            matched |= pattern[q] == c;
            q += 1;
        }
    }
    let next = if q < pattern.len() { q + 1 } else { q };
    Some((matched != negate, next))
}

#[cfg(test)]
mod tests {
    use super::{check_glob, glob_match};

    #[test]
    fn glob_mistakes() {
        assert!(check_glob(b"user:*").is_ok());
        assert!(check_glob(b"a[bc]d\\*").is_ok());
        assert!(check_glob(b"a[bc").is_err());
        assert!(check_glob(b"a\\").is_err());
        assert!(check_glob(b"a[\\]]").is_ok());
    }

    #[test]
    fn redis_glob() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("user:*", "user:1", true),
            ("user:*", "users", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*:*:end", "a:b:c:end", true),
            ("*a*b", "xxaxxbxxb", true),
            ("*a*b", "xxaxxbxxc", false),
        ];
        for &(p, s, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), want, "{p} ~ {s}");
        }
    }
}
