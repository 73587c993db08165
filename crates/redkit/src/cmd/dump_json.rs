//! `redkit dump-json`: JSON Lines, one object per key, written element by element.

use crate::args::FilterArgs;
use crate::exit;
use crate::json::{BytesMode, Json};
use crate::output::{self, AtomicFile, Dest, Kind};
use crate::report::Position;
use anyhow::{Context, Result};
use rdb_parse::{
    drive_relayed, ArrayValue, Family, KeyEnd, KeyInfo, Parser, Sink, Stop, Str, StreamId,
    StreamMeta, ValueType,
};
use std::io::{self, Write};
use std::path::PathBuf;
use transcode::KeyFilter;

const EXAMPLES: &str = "\
Examples:
  redkit dump-json dump.rdb                      every key, one JSON object per line
  redkit dump-json dump.rdb --db 0 --key 'user:*' --type hash
  redkit dump-json backup.rdb.gz -o keys.jsonl   gzip is detected; output written atomically
  redkit dump-json - --bytes base64 < dump.rdb   lossless for machines: every byte string base64
  redkit dump-json dump.rdb --meta | head        aux fields and function libraries too

An existing -o FILE is replaced only with --force; the input itself never is. A string value
over 16 MiB is written as it is read, as {\"base64\": ...} (a base64 string with --bytes base64):
whether it is UTF-8 cannot be known before its end.

The schema is described in docs/json-format.md.";

/// Dump an RDB file as JSON Lines: one object per key, in file order.
///
/// Each key is written as it is read, element by element, so a key of any size streams.
/// Exit status: 0 when the whole file was read, 1 when it is corrupt or truncated (the keys
/// before the fault are still written), 2 on usage or I/O errors.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The RDB file (`-` for stdin; gzip-compressed input is detected)
    pub file: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// How byte strings are written: `auto` (UTF-8 as text, else {"base64": ...}) or `base64`
    #[arg(long, value_enum, default_value = "auto")]
    pub bytes: BytesMode,
    /// Also write lines for the header, aux fields, function libraries and module aux records
    #[arg(long)]
    pub meta: bool,
    /// Read an RDB version newer than any known of its family as the newest known one (as
    /// Valkey's `rdb-version-check relaxed`); an opcode or type it does not have still fails
    #[arg(long)]
    pub relaxed_version: bool,
    /// Write to FILE instead of stdout (atomically: a temporary file renamed at the end);
    /// `-` is stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists
    #[arg(long)]
    pub force: bool,
    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,
}

/// String values longer than this are read and written in parts of this size.
const STRING_PART: usize = 16 << 20;

/// Hash fields kept before deciding between object and array form.
const HASH_BUFFER_BYTES: usize = 8 << 20;

#[derive(Default)]
struct HashBuf {
    arena: Vec<u8>,
    /// (field end, value end, expire) into `arena`; fields start at the previous value end.
    items: Vec<(usize, usize, Option<i64>)>,
    all_utf8: bool,
    /// Array form chosen and the opening already written (buffer overflowed).
    streaming: bool,
    ttls: Vec<(Vec<u8>, i64)>,
}

struct Group {
    pel: Vec<(StreamId, i64, u64)>,
    owner: std::collections::HashMap<StreamId, usize>,
    consumers: Vec<Vec<u8>>,
    consumer_pending_left: u64,
    consumer_open: bool,
}

/// Writes events of a key as JSON.
struct Dumper<W: Write> {
    json: Json<W>,
    filter: KeyFilter,
    meta: bool,
    skipping: bool,
    vtype: ValueType,
    first: bool,
    hash: HashBuf,
    stream_fields_left: u64,
    group: Option<Group>,
    /// The key being read, for messages.
    pos: Position,
    /// Write empty collections (the servers skip them at load).
    keep_empty: bool,
    /// Empty collections skipped.
    empty_skipped: u64,
    /// Where the current key's line started, while it may still turn out empty (a quicklist:
    /// its length is known only at its end).
    maybe_empty: Option<crate::json::Mark>,
}

fn id_str(id: StreamId) -> String {
    format!("\"{}-{}\"", id.ms, id.seq)
}

impl<W: Write> Dumper<W> {
    fn sep(&mut self) -> io::Result<()> {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.json.raw(b",")
        }
    }

    fn opt_id(&mut self, name: &[u8], id: Option<StreamId>) -> io::Result<()> {
        self.json.raw(name)?;
        match id {
            Some(id) => self.json.raw(id_str(id).as_bytes()),
            None => self.json.raw(b"null"),
        }
    }

    fn opt_uint(&mut self, name: &[u8], v: Option<u64>) -> io::Result<()> {
        self.json.raw(name)?;
        match v {
            Some(v) => self.json.uint(v),
            None => self.json.raw(b"null"),
        }
    }

    fn close_group(&mut self) -> io::Result<()> {
        let Some(g) = self.group.take() else {
            return Ok(());
        };
        self.json.raw(b"],\"pending\":[")?;
        for (i, (id, time, count)) in g.pel.iter().enumerate() {
            if i > 0 {
                self.json.raw(b",")?;
            }
            self.json.raw(b"{\"id\":")?;
            self.json.raw(id_str(*id).as_bytes())?;
            self.json.raw(b",\"consumer\":")?;
            match g.owner.get(id) {
                Some(&c) => self.json.bytes(&g.consumers[c])?,
                None => self.json.raw(b"null")?,
            }
            self.json.raw(b",\"delivery_time_ms\":")?;
            self.json.int(*time)?;
            self.json.raw(b",\"delivery_count\":")?;
            self.json.uint(*count)?;
            self.json.raw(b"}")?;
        }
        self.json.raw(b"]}")
    }

    fn hash_field_json(
        &mut self,
        field: Str<'_>,
        value: Str<'_>,
        expire: Option<i64>,
    ) -> io::Result<()> {
        if let Some(ms) = expire {
            self.hash.ttls.push((field.to_vec(), ms));
        }
        if self.hash.streaming {
            self.sep()?;
            self.json.raw(b"[")?;
            self.json.str(field)?;
            self.json.raw(b",")?;
            self.json.str(value)?;
            return self.json.raw(b"]");
        }
        let h = &mut self.hash;
        let start = h.arena.len();
        field.append_to(&mut h.arena);
        if h.all_utf8 && std::str::from_utf8(&h.arena[start..]).is_err() {
            h.all_utf8 = false;
        }
        let fend = h.arena.len();
        value.append_to(&mut h.arena);
        h.items.push((fend, h.arena.len(), expire));
        if h.arena.len() > HASH_BUFFER_BYTES {
            // Too large to hold: commit to the array form, which needs no look-ahead.
            self.json.raw(b"[")?;
            self.flush_hash_items(false)?;
            self.hash.streaming = true;
        }
        Ok(())
    }

    /// Writes the buffered hash items in object or array form.
    fn flush_hash_items(&mut self, object: bool) -> io::Result<()> {
        let items = std::mem::take(&mut self.hash.items);
        let arena = std::mem::take(&mut self.hash.arena);
        let mut start = 0;
        for (fend, vend, _) in &items {
            let (f, v) = (&arena[start..*fend], &arena[*fend..*vend]);
            if object {
                self.sep()?;
                self.json.key(f)?;
                self.json.bytes(v)?;
            } else {
                self.sep()?;
                self.json.raw(b"[")?;
                self.json.bytes(f)?;
                self.json.raw(b",")?;
                self.json.bytes(v)?;
                self.json.raw(b"]")?;
            }
            start = *vend;
        }
        self.hash.items = items;
        self.hash.items.clear();
        self.hash.arena = arena;
        self.hash.arena.clear();
        Ok(())
    }

    fn finish_hash(&mut self) -> io::Result<()> {
        let object = if self.hash.streaming {
            false
        } else {
            let object = self.json.mode() == BytesMode::Base64 || self.hash.all_utf8;
            self.json.raw(if object { b"{" } else { b"[" })?;
            self.flush_hash_items(object)?;
            object
        };
        self.json.raw(if object { b"}" } else { b"]" })?;
        if !self.hash.ttls.is_empty() {
            let ttls = std::mem::take(&mut self.hash.ttls);
            self.json.raw(b",\"field_expire_at_ms\":")?;
            self.json.raw(if object { b"{" } else { b"[" })?;
            for (i, (f, ms)) in ttls.iter().enumerate() {
                if i > 0 {
                    self.json.raw(b",")?;
                }
                if object {
                    self.json.key(f)?;
                    self.json.int(*ms)?;
                } else {
                    self.json.raw(b"[")?;
                    self.json.bytes(f)?;
                    self.json.raw(b",")?;
                    self.json.int(*ms)?;
                    self.json.raw(b"]")?;
                }
            }
            self.json.raw(if object { b"}" } else { b"]" })?;
            self.hash.ttls = ttls;
            self.hash.ttls.clear();
        }
        Ok(())
    }
}

/// Returns early from a [`Sink`] method while the current key is filtered out.
macro_rules! skip_filtered {
    ($self:ident) => {
        if $self.skipping {
            return Ok(());
        }
    };
}

impl<W: Write> Sink for Dumper<W> {
    type Error = io::Error;

    fn header(&mut self, family: Family, version: u32) -> io::Result<()> {
        if !self.meta {
            return Ok(());
        }
        self.json.raw(b"{\"meta\":\"rdb\",\"family\":")?;
        self.json.text(&family.magic().to_ascii_lowercase())?;
        self.json.raw(b",\"version\":")?;
        self.json.uint(version as u64)?;
        self.json.raw(b"}\n")
    }

    fn aux(&mut self, key: Str<'_>, value: Str<'_>) -> io::Result<()> {
        if !self.meta {
            return Ok(());
        }
        self.json.raw(b"{\"meta\":\"aux\",\"name\":")?;
        self.json.str(key)?;
        self.json.raw(b",\"value\":")?;
        self.json.str(value)?;
        self.json.raw(b"}\n")
    }

    fn function(&mut self, code: Str<'_>) -> io::Result<()> {
        if !self.meta {
            return Ok(());
        }
        self.json.raw(b"{\"meta\":\"function\",\"code\":")?;
        self.json.str(code)?;
        self.json.raw(b"}\n")
    }

    fn module_aux(&mut self, name: [u8; 9], version: u16, when: u64) -> io::Result<()> {
        if !self.meta {
            return Ok(());
        }
        self.json.raw(b"{\"meta\":\"module_aux\",\"module\":")?;
        self.json.text(&String::from_utf8_lossy(&name))?;
        self.json.raw(b",\"version\":")?;
        self.json.uint(version as u64)?;
        self.json.raw(b",\"when\":")?;
        self.json.uint(when)?;
        self.json.raw(b"}\n")
    }

    fn key_start(&mut self, info: &KeyInfo<'_>) -> io::Result<()> {
        self.pos.start(info.db, info.key);
        let mut scratch = [0u8; 20];
        let key = info.key.as_bytes(&mut scratch);
        if !self.filter.is_all() && !self.filter.matches(info.db, key, info.value_type) {
            self.skipping = true;
            return Ok(());
        }
        if !self.keep_empty && info.is_empty_collection() {
            self.skipping = true;
            self.empty_skipped += 1;
            return Ok(());
        }
        self.maybe_empty =
            (!self.keep_empty && info.value_type == ValueType::List && info.len.is_none())
                .then(|| self.json.mark());
        self.vtype = info.value_type;
        self.json.raw(b"{\"db\":")?;
        self.json.uint(info.db)?;
        self.json.raw(b",\"key\":")?;
        self.json.str(info.key)?;
        self.json.raw(b",\"type\":\"")?;
        self.json.raw(info.value_type.name().as_bytes())?;
        self.json.raw(b"\",\"encoding\":\"")?;
        self.json.raw(info.encoding.name().as_bytes())?;
        self.json.raw(b"\"")?;
        if let Some(ms) = info.expire_ms {
            self.json.raw(b",\"expire_at_ms\":")?;
            self.json.int(ms)?;
        }
        if let Some(idle) = info.idle_s {
            self.json.raw(b",\"idle_s\":")?;
            self.json.uint(idle)?;
        }
        if let Some(freq) = info.freq {
            self.json.raw(b",\"freq\":")?;
            self.json.uint(freq as u64)?;
        }
        self.json.raw(b",\"value\":")?;
        self.first = true;
        match info.value_type {
            ValueType::List | ValueType::Set | ValueType::Zset | ValueType::Array => {
                self.json.raw(b"[")
            }
            ValueType::Hash => {
                self.hash.arena.clear();
                self.hash.items.clear();
                self.hash.ttls.clear();
                self.hash.all_utf8 = true;
                self.hash.streaming = false;
                Ok(())
            }
            ValueType::Stream => self.json.raw(b"{\"entries\":["),
            ValueType::String | ValueType::Module => Ok(()),
        }
    }

    #[inline]
    fn element(&mut self, s: Str<'_>) -> io::Result<()> {
        skip_filtered!(self);
        self.maybe_empty = None;
        if self.vtype != ValueType::String {
            self.sep()?;
        }
        self.json.str(s)
    }

    fn string_part(&mut self, part: &[u8], _: u64, first: bool, last: bool) -> io::Result<()> {
        skip_filtered!(self);
        self.json.bytes_part(part, first, last)
    }

    fn zmember(&mut self, member: Str<'_>, score: f64) -> io::Result<()> {
        skip_filtered!(self);
        self.sep()?;
        self.json.raw(b"[")?;
        self.json.str(member)?;
        self.json.raw(b",")?;
        self.json.double(score)?;
        self.json.raw(b"]")
    }

    fn hash_field(
        &mut self,
        field: Str<'_>,
        value: Str<'_>,
        expire_ms: Option<i64>,
    ) -> io::Result<()> {
        skip_filtered!(self);
        self.hash_field_json(field, value, expire_ms)
    }

    fn stream_entry(&mut self, id: StreamId, fields: u64) -> io::Result<()> {
        skip_filtered!(self);
        self.sep()?;
        self.json.raw(b"{\"id\":")?;
        self.json.raw(id_str(id).as_bytes())?;
        self.json.raw(b",\"fields\":[")?;
        self.stream_fields_left = fields;
        if fields == 0 {
            self.json.raw(b"]}")?;
        }
        Ok(())
    }

    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> io::Result<()> {
        skip_filtered!(self);
        // Fields of one entry are comma-separated; the entry said how many follow.
        self.stream_fields_left = self.stream_fields_left.saturating_sub(1);
        self.json.raw(b"[")?;
        self.json.str(name)?;
        self.json.raw(b",")?;
        self.json.str(value)?;
        self.json.raw(b"]")?;
        if self.stream_fields_left == 0 {
            self.json.raw(b"]}")
        } else {
            self.json.raw(b",")
        }
    }

    fn stream_meta(&mut self, m: &StreamMeta) -> io::Result<()> {
        skip_filtered!(self);
        self.json.raw(b"],\"length\":")?;
        self.json.uint(m.length)?;
        self.json.raw(b",\"last_id\":")?;
        self.json.raw(id_str(m.last_id).as_bytes())?;
        self.opt_id(b",\"first_id\":", m.first_id)?;
        self.opt_id(b",\"max_deleted_id\":", m.max_deleted_id)?;
        self.opt_uint(b",\"entries_added\":", m.entries_added)?;
        self.json.raw(b",\"groups\":[")?;
        self.first = true;
        Ok(())
    }

    fn stream_group(
        &mut self,
        name: Str<'_>,
        last_id: StreamId,
        entries_read: Option<u64>,
        _pending: u64,
    ) -> io::Result<()> {
        skip_filtered!(self);
        self.close_group()?;
        self.sep()?;
        self.json.raw(b"{\"name\":")?;
        self.json.str(name)?;
        self.json.raw(b",\"last_delivered_id\":")?;
        self.json.raw(id_str(last_id).as_bytes())?;
        self.opt_uint(b",\"entries_read\":", entries_read)?;
        self.json.raw(b",\"consumers\":[")?;
        self.group = Some(Group {
            pel: Vec::new(),
            owner: Default::default(),
            consumers: Vec::new(),
            consumer_pending_left: 0,
            consumer_open: false,
        });
        Ok(())
    }

    fn stream_pending(
        &mut self,
        id: StreamId,
        delivery_time_ms: i64,
        delivery_count: u64,
    ) -> io::Result<()> {
        skip_filtered!(self);
        if let Some(g) = &mut self.group {
            g.pel.push((id, delivery_time_ms, delivery_count));
        }
        Ok(())
    }

    fn stream_consumer(
        &mut self,
        name: Str<'_>,
        seen_time_ms: i64,
        active_time_ms: Option<i64>,
        pending: u64,
    ) -> io::Result<()> {
        skip_filtered!(self);
        let Some(g) = &mut self.group else {
            return Ok(());
        };
        let comma = !g.consumers.is_empty();
        g.consumers.push(name.to_vec());
        g.consumer_pending_left = pending;
        g.consumer_open = pending > 0;
        if comma {
            self.json.raw(b",")?;
        }
        self.json.raw(b"{\"name\":")?;
        self.json.str(name)?;
        self.json.raw(b",\"seen_time_ms\":")?;
        self.json.int(seen_time_ms)?;
        self.json.raw(b",\"active_time_ms\":")?;
        match active_time_ms {
            Some(t) => self.json.int(t)?,
            None => self.json.raw(b"null")?,
        }
        self.json.raw(b",\"pending\":[")?;
        if pending == 0 {
            self.json.raw(b"]}")?;
        }
        Ok(())
    }

    fn stream_consumer_pending(&mut self, id: StreamId) -> io::Result<()> {
        skip_filtered!(self);
        let Some(g) = &mut self.group else {
            return Ok(());
        };
        g.owner.insert(id, g.consumers.len() - 1);
        g.consumer_pending_left -= 1;
        let close = g.consumer_pending_left == 0;
        self.json.raw(id_str(id).as_bytes())?;
        self.json.raw(if close { b"]}" } else { b"," })
    }

    fn module(&mut self, name: [u8; 9], version: u16, raw_len: u64) -> io::Result<()> {
        skip_filtered!(self);
        self.json.raw(b"null,\"module\":{\"name\":")?;
        self.json.text(&String::from_utf8_lossy(&name))?;
        self.json.raw(b",\"version\":")?;
        self.json.uint(version as u64)?;
        self.json.raw(b",\"raw_len\":")?;
        self.json.uint(raw_len)?;
        self.json.raw(b"}")
    }

    fn array_element(&mut self, index: u64, value: ArrayValue<'_>) -> io::Result<()> {
        skip_filtered!(self);
        self.sep()?;
        self.json.raw(b"[")?;
        self.json.uint(index)?;
        self.json.raw(b",")?;
        match value {
            ArrayValue::Str(s) => self.json.str(s)?,
            ArrayValue::Int(v) => self.json.int(v)?,
            ArrayValue::Float(f) => self.json.double(f)?,
        }
        self.json.raw(b"]")
    }

    fn key_end(&mut self, _: &KeyEnd) -> io::Result<()> {
        self.pos.in_key = false;
        if self.skipping {
            self.skipping = false;
            return Ok(());
        }
        // A quicklist whose nodes held no element: skipped as the servers skip it.
        if let Some(m) = self.maybe_empty.take() {
            if self.json.rollback(m) {
                self.empty_skipped += 1;
                return Ok(());
            }
        }
        match self.vtype {
            ValueType::List | ValueType::Set | ValueType::Zset | ValueType::Array => {
                self.json.raw(b"]")?
            }
            ValueType::Hash => self.finish_hash()?,
            ValueType::Stream => {
                self.close_group()?;
                self.json.raw(b"]}")?
            }
            ValueType::String | ValueType::Module => {}
        }
        self.json.raw(b"}\n")
    }
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> Result<i32> {
    let filter = args.filter.key_filter()?;
    let inputs = crate::input::protect(&args.file);
    let dest = match &args.output {
        Some(o) => output::plan(o, Kind::Stream, args.force, &inputs)?,
        None => Dest::Stdout,
    };
    let bar = crate::progress::bytes_bar(args.quiet);
    let input = crate::input::open(&args.file, bar.as_ref())?;
    let (sink, atomic): (Box<dyn Write + Send>, Option<AtomicFile>) = match &dest {
        Dest::Path(path) => {
            let f = AtomicFile::create(path)?;
            (Box::new(f.file()?), Some(f))
        }
        Dest::Stdout => (Box::new(io::stdout()), None),
    };
    let mut d = Dumper {
        json: Json::new(sink, args.bytes),
        filter,
        meta: args.meta,
        skipping: false,
        vtype: ValueType::String,
        first: true,
        hash: HashBuf::default(),
        stream_fields_left: 0,
        group: None,
        pos: Position::default(),
        keep_empty: args.filter.keep_empty,
        empty_skipped: 0,
        maybe_empty: None,
    };
    let crate::input::Input { reader, info } = input;
    let mut parser = Parser::new(reader);
    parser.relaxed_version(args.relaxed_version);
    // A string value longer than this is written as it is read, never held whole.
    parser.stream_strings(STRING_PART);
    // The JSON is written on a second thread while this one reads and checks the file.
    let outcome = match drive_relayed(&mut parser, &mut d) {
        Ok(()) => None,
        Err(Stop::Parse(e)) => Some(e),
        Err(Stop::Sink(e)) => return Err(e).context("cannot write output"),
    };
    let (parser_stated, d_version) = (parser.stated_version(), parser.version());
    // A whole RDB out of a gzip file: its gzip trailer must hold too.
    let trailer_fault = match &outcome {
        None => info.check_gzip_trailer(&mut parser.into_parts().0),
        Some(_) => None,
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    d.json.flush().context("cannot write output")?;
    let pos = std::mem::take(&mut d.pos);
    if let Some(v) = parser_stated {
        eprintln!(
            "redkit: note: RDB version {v} is newer than any this reader knows: read as version \
             {} (--relaxed-version)",
            d_version
        );
    }
    crate::report::note_empty_skipped(d.empty_skipped);
    drop(d);
    match outcome {
        None if trailer_fault.is_some() => {
            let g = trailer_fault.unwrap_or_default();
            let kept = match atomic {
                Some(f) => Some(f.keep_partial()?),
                None => None,
            };
            eprintln!(
                "redkit: {}: the RDB is whole, but the gzip file is not: {g}",
                info.name
            );
            if let Some(p) = kept {
                eprintln!("redkit: the keys read were written to {}", p.display());
            }
            Ok(exit::PROBLEMS)
        }
        None => {
            if let Some(f) = atomic {
                f.commit()?;
            }
            Ok(exit::OK)
        }
        Some(e) => {
            let kept = match atomic {
                Some(f) => Some(f.keep_partial()?),
                None => None,
            };
            match info.gzip_fault().filter(|_| e.is_truncation()) {
                Some(g) => eprintln!("redkit: {}: {g} (decoded offset {})", info.name, e.offset()),
                None => eprintln!("redkit: {}: {}", info.name, pos.describe(&e)),
            }
            if let Some(p) = kept {
                eprintln!(
                    "redkit: keys read before the fault were written to {}",
                    p.display()
                );
            }
            Ok(if e.is_io() {
                exit::ERROR
            } else {
                exit::PROBLEMS
            })
        }
    }
}
