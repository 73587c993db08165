//! What commands print: tables on a terminal, one JSON document with `--json`, the key being
//! read when something fails, and the summary of what a conversion refused or dropped.

pub use crate::position::{fault_kind, Position};
use base64::Engine;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

/// A byte string in JSON as dump-json writes it by default (and as every `--json` report
/// writes keys): valid UTF-8 as a string, anything else as `{"base64": "..."}`.
pub fn json_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
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

/// Prints the summary of refusals and drops; returns the exit code when refused.
pub fn conversion_outcome(out: &crate::transcode::Outcome) -> Option<i32> {
    if out.refused.total > 0 {
        let n = out.refused.total;
        out.refused.print(&format!(
            "redkit: {} cannot be written for RDB {}; nothing written (--lossy names what may \
             be dropped):",
            if n == 1 {
                "1 item".to_string()
            } else {
                format!("{n} items")
            },
            out.version
        ));
        return Some(crate::exit::PROBLEMS);
    }
    if out.dropped.total > 0 {
        out.dropped.print(&format!(
            "redkit: dropped (--lossy), {} item(s){}:",
            out.dropped.total,
            if out.dropped_field_ttls > 0 {
                format!(", {} field TTL(s) in all", out.dropped_field_ttls)
            } else {
                String::new()
            }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_dump_json_writes_them() {
        assert_eq!(json_bytes(b"user:1"), json!("user:1"));
        assert_eq!(json_bytes(b"\"q\""), json!("\"q\""));
        assert_eq!(json_bytes(b"\xff"), json!({"base64": "/w=="}));
    }
}
