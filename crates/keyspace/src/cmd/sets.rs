//! Sets: SADD, SREM, SMOVE and the S*STORE commands.

use super::access::{existing, typed, Sources};
use super::args::arity;
use crate::{Entry, Error, Keyspace, Set, Value};

impl Keyspace {
    /// SADD key member...
    pub(crate) fn sadd(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let s = typed!(self, a[1], Set, "SADD");
        for m in &a[2..] {
            s.insert(m.to_vec());
        }
        Ok(())
    }

    /// SREM key member...
    pub(crate) fn srem(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if let Some(s) = existing!(self, a[1], Set, "SREM") {
            for m in &a[2..] {
                s.remove(*m);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// SMOVE source destination member.
    pub(crate) fn smove(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let moved = match existing!(self, a[1], Set, "SMOVE") {
            Some(s) => s.remove(a[3]),
            None => false,
        };
        self.drop_if_empty(a[1]);
        if moved {
            typed!(self, a[2], Set, "SMOVE").insert(a[3].to_vec());
        }
        Ok(())
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key...: the result without a TTL, or
    /// the destination deleted when it is empty.
    pub(crate) fn set_store(&mut self, name: &[u8], a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let result = {
            let srcs = self.sources(&a[2..], "S*STORE", |v| matches!(v, Value::Set(_)))?;
            set_result(name, &srcs)
        };
        let db = self.db_mut();
        if result.is_empty() {
            db.remove(a[1]);
        } else {
            db.insert(
                a[1],
                Entry {
                    value: Value::Set(Box::new(result)),
                    expire_ms: None,
                },
            );
        }
        Ok(())
    }
}

/// The members of a source of the S*STORE commands (every source is a set).
fn members(v: &Value) -> &Set<Vec<u8>> {
    match v {
        Value::Set(s) => s,
        _ => unreachable!("only sets are accepted as sources"),
    }
}

/// The result of SINTERSTORE, SUNIONSTORE or SDIFFSTORE (`name`) over `srcs` (a missing key is
/// an empty set), computed from the sources in place: a key named again changes nothing in a
/// union or an intersection, so each distinct key is read once. Only the result is allocated.
fn set_result(name: &[u8], srcs: &Sources<'_>) -> Set<Vec<u8>> {
    let mut out: Set<Vec<u8>> = Set::default();
    match name {
        b"SINTERSTORE" => {
            if srcs.any_missing() {
                return out;
            }
            let all: Vec<&Set<Vec<u8>>> = srcs.distinct().map(members).collect();
            let Some(smallest) = all.iter().min_by_key(|s| s.len()) else {
                return out;
            };
            for m in smallest.iter() {
                if all.iter().all(|s| s.contains(m)) {
                    out.insert(m.clone());
                }
            }
        }
        b"SUNIONSTORE" => {
            for s in srcs.distinct().map(members) {
                for m in s {
                    if !out.contains(m) {
                        out.insert(m.clone());
                    }
                }
            }
        }
        _ => {
            let Some(first) = srcs.slot(0) else {
                return out;
            };
            let mut others: Vec<usize> = (1..srcs.len()).filter_map(|i| srcs.slot(i)).collect();
            others.sort_unstable();
            others.dedup();
            if others.contains(&first) {
                return out;
            }
            let others: Vec<&Set<Vec<u8>>> =
                others.iter().map(|&j| members(srcs.held(j))).collect();
            for m in members(srcs.held(first)) {
                if others.iter().all(|s| !s.contains(m)) {
                    out.insert(m.clone());
                }
            }
        }
    }
    out
}
