//! Sets: SADD, SREM, SMOVE and the S*STORE commands.

use super::access::{existing, typed};
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
        let mut sets: Vec<Set<Vec<u8>>> = Vec::new();
        for k in &a[2..] {
            sets.push(
                existing!(self, *k, Set, "S*STORE")
                    .map(|s| (**s).clone())
                    .unwrap_or_default(),
            );
        }
        let mut it = sets.into_iter();
        let first = it.next().unwrap_or_default();
        let result: Set<Vec<u8>> = match name {
            b"SINTERSTORE" => it.fold(first, |acc, s| acc.intersection(&s).cloned().collect()),
            b"SUNIONSTORE" => it.fold(first, |mut acc, s| {
                acc.extend(s);
                acc
            }),
            _ => it.fold(first, |acc, s| acc.difference(&s).cloned().collect()),
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
