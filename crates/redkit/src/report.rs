//! What commands print: tables on a terminal, one JSON document with `--json`, the key being
//! read when something fails, and the summary of what a conversion refused or dropped.

use base64::Engine;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use rdb_parse::escape;
pub use rdb_parse::{fault_kind, Position};
use serde_json::{json, Value};

/// A byte string in JSON as dump-json writes it by default (and as every `--json` report
/// writes keys): valid UTF-8 as a string, anything else as `{"base64": "..."}`.
pub fn json_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
    }
}

/// The server an AUX field names as the file's writer: `redis-ver` or `valkey-ver` gives
/// (family, version). Valkey writes both: a consumer keeps the `valkey` one
/// ([`prefer_creator`]).
pub fn creator_field(
    key: rdb_parse::Str<'_>,
    value: rdb_parse::Str<'_>,
) -> Option<(String, String)> {
    let k = key.to_vec();
    let family = match k.as_slice() {
        b"redis-ver" => "redis",
        b"valkey-ver" => "valkey",
        _ => return None,
    };
    Some((
        family.to_string(),
        String::from_utf8_lossy(&value.to_vec()).into_owned(),
    ))
}

/// Keeps the writer an AUX field names, a `valkey-ver` over a `redis-ver`.
pub fn prefer_creator(
    current: &mut Option<(String, String)>,
    key: rdb_parse::Str<'_>,
    value: rdb_parse::Str<'_>,
) {
    if let Some(c) = creator_field(key, value) {
        if current.as_ref().is_none_or(|(f, _)| f != "valkey") {
            *current = Some(c);
        }
    }
}

/// Bytes for people: `512 B`, `1.5 GiB` (powers of 1024).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// An empty table in the house style.
pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t
}

/// Prints one JSON document on stdout.
pub fn print_json(v: &Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A JSON value as table text: `-` for null, strings without quotes.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Items of one kind a report lists in full: a real input has a few, a forged one can have
/// millions, which are counted and not kept.
pub const KEPT_ITEMS: usize = 1000;

/// A list that keeps its first [`KEPT_ITEMS`] items and counts the rest, so that a report on
/// a forged input (a manifest of a million lines) stays small.
#[derive(Debug)]
pub struct Capped<T> {
    /// The first items, in order.
    pub kept: Vec<T>,
    /// Every item pushed, kept or not.
    pub total: u64,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            kept: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Capped<T> {
    /// Counts `item`, and keeps it while fewer than [`KEPT_ITEMS`] are kept.
    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.kept.len() < KEPT_ITEMS {
            self.kept.push(item);
        }
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many were counted and not kept.
    pub fn omitted(&self) -> u64 {
        self.total - self.kept.len() as u64
    }
}

/// Prints items (refused or dropped) under a heading, to stderr.
pub fn print_items(items: &transcode::Items, heading: &str) {
    eprintln!("{heading}");
    for r in &items.first {
        eprintln!("  db {} {}: {}", r.db, escape(&r.key), r.why);
    }
    if items.total > items.first.len() as u64 {
        eprintln!("  ... and {} more", items.total - items.first.len() as u64);
    }
}

/// Says how many empty collections were skipped, if any.
pub fn note_empty_skipped(n: u64) {
    if n > 0 {
        eprintln!(
            "redkit: note: {n} empty key(s) skipped, as the servers skip them at load \
             (--keep-empty writes them)"
        );
    }
}

/// What stops a conversion before anything may be committed: the input is damaged (exit 1),
/// unreadable (an error: exit 2), or holds what the target cannot (exit 1, the items listed).
/// Prints why, and what was dropped or noted otherwise; returns the exit code when nothing may
/// be written.
pub fn conversion_outcome(
    out: &transcode::Outcome,
    info: &crate::input::InputInfo,
) -> anyhow::Result<Option<i32>> {
    if let Some((e, pos)) = &out.parse_error {
        if e.is_io() {
            anyhow::bail!("cannot read {}: {}", info.name, pos.describe(e));
        }
        match info.gzip_fault().filter(|_| e.is_truncation()) {
            Some(g) => eprintln!("redkit: {}: {g}", info.name),
            None => eprintln!("redkit: {}: {}", info.name, pos.describe(e)),
        }
        eprintln!("redkit: nothing written");
        return Ok(Some(crate::exit::PROBLEMS));
    }
    if out.refused.total == 0 {
        // A whole RDB out of a gzip file whose trailer (CRC32, length) is wrong: the fault is
        // recorded once what follows the RDB was read (InputInfo::after_content).
        if let Some(g) = info.gzip_fault() {
            eprintln!(
                "redkit: {}: the RDB is whole, but the gzip file is not: {g}; nothing written",
                info.name
            );
            return Ok(Some(crate::exit::PROBLEMS));
        }
    }
    if out.refused.total > 0 {
        let n = out.refused.total;
        print_items(
            &out.refused,
            &format!(
                "redkit: {} cannot be written for RDB {}; nothing written (--lossy names what \
                 may be dropped):",
                if n == 1 {
                    "1 item".to_string()
                } else {
                    format!("{n} items")
                },
                out.version
            ),
        );
        return Ok(Some(crate::exit::PROBLEMS));
    }
    if out.dropped.total > 0 {
        print_items(
            &out.dropped,
            &format!(
                "redkit: dropped (--lossy), {} item(s){}:",
                out.dropped.total,
                if out.dropped_field_ttls > 0 {
                    format!(", {} field TTL(s) in all", out.dropped_field_ttls)
                } else {
                    String::new()
                }
            ),
        );
    }
    for n in &out.notes {
        eprintln!("redkit: note: {n}");
    }
    note_empty_skipped(out.empty_skipped);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_list_keeps_the_first_items_and_counts_all() {
        let mut c = Capped::default();
        assert!(c.is_empty());
        for i in 0..KEPT_ITEMS + 5 {
            c.push(i);
        }
        assert_eq!(c.total, KEPT_ITEMS as u64 + 5);
        assert_eq!(c.kept.len(), KEPT_ITEMS);
        assert_eq!(c.kept[KEPT_ITEMS - 1], KEPT_ITEMS - 1);
        assert_eq!(c.omitted(), 5);
    }

    #[test]
    fn keys_as_dump_json_writes_them() {
        assert_eq!(json_bytes(b"user:1"), json!("user:1"));
        assert_eq!(json_bytes(b"\"q\""), json!("\"q\""));
        assert_eq!(json_bytes(b"\xff"), json!({"base64": "/w=="}));
    }
}
