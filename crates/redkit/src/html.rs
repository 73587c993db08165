//! The `analyze --html` page: one self-contained HTML file (styles and script inline, nothing
//! fetched) that draws the report's JSON document: a treemap of key prefixes by memory (two
//! levels, each top-level prefix split into its children), the time-to-live histogram, memory
//! by type and encoding, and the largest keys.

use serde_json::Value;
use std::io::{self, Write};

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fafbfc; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: #5b6475; }
#treemap { position: relative; width: 100%; height: 420px; background: #e9edf3; border-radius: 4px; }
.tile { position: absolute; box-sizing: border-box; border: 1px solid #fafbfc; overflow: hidden;
        font-size: 12px; padding: 2px 4px; color: #fff; white-space: nowrap; }
.tile.child { border-color: rgba(255,255,255,.45); background: rgba(255,255,255,.12); }
.tile .name { font-weight: 600; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #e1e5ec; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { height: 14px; background: #3d6fd8; display: inline-block; vertical-align: middle; }
.bars td { vertical-align: middle; }
"#;

const SCRIPT: &str = r#"
(() => {
const data = JSON.parse(document.getElementById('report').textContent);
const human = n => { const u = ['B','KiB','MiB','GiB','TiB']; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i]; };
const text = b => (typeof b === 'string') ? b : ('base64:' + b.base64);
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k); return e; };
const total = data.total.memory || 1;
document.getElementById('summary').textContent =
  `${data.total.keys} keys, ${human(data.total.memory)} as ${data.server} (${data.allocator}) counts them after loading the file; ${human(data.total.rdb_bytes)} in the file` +
  (data.complete ? '' : ' (the file is damaged: the figures cover the keys before the damage)');

// Squarified treemap of `items` ({value}) into the rectangle (x, y, w, h).
function squarify(items, x, y, w, h) {
  const out = []; items = items.filter(i => i.value > 0).sort((a, b) => b.value - a.value);
  let sum = items.reduce((s, i) => s + i.value, 0);
  while (items.length) {
    const short = Math.min(w, h), scale = (w * h) / sum;
    let row = [], rowSum = 0, worst = Infinity;
    for (const it of items) {
      const s = rowSum + it.value, r = row.concat([it]);
      const max = Math.max(...r.map(i => i.value)) * scale, min = Math.min(...r.map(i => i.value)) * scale;
      const side = s * scale / short, wr = Math.max((side * side) / min, max / (side * side));
      if (row.length && wr > worst) break;
      row = r; rowSum = s; worst = wr;
    }
    const side = rowSum * scale / short; let off = 0;
    for (const it of row) {
      const len = it.value * scale / side;
      if (w >= h) out.push({ it, x: x, y: y + off, w: side, h: len });
      else out.push({ it, x: x + off, y: y, w: len, h: side });
      off += len;
    }
    if (w >= h) { x += side; w -= side; } else { y += side; h -= side; }
    items = items.slice(row.length); sum -= rowSum;
  }
  return out;
}
const colors = ['#3d6fd8','#d8643d','#2f9e6b','#8a4fd1','#c7a21b','#1f93a8','#c2437f','#6b7a8f'];
const map = document.getElementById('treemap');
const W = map.clientWidth, H = map.clientHeight;
const byParent = {};
for (const p of data.prefixes) { const k = text(p.parent); (byParent[k] = byParent[k] || []).push(p); }
const tops = (byParent[''] || []).map(p => ({ value: p.memory, p }));
if (data.unprefixed.memory) tops.push({ value: data.unprefixed.memory, p: { prefix: '(no prefix)', keys: data.unprefixed.keys, memory: data.unprefixed.memory } });
if (data.prefixes_other) tops.push({ value: data.prefixes_other.memory, p: { prefix: '(other prefixes)', keys: data.prefixes_other.keys, memory: data.prefixes_other.memory } });
squarify(tops, 0, 0, W, H).forEach((t, i) => {
  const name = text(t.it.p.prefix);
  const tile = el('div', { class: 'tile', title: `${name}: ${t.it.p.keys} keys, ${human(t.it.p.memory)}`,
    style: `left:${t.x}px;top:${t.y}px;width:${t.w}px;height:${t.h}px;background:${colors[i % colors.length]}` },
    el('span', { class: 'name' }, name), ' ' + human(t.it.p.memory));
  map.append(tile);
  const kids = (byParent[name] || []).map(p => ({ value: p.memory, p }));
  if (t.w > 60 && t.h > 40 && kids.length) {
    // The keys right under the prefix take their share too (not drawn).
    const rest = t.it.p.memory - kids.reduce((s, k) => s + k.value, 0);
    if (rest > 0) kids.push({ value: rest, rest: true });
    squarify(kids, t.x + 2, t.y + 18, t.w - 4, t.h - 20).filter(c => !c.it.rest).forEach(c => {
      const n = text(c.it.p.prefix);
      map.append(el('div', { class: 'tile child', title: `${n}: ${c.it.p.keys} keys, ${human(c.it.p.memory)}`,
        style: `left:${c.x}px;top:${c.y}px;width:${c.w}px;height:${c.h}px` }, n.slice(name.length)));
    });
  }
});

const ttl = document.getElementById('ttl');
const maxTtl = Math.max(1, ...data.ttl.map(b => b.memory));
for (const b of data.ttl) {
  ttl.append(el('tr', { class: 'bucket' }, el('td', {}, b.bucket), el('td', { class: 'num' }, String(b.keys)),
    el('td', { class: 'num' }, human(b.memory)),
    el('td', {}, el('span', { class: 'bar', style: `width:${Math.round(300 * b.memory / maxTtl)}px` }))));
}
const types = document.getElementById('types');
for (const t of data.by_type) {
  types.append(el('tr', {}, el('td', { class: 'num' }, String(t.db)), el('td', {}, t.type), el('td', {}, t.encoding),
    el('td', { class: 'num' }, String(t.keys)), el('td', { class: 'num' }, human(t.memory)),
    el('td', { class: 'num' }, (100 * t.memory / total).toFixed(1) + '%'), el('td', { class: 'num' }, human(t.rdb_bytes))));
}
for (const [id, list] of [['top-memory', data.top.memory], ['top-elements', data.top.elements], ['top-rdb', data.top.rdb_bytes]]) {
  const body = document.getElementById(id);
  for (const k of list) {
    body.append(el('tr', { class: 'key' }, el('td', {}, text(k.key) + (k.db ? ` (db ${k.db})` : '')), el('td', {}, k.type),
      el('td', {}, k.encoding), el('td', { class: 'num' }, human(k.memory)), el('td', { class: 'num' }, String(k.elements)),
      el('td', { class: 'num' }, human(k.rdb_bytes)), el('td', { class: 'num' }, human(k.largest_element))));
  }
}
document.body.setAttribute('data-ready', '1');
})();
"#;

/// Writes the page for `report` (the `--json` document) to `out`.
pub fn write_page(out: &mut dyn Write, report: &Value) -> io::Result<()> {
    let file = report["file"].as_str().unwrap_or("");
    // The document is embedded as JSON in a script element: `</` must not close it.
    let json = serde_json::to_string(report)
        .map_err(io::Error::other)?
        .replace("</", "<\\/");
    let key_head = "<tr><th>key</th><th>type</th><th>encoding</th><th class=num>memory</th>\
                    <th class=num>elements</th><th class=num>in file</th>\
                    <th class=num>largest element</th></tr>";
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n\
         <title>redkit analyze: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Memory of {title}</h1>\n<p class=sub id=summary></p>\n\
         <h2>By key prefix</h2>\n<div id=treemap></div>\n\
         <h2>By time to live</h2>\n<table class=bars><thead><tr><th>expiry</th>\
         <th class=num>keys</th><th class=num>memory</th><th></th></tr></thead>\
         <tbody id=ttl></tbody></table>\n\
         <h2>By type and encoding</h2>\n<table><thead><tr><th class=num>db</th><th>type</th>\
         <th>encoding</th><th class=num>keys</th><th class=num>memory</th>\
         <th class=num>share</th><th class=num>in file</th></tr></thead>\
         <tbody id=types></tbody></table>\n\
         <h2>Largest keys by memory</h2>\n<table><thead>{key_head}</thead>\
         <tbody id=top-memory></tbody></table>\n\
         <h2>Largest keys by elements</h2>\n<table><thead>{key_head}</thead>\
         <tbody id=top-elements></tbody></table>\n\
         <h2>Largest keys by bytes in the file</h2>\n<table><thead>{key_head}</thead>\
         <tbody id=top-rdb></tbody></table>\n\
         <script id=report type=application/json>{json}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(file),
    )
}

/// Text for HTML: `&`, `<`, `>` and `"` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_document_cannot_close_its_script() {
        let mut out = Vec::new();
        write_page(
            &mut out,
            &json!({"file": "a<b>.rdb", "x": "</script><script>alert(1)"}),
        )
        .unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("</script><script>alert"));
        assert!(page.contains("a&lt;b&gt;.rdb"));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
