//! Streams: XADD, XTRIM, XSETID, XDEL, and the consumer groups (XGROUP, XACK, XCLAIM), with
//! explicit ids as the server logs them.

use super::access::{existing, typed};
use super::args::arity;
use crate::num::int;
use crate::{text, Error, Group, Keyspace, Stream};
use rdb_parse::StreamId;

impl Keyspace {
    /// XADD key [NOMKSTREAM] [MAXLEN | MINID [=] threshold [LIMIT n]] id field value...
    pub(crate) fn xadd(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 5)?;
        let mut i = 2;
        let mut nomkstream = false;
        if a[i].eq_ignore_ascii_case(b"NOMKSTREAM") {
            nomkstream = true;
            i += 1;
        }
        let (trim, next) = parse_trim(a, i)?;
        i = next;
        if a.get(i).is_none() {
            return Err(Error::Syntax("XADD without an id".into()));
        }
        let id = stream_id(a[i])?;
        let fields = &a[i + 1..];
        if fields.is_empty() || !fields.len().is_multiple_of(2) {
            return Err(Error::Syntax("XADD fields".into()));
        }
        if nomkstream && !self.db_mut().contains_key(a[1]) {
            return Ok(());
        }
        let s = typed!(self, a[1], Stream, "XADD");
        if id <= s.last_id {
            return Err(Error::Syntax(format!(
                "XADD id {}-{} not after the last",
                id.ms, id.seq
            )));
        }
        s.last_id = id;
        s.entries_added += 1;
        let pairs = fields
            .chunks(2)
            .map(|p| (p[0].to_vec(), p[1].to_vec()))
            .collect();
        s.entries.insert(id, pairs);
        if let Some(t) = trim {
            trim_stream(s, t);
        }
        Ok(())
    }

    /// XTRIM key MAXLEN | MINID [=] threshold [LIMIT n].
    pub(crate) fn xtrim(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        let (trim, next) = parse_trim(a, 2)?;
        if next != a.len() {
            return Err(Error::Syntax("XTRIM arguments".into()));
        }
        let t = trim.ok_or_else(|| Error::Syntax("XTRIM without a strategy".into()))?;
        if let Some(s) = existing!(self, a[1], Stream, "XTRIM") {
            trim_stream(s, t);
        }
        Ok(())
    }

    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id].
    pub(crate) fn xsetid(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let last = stream_id(a[2])?;
        let mut i = 3;
        let (mut added, mut maxdel) = (None, None);
        while i + 1 < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"ENTRIESADDED" => {
                    added = Some(u64::try_from(int(a[i + 1])?).map_err(|_| {
                        Error::Syntax("XSETID: entries_added must be positive".into())
                    })?)
                }
                b"MAXDELETEDID" => maxdel = Some(stream_id(a[i + 1])?),
                _ => return Err(Error::Syntax("XSETID option".into())),
            }
            i += 2;
        }
        let s = existing!(self, a[1], Stream, "XSETID")
            .ok_or_else(|| Error::Syntax("XSETID on no key".into()))?;
        // What the server refuses (nothing is logged then): xsetidCommand's checks.
        if s.entries.keys().next_back().is_some_and(|top| last < *top) {
            return Err(Error::Syntax(
                "XSETID: the ID specified is smaller than the target stream top item".into(),
            ));
        }
        if added.is_some_and(|n| n < s.entries.len() as u64) {
            return Err(Error::Syntax(
                "XSETID: entries_added is smaller than the target stream length".into(),
            ));
        }
        if maxdel.is_some_and(|m| last < m) {
            return Err(Error::Syntax(
                "XSETID: the ID specified is smaller than the provided max_deleted_entry_id".into(),
            ));
        }
        s.last_id = last;
        if let Some(n) = added {
            s.entries_added = n;
        }
        if let Some(m) = maxdel {
            s.max_deleted_id = m;
        }
        Ok(())
    }

    /// XDEL key id...: the largest deleted id is kept.
    pub(crate) fn xdel(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        if let Some(s) = existing!(self, a[1], Stream, "XDEL") {
            for id in &a[2..] {
                let id = stream_id(id)?;
                if s.entries.remove(&id).is_some() && id > s.max_deleted_id {
                    s.max_deleted_id = id;
                }
            }
        }
        Ok(())
    }

    /// XACK key group id...
    pub(crate) fn xack(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 4)?;
        if let Some(s) = existing!(self, a[1], Stream, "XACK") {
            if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[2]) {
                for id in &a[3..] {
                    g.pel.remove(&stream_id(id)?);
                }
            }
        }
        Ok(())
    }

    /// XCLAIM as the server logs it: `XCLAIM key group consumer min-idle id... [IDLE ms]
    /// [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]`.
    pub(crate) fn xclaim(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 6)?;
        let mut ids = Vec::new();
        let mut i = 5;
        while i < a.len() {
            match stream_id(a[i]) {
                Ok(id) if !a[i].iter().any(|b| b.is_ascii_alphabetic()) => ids.push(id),
                _ => break,
            }
            i += 1;
        }
        let (mut time, mut count, mut force, mut lastid) = (None, None, false, None);
        let now = self.now_ms;
        while i < a.len() {
            let arg = a.get(i + 1).copied();
            match (a[i].to_ascii_uppercase().as_slice(), arg) {
                (b"IDLE", Some(v)) => {
                    time = Some(now.saturating_sub(int(v)?));
                    i += 1;
                }
                (b"TIME", Some(v)) => {
                    time = Some(int(v)?);
                    i += 1;
                }
                (b"RETRYCOUNT", Some(v)) => {
                    count = Some(int(v)? as u64);
                    i += 1;
                }
                (b"LASTID", Some(v)) => {
                    lastid = Some(stream_id(v)?);
                    i += 1;
                }
                (b"FORCE", _) => force = true,
                (b"JUSTID", _) => {}
                (o, _) => return Err(Error::Syntax(format!("XCLAIM option {}", text(o)))),
            }
            i += 1;
        }
        let Some(s) = existing!(self, a[1], Stream, "XCLAIM") else {
            return Ok(());
        };
        let Some(g) = s.groups.iter_mut().find(|g| g.name == a[2]) else {
            return Ok(());
        };
        if let Some(l) = lastid {
            if l > g.last_id {
                g.last_id = l;
            }
        }
        let consumer = a[3].to_vec();
        if g.consumers.iter().all(|c| c.0 != consumer) {
            g.consumers.push((consumer.clone(), now, Some(now)));
        }
        for id in ids {
            if !s.entries.contains_key(&id) {
                // The entry is gone: the server drops it from the PEL.
                g.pel.remove(&id);
                continue;
            }
            let cur = g.pel.get(&id).cloned();
            if cur.is_none() && !force {
                continue;
            }
            let (t0, c0) = cur.map_or((now, 0), |p| (p.0, p.1));
            g.pel.insert(
                id,
                (
                    time.unwrap_or(t0),
                    count.unwrap_or(c0 + 1),
                    consumer.clone(),
                ),
            );
        }
        Ok(())
    }

    /// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER.
    pub(crate) fn xgroup(&mut self, a: &[&[u8]]) -> Result<(), Error> {
        arity(a, 3)?;
        let sub = a[1].to_ascii_uppercase();
        match sub.as_slice() {
            b"CREATE" => {
                arity(a, 5)?;
                let mkstream = a[5..].iter().any(|x| x.eq_ignore_ascii_case(b"MKSTREAM"));
                let entries_read = entries_read_arg(a)?;
                if !mkstream && !self.db_mut().contains_key(a[2]) {
                    return Err(Error::Syntax("XGROUP CREATE on no key".into()));
                }
                let s: &mut Box<Stream> = typed!(self, a[2], Stream, "XGROUP");
                let last = group_start(s, a[4])?;
                if s.groups.iter().all(|g| g.name != a[3]) {
                    s.groups.push(Group {
                        name: a[3].to_vec(),
                        last_id: last,
                        entries_read,
                        pel: Default::default(),
                        consumers: Vec::new(),
                    });
                }
            }
            b"SETID" => {
                arity(a, 5)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP SETID") {
                    let last = group_start(s, a[4])?;
                    let entries_read = entries_read_arg(a)?;
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        g.last_id = last;
                        g.entries_read = entries_read;
                    }
                }
            }
            b"DESTROY" => {
                arity(a, 4)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP DESTROY") {
                    s.groups.retain(|g| g.name != a[3]);
                }
            }
            b"CREATECONSUMER" => {
                arity(a, 5)?;
                let now = self.now_ms;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP CREATECONSUMER") {
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        if g.consumers.iter().all(|c| c.0 != a[4]) {
                            g.consumers.push((a[4].to_vec(), now, Some(now)));
                        }
                    }
                }
            }
            b"DELCONSUMER" => {
                arity(a, 5)?;
                if let Some(s) = existing!(self, a[2], Stream, "XGROUP DELCONSUMER") {
                    if let Some(g) = s.groups.iter_mut().find(|g| g.name == a[3]) {
                        g.consumers.retain(|c| c.0 != a[4]);
                        g.pel.retain(|_, p| p.2 != a[4]);
                    }
                }
            }
            _ => return Err(Error::Unknown(format!("XGROUP {}", text(&sub)))),
        }
        Ok(())
    }
}

/// An explicit stream id, `ms-seq` or `ms`.
fn stream_id(b: &[u8]) -> Result<StreamId, Error> {
    let s = std::str::from_utf8(b).map_err(|_| Error::Syntax("bad stream id".into()))?;
    let (ms, seq) = match s.split_once('-') {
        Some((a, b)) => (a.parse::<u64>().ok(), b.parse::<u64>().ok()),
        None => (s.parse::<u64>().ok(), Some(0)),
    };
    match (ms, seq) {
        (Some(ms), Some(seq)) => Ok(StreamId { ms, seq }),
        _ => Err(Error::Unknown(format!(
            "stream id {s:?} (only explicit ids)"
        ))),
    }
}

/// How a stream is trimmed, as the server logs it (exact: `=`, or `~` rewritten by it).
#[derive(Clone, Copy)]
enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Parses `[MAXLEN|MINID [=|~] threshold [LIMIT n]]` at `i`; returns it and the next index.
fn parse_trim(a: &[&[u8]], mut i: usize) -> Result<(Option<Trim>, usize), Error> {
    let Some(word) = a.get(i) else {
        return Ok((None, i));
    };
    let strategy = word.to_ascii_uppercase();
    if strategy != b"MAXLEN" && strategy != b"MINID" {
        return Ok((None, i));
    }
    i += 1;
    let mut approx = false;
    match a.get(i).copied() {
        Some(b"=") => i += 1,
        Some(b"~") => {
            approx = true;
            i += 1
        }
        _ => {}
    }
    let arg = a
        .get(i)
        .ok_or_else(|| Error::Syntax("trim threshold".into()))?;
    let t = if strategy == b"MAXLEN" {
        Trim::MaxLen(int(arg)?.max(0) as u64)
    } else {
        Trim::MinId(stream_id(arg)?)
    };
    i += 1;
    // LIMIT bounds an approximate trim only: the server logs the exact trim it made with the
    // LIMIT it was given, and ignores LIMIT when it loads the log.
    if a.get(i).is_some_and(|w| w.eq_ignore_ascii_case(b"LIMIT")) {
        i += 2;
    }
    if approx {
        // The server trims whole nodes then: what it removes depends on its node layout.
        return Err(Error::Unknown("approximate stream trimming (~)".into()));
    }
    Ok((Some(t), i))
}

/// Removes the oldest entries as `t` says.
fn trim_stream(s: &mut Stream, t: Trim) {
    match t {
        Trim::MaxLen(n) => {
            while s.entries.len() as u64 > n {
                s.entries.pop_first();
            }
        }
        Trim::MinId(min) => {
            while s.entries.first_key_value().is_some_and(|(id, _)| *id < min) {
                s.entries.pop_first();
            }
        }
    }
}

/// The `ENTRIESREAD n` of XGROUP CREATE / SETID; `None` when absent or -1 (unknown).
fn entries_read_arg(a: &[&[u8]]) -> Result<Option<u64>, Error> {
    match a
        .iter()
        .position(|x| x.eq_ignore_ascii_case(b"ENTRIESREAD"))
    {
        Some(p) => {
            let n = int(a.get(p + 1).copied().unwrap_or_default())?;
            Ok((n >= 0).then_some(n as u64))
        }
        None => Ok(None),
    }
}

/// A group's last delivered id as XGROUP gives it: an id, or `$` for the stream's last.
fn group_start(s: &Stream, arg: &[u8]) -> Result<StreamId, Error> {
    if arg == b"$" {
        Ok(s.last_id)
    } else {
        stream_id(arg)
    }
}
