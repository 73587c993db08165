//! Lists: pushes, pops, LSET, LTRIM, LREM, LINSERT, RPOPLPUSH and LMOVE.

use super::access::{existing, typed};
use super::args::arity;
use crate::num::{int, uint};
use crate::{Error, Keyspace};
use std::collections::VecDeque;

impl Keyspace {
    /// RPUSH / LPUSH / RPUSHX / LPUSHX key element...
    pub(crate) fn push(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if name.ends_with(b"X") && !self.db_mut().contains_key(a[1]) {
            return Ok(());
        }
        let l = typed!(self, a[1], List, "a push");
        for v in &a[2..] {
            if name[0] == b'R' {
                l.push_back(v.to_vec());
            } else {
                l.push_front(v.to_vec());
            }
        }
        Ok(())
    }

    /// LPOP / RPOP key [count].
    pub(crate) fn pop(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 2)?;
        let n = match a.get(2) {
            Some(c) => uint(c)? as usize,
            None => 1,
        };
        if let Some(l) = existing!(self, a[1], List, "a pop") {
            for _ in 0..n.min(l.len()) {
                if name[0] == b'L' {
                    l.pop_front();
                } else {
                    l.pop_back();
                }
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// LSET key index element.
    pub(crate) fn lset(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let i = int(a[2])?;
        let l = existing!(self, a[1], List, "LSET")
            .ok_or_else(|| Error::Syntax("LSET on no key".into()))?;
        let idx = if i < 0 { l.len() as i64 + i } else { i };
        let slot = usize::try_from(idx)
            .ok()
            .and_then(|i| l.get_mut(i))
            .ok_or_else(|| Error::Syntax("LSET index out of range".into()))?;
        *slot = a[3].to_vec();
        Ok(())
    }

    /// LTRIM key start stop.
    pub(crate) fn ltrim(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let (s, e) = (int(a[2])?, int(a[3])?);
        if let Some(l) = existing!(self, a[1], List, "LTRIM") {
            let n = l.len() as i64;
            let s = if s < 0 { (n + s).max(0) } else { s };
            let e = if e < 0 { n + e } else { e.min(n - 1) };
            if s > e || s >= n {
                l.clear();
            } else {
                l.truncate(e as usize + 1);
                l.drain(..s as usize);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// LREM key count element: from the head (count >= 0) or the tail.
    pub(crate) fn lrem(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let count = int(a[2])?;
        if let Some(l) = existing!(self, a[1], List, "LREM") {
            let mut left = if count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            if count >= 0 {
                let mut kept = VecDeque::with_capacity(l.len());
                for v in l.drain(..) {
                    if left > 0 && v == a[3] {
                        left -= 1;
                    } else {
                        kept.push_back(v);
                    }
                }
                **l = kept;
            } else {
                let mut kept = VecDeque::with_capacity(l.len());
                while let Some(v) = l.pop_back() {
                    if left > 0 && v == a[3] {
                        left -= 1;
                    } else {
                        kept.push_front(v);
                    }
                }
                **l = kept;
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// LINSERT key BEFORE | AFTER pivot element.
    pub(crate) fn linsert(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 5)?;
        let before = a[2].eq_ignore_ascii_case(b"BEFORE");
        if let Some(l) = existing!(self, a[1], List, "LINSERT") {
            if let Some(p) = l.iter().position(|v| v == a[3]) {
                l.insert(if before { p } else { p + 1 }, a[4].to_vec());
            }
        }
        Ok(())
    }

    /// RPOPLPUSH source destination, LMOVE source destination LEFT | RIGHT LEFT | RIGHT.
    pub(crate) fn lmove(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let (from_left, to_left) = if name == b"LMOVE" {
            arity(a, 5)?;
            (
                a[3].eq_ignore_ascii_case(b"LEFT"),
                a[4].eq_ignore_ascii_case(b"LEFT"),
            )
        } else {
            (false, true)
        };
        let v = match existing!(self, a[1], List, name_str(name)) {
            Some(l) => {
                if from_left {
                    l.pop_front()
                } else {
                    l.pop_back()
                }
            }
            None => None,
        };
        self.drop_if_empty(a[1]);
        if let Some(v) = v {
            let l = typed!(self, a[2], List, name_str(name));
            if to_left {
                l.push_front(v);
            } else {
                l.push_back(v);
            }
        }
        Ok(())
    }
}

/// The command name for a message.
fn name_str(name: &[u8]) -> &'static str {
    match name {
        b"RPOPLPUSH" => "RPOPLPUSH",
        _ => "LMOVE",
    }
}
