//! Formats no server on these machines writes, built byte by byte from the format reference:
//! Valkey 9 (`VALKEY080`), Redis 8.6/8.8 (RDB 13/14), Redis 7.4 release candidates, modules,
//! and the pre-3.2 encodings.

mod common;

use common::len;
use rdb_parse::{crc64, ArrayValue, ErrorKind, Event, Family, Parser, StreamId};

fn s(b: &[u8]) -> Vec<u8> {
    let mut v = len(b.len() as u64);
    v.extend_from_slice(b);
    v
}

/// A file: magic, body, EOF and (from version 5) the CRC.
fn file(magic: &str, body: &[Vec<u8>]) -> Vec<u8> {
    let mut v = magic.as_bytes().to_vec();
    for part in body {
        v.extend_from_slice(part);
    }
    v.push(0xff);
    let version: u32 = magic
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap();
    if version >= 5 {
        let crc = crc64(&v);
        v.extend_from_slice(&crc.to_le_bytes());
    }
    v
}

/// Listpack of string entries (6-bit strings) and small non-negative ints.
enum LpItem<'a> {
    S(&'a [u8]),
    I(u8),
}

fn listpack(items: &[LpItem<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        match it {
            LpItem::S(b) => {
                assert!(b.len() < 64);
                body.push(0x80 | b.len() as u8);
                body.extend_from_slice(b);
                body.push(1 + b.len() as u8);
            }
            LpItem::I(n) => {
                assert!(*n < 128);
                body.push(*n);
                body.push(1);
            }
        }
    }
    body.push(0xff);
    let mut v = ((body.len() + 6) as u32).to_le_bytes().to_vec();
    v.extend_from_slice(&(items.len() as u16).to_le_bytes());
    v.extend(body);
    v
}

/// Ziplist of short string entries.
fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10;
    for it in items {
        tail = 10 + body.len();
        let start = body.len();
        body.push(prev as u8);
        body.push(it.len() as u8);
        body.extend_from_slice(it);
        prev = body.len() - start;
    }
    body.push(0xff);
    let mut v = ((body.len() + 10) as u32).to_le_bytes().to_vec();
    v.extend_from_slice(&(tail as u32).to_le_bytes());
    v.extend_from_slice(&(items.len() as u16).to_le_bytes());
    v.extend(body);
    v
}

/// All events as text; panics on error.
fn events(data: &[u8]) -> Vec<String> {
    let mut p = Parser::new(data);
    let mut out = Vec::new();
    while let Some(ev) = p.next_event().unwrap_or_else(|e| panic!("{e}")) {
        out.push(format!("{ev:?}"));
    }
    out
}

fn error(data: &[u8]) -> rdb_parse::Error {
    let mut p = Parser::new(data);
    loop {
        match p.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => return e,
        }
    }
}

fn has(evs: &[String], needle: &str) -> bool {
    evs.iter().any(|e| e.contains(needle))
}

#[test]
fn valkey9_hash2_and_slot_import() {
    let mut hash = vec![22u8];
    hash.extend(s(b"h"));
    hash.extend(len(2));
    hash.extend(s(b"f1"));
    hash.extend(s(b"v1"));
    hash.extend_from_slice(&(-1i64).to_le_bytes());
    hash.extend(s(b"f2"));
    hash.extend(s(b"v2"));
    hash.extend_from_slice(&4102444800000i64.to_le_bytes());
    let mut import = vec![243u8];
    import.extend(s(b"job-0123456789012345678901234567890123456"));
    import.extend(len(1));
    import.extend(len(0));
    import.extend(len(5460));
    let data = file("VALKEY080", &[import, vec![0xfe, 0], hash]);
    let evs = events(&data);
    assert!(
        has(&evs, "Header { family: Valkey, version: 80 }"),
        "{evs:?}"
    );
    assert!(has(&evs, "SlotImport"), "{evs:?}");
    assert!(
        has(
            &evs,
            "HashField { field: \"f1\", value: \"v1\", expire_ms: None }"
        ),
        "{evs:?}"
    );
    assert!(has(
        &evs,
        "HashField { field: \"f2\", value: \"v2\", expire_ms: Some(4102444800000) }"
    ));
    assert!(has(&evs, "encoding: HashtableEx"));

    // An expiry below -1 is corrupt.
    let mut bad = vec![22u8];
    bad.extend(s(b"h"));
    bad.extend(len(1));
    bad.extend(s(b"f"));
    bad.extend(s(b"v"));
    bad.extend_from_slice(&(-2i64).to_le_bytes());
    let e = error(&file("VALKEY080", &[bad]));
    assert!(e.to_string().contains("expire time -2"), "{e}");

    // Type 23 is Valkey 9.2's path hash: not readable, and said so.
    let mut path_hash = vec![23u8];
    path_hash.extend(s(b"k"));
    let e = error(&file("VALKEY080", &[path_hash]));
    assert!(
        matches!(e.kind(), ErrorKind::UnknownType { byte: 23 }),
        "{e}"
    );
    assert_eq!(e.offset(), 9);
}

#[test]
fn versions_and_families() {
    for (magic, ok) in [
        ("REDIS0001", true),
        ("REDIS0009", true),
        ("REDIS0014", true),
        ("REDIS0015", false),
        ("REDIS0080", false),
        ("VALKEY080", true),
        ("VALKEY081", false),
        ("VALKEY011", false),
    ] {
        let data = file(magic, &[]);
        let mut p = Parser::new(data.as_slice());
        let r = p.next_event();
        assert_eq!(r.is_ok(), ok, "{magic}");
        if !ok {
            let e = r.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::UnsupportedVersion { .. }),
                "{magic}: {e}"
            );
            assert!(e.to_string().contains("unsupported RDB version"), "{e}");
        } else {
            assert_eq!(
                p.family(),
                if magic.starts_with("VALKEY") {
                    Family::Valkey
                } else {
                    Family::Redis
                }
            );
        }
    }
}

#[test]
fn redis13_key_meta_before_a_key() {
    let mut meta = vec![243u8];
    meta.extend(len(1)); // one class
    meta.extend_from_slice(&0x1234_5601u32.to_le_bytes());
    meta.extend(len(2)); // UINT
    meta.extend(len(77));
    meta.extend(len(5)); // STRING
    meta.extend(s(b"meta"));
    meta.extend(len(0)); // EOF of the class
    let mut key = vec![0xfc];
    key.extend_from_slice(&4102444800123i64.to_le_bytes());
    key.extend(meta);
    key.push(0);
    key.extend(s(b"k"));
    key.extend(s(b"v"));
    let evs = events(&file("REDIS0013", &[key]));
    assert!(has(&evs, "expire_ms: Some(4102444800123)"), "{evs:?}");
    assert!(has(&evs, "Element(\"v\")"));
    // In RDB 12, 243 is not an opcode.
    let e = error(&file("REDIS0012", &[vec![243u8, 0]]));
    assert!(
        matches!(e.kind(), ErrorKind::UnknownType { byte: 243 }),
        "{e}"
    );
}

#[test]
fn redis14_array() {
    let mut a = vec![28u8];
    a.extend(s(b"arr"));
    a.extend(len(4));
    a.extend(len(1)); // has insert index
    a.extend(len(9));
    a.extend(len(0));
    a.extend(len(0));
    a.extend(s(b"sds value"));
    a.extend(len(3));
    a.extend(len(1));
    a.extend_from_slice(&(-42i64).to_le_bytes());
    a.extend(len(4));
    a.extend(len(2));
    a.extend_from_slice(&1.5f64.to_le_bytes());
    a.extend(len(8));
    a.extend(len(3));
    a.extend(s(b"xyz"));
    let data = file("REDIS0014", &[a]);
    let mut p = Parser::new(data.as_slice());
    let mut got = Vec::new();
    while let Some(ev) = p.next_event().unwrap() {
        if let Event::ArrayElement { index, value } = ev {
            got.push(match value {
                ArrayValue::Str(v) => format!("{index}={v:?}"),
                ArrayValue::Int(v) => format!("{index}={v}"),
                ArrayValue::Float(v) => format!("{index}={v}"),
            });
        }
    }
    assert_eq!(got, ["0=\"sds value\"", "3=-42", "4=1.5", "8=\"xyz\""]);
    // Zero elements is corrupt; a small string longer than 7 bytes too.
    let mut zero = vec![28u8];
    zero.extend(s(b"a"));
    zero.extend(len(0));
    assert!(error(&file("REDIS0014", &[zero]))
        .to_string()
        .contains("zero elements"));
    let mut long = vec![28u8];
    long.extend(s(b"a"));
    long.extend(len(1));
    long.extend(len(0));
    long.extend(len(0));
    long.extend(len(3));
    long.extend(s(b"12345678"));
    assert!(error(&file("REDIS0014", &[long]))
        .to_string()
        .contains("longer than 7"));
}

fn stream_id(ms: u64, seq: u64) -> Vec<u8> {
    let mut v = ms.to_be_bytes().to_vec();
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

/// A stream with one entry (id 5-0, field f=v), of type `t` (26: v4, 27: v5), one group with
/// one pending entry, owned by a consumer (v4) or in the NACK zone (v5).
fn stream(t: u8) -> Vec<u8> {
    let mut v = vec![t];
    v.extend(s(b"st"));
    v.extend(len(1)); // one node
    v.extend(s(&stream_id(5, 0)));
    // master: count 1, deleted 0, 1 field "f", 0; entry: flags 2 (same fields), 0, 0, "v", lp_count 4
    v.extend(s(&listpack(&[
        LpItem::I(1),
        LpItem::I(0),
        LpItem::I(1),
        LpItem::S(b"f"),
        LpItem::I(0),
        LpItem::I(2),
        LpItem::I(0),
        LpItem::I(0),
        LpItem::S(b"v"),
        LpItem::I(4),
    ])));
    v.extend(len(1)); // length
    v.extend(len(5));
    v.extend(len(0)); // last id 5-0
    v.extend(len(5));
    v.extend(len(0)); // first id
    v.extend(len(0));
    v.extend(len(0)); // max deleted
    v.extend(len(1)); // entries added
    v.extend(len(1)); // one group
    v.extend(s(b"g"));
    v.extend(len(5));
    v.extend(len(0));
    v.extend(len(1)); // entries read
    v.extend(len(1)); // one PEL entry
    v.extend(stream_id(5, 0));
    v.extend_from_slice(&1700000000000i64.to_le_bytes());
    v.extend(len(1));
    if t == 27 {
        v.extend(len(0)); // no consumers
        v.extend(len(1)); // NACK zone: one id
        v.extend(stream_id(5, 0));
    } else {
        v.extend(len(1));
        v.extend(s(b"c"));
        v.extend_from_slice(&1700000000001i64.to_le_bytes());
        v.extend_from_slice(&1700000000002i64.to_le_bytes());
        v.extend(len(1));
        v.extend(stream_id(5, 0));
    }
    // IDMP: duration 100, max 100, one producer with one id, counters.
    v.extend(len(100));
    v.extend(len(100));
    v.extend(len(1));
    v.extend(s(b"producer"));
    v.extend(len(1));
    v.extend(s(b"iid"));
    v.extend(len(5));
    v.extend(len(0));
    v.extend(len(1));
    v.extend(len(0));
    v
}

#[test]
fn streams_v4_and_v5() {
    let evs = events(&file("REDIS0013", &[stream(26)]));
    assert!(has(&evs, "encoding: StreamV4"), "{evs:?}");
    assert!(has(
        &evs,
        "StreamEntry { id: StreamId { ms: 5, seq: 0 }, fields: 1 }"
    ));
    assert!(has(&evs, "StreamField { name: \"f\", value: \"v\" }"));
    assert!(has(&evs, "StreamConsumerPending"));
    assert!(has(&evs, "active_time_ms: Some(1700000000002)"));
    let evs = events(&file("REDIS0014", &[stream(27)]));
    assert!(has(&evs, "encoding: StreamV5"), "{evs:?}");
    assert!(has(
        &evs,
        &format!("StreamNacked {{ id: {:?} }}", StreamId { ms: 5, seq: 0 })
    ));
    // IDMP settings out of range are corrupt.
    let mut bad = stream(26);
    let n = bad.len();
    // duration sits 22 bytes before the end: 100 -> 0
    let at = n - 22;
    assert_eq!(bad[at], 100);
    bad[at] = 0;
    assert!(error(&file("REDIS0013", &[bad]))
        .to_string()
        .contains("IDMP"));
}

#[test]
fn module_values_are_skipped_and_named() {
    // ReJSON-RL encver 3 (format reference §6.5).
    let id = [0x81, 0x45, 0xe2, 0x52, 0x38, 0xdf, 0x91, 0x2c, 0x03];
    let mut m = vec![7u8];
    m.extend(s(b"json"));
    m.extend_from_slice(&id);
    m.extend(len(2));
    m.extend(len(7)); // UINT 7
    m.extend(len(1));
    m.extend(len(u64::MAX - 4)); // SINT -5 as a 9-byte length
    m.extend(len(5));
    m.extend(s(b"{\"a\":1}")); // STRING
    m.extend(len(4));
    m.extend_from_slice(&2.5f64.to_le_bytes()); // DOUBLE
    m.extend(len(3));
    m.extend_from_slice(&1.5f32.to_le_bytes()); // FLOAT
    m.extend(len(0));
    let mut aux = vec![247u8];
    aux.extend_from_slice(&id);
    aux.extend(len(2));
    aux.extend(len(2)); // when = after keys
    aux.extend(len(2));
    aux.extend(len(1));
    aux.extend(len(0));
    let evs = events(&file("REDIS0009", &[m, aux]));
    assert!(
        has(
            &evs,
            "Module { name: [82, 101, 74, 83, 79, 78, 45, 82, 76], version: 3, raw_len: 36 }"
        ),
        "{evs:?}"
    );
    assert!(has(&evs, "ModuleAux"));
    // An unknown module opcode is corrupt.
    let mut bad = vec![7u8];
    bad.extend(s(b"j"));
    bad.extend_from_slice(&id);
    bad.extend(len(6));
    assert!(error(&file("REDIS0009", &[bad]))
        .to_string()
        .contains("unknown module opcode 6"));
    // Pre-release module values and functions are refused with a reason.
    let mut pre = vec![6u8];
    pre.extend(s(b"j"));
    assert!(matches!(
        error(&file("REDIS0008", &[pre])).kind(),
        ErrorKind::Unsupported { .. }
    ));
    assert!(matches!(
        error(&file("REDIS0010", &[vec![246u8]])).kind(),
        ErrorKind::Unsupported { .. }
    ));
}

#[test]
fn redis74_release_candidate_field_ttls() {
    // Type 22 in a REDIS0012 file: `len ttl` (absolute, 0 = none), field, value.
    let mut h = vec![22u8];
    h.extend(s(b"h"));
    h.extend(len(2));
    h.extend(len(0));
    h.extend(s(b"a"));
    h.extend(s(b"1"));
    h.extend(len(4102444800000));
    h.extend(s(b"b"));
    h.extend(s(b"2"));
    let evs = events(&file("REDIS0012", &[h]));
    assert!(
        has(
            &evs,
            "HashField { field: \"a\", value: \"1\", expire_ms: None }"
        ),
        "{evs:?}"
    );
    assert!(has(
        &evs,
        "HashField { field: \"b\", value: \"2\", expire_ms: Some(4102444800000) }"
    ));
}

#[test]
fn old_encodings() {
    // RDB 2: zipmap hash (type 9), ziplist list (10), linked list (1), zset with text scores (3),
    // and a second-resolution expiry (253). No CRC before RDB 5.
    // "a" -> "1"; "bb" -> "22" with one byte of free space after the value.
    let zipmap = [
        2u8, 1, b'a', 1, 0, b'1', 2, b'b', b'b', 2, 1, b'2', b'2', 0, 0xff,
    ];
    let mut zm = vec![9u8];
    zm.extend(s(b"zm"));
    zm.extend(s(&zipmap));
    let mut zl = vec![10u8];
    zl.extend(s(b"zl"));
    zl.extend(s(&ziplist(&[b"x", b"yy"])));
    let mut l = vec![0xfd];
    l.extend_from_slice(&2000000000i32.to_le_bytes());
    l.push(1);
    l.extend(s(b"l"));
    l.extend(len(2));
    l.extend(s(b"e1"));
    l.extend(s(b"e2"));
    let mut z = vec![3u8];
    z.extend(s(b"z"));
    z.extend(len(3));
    z.extend(s(b"m1"));
    z.push(3);
    z.extend_from_slice(b"1.5");
    z.extend(s(b"m2"));
    z.push(254);
    z.extend(s(b"m3"));
    z.push(255);
    let evs = events(&file("REDIS0002", &[zm, zl, l, z]));
    assert!(
        has(
            &evs,
            "HashField { field: \"bb\", value: \"22\", expire_ms: None }"
        ),
        "{evs:?}"
    );
    assert!(has(&evs, "Element(\"yy\")"));
    assert!(has(&evs, "expire_ms: Some(2000000000000)"));
    assert!(has(&evs, "Element(\"e2\")"));
    assert!(has(&evs, "ZMember { member: \"m1\", score: 1.5 }"));
    assert!(has(&evs, "ZMember { member: \"m2\", score: inf }"));
    assert!(has(&evs, "ZMember { member: \"m3\", score: -inf }"));
    assert!(has(&evs, "Eof { stored_crc: None"));
}

#[test]
fn empty_keys_and_int_keys() {
    // Redis 6.2 and older could write empty collections; they are read (Redis skips them).
    let mut e = vec![2u8];
    e.extend(s(b"empty"));
    e.extend(len(0));
    let mut p_data = file("REDIS0009", &[e]);
    let evs = events(&p_data);
    assert!(has(&evs, "len: Some(0)"), "{evs:?}");
    // An empty intset is corrupt, not empty.
    let mut i = vec![11u8];
    i.extend(s(b"i"));
    i.extend(s(&[2, 0, 0, 0, 0, 0, 0, 0]));
    p_data = file("REDIS0009", &[i]);
    assert!(error(&p_data).to_string().contains("zero members"));
}

/// With `stream_strings(part)`, plain string values longer than `part` come as parts whose
/// concatenation is the value, shorter ones and integers whole; a value cut short is a
/// truncation at the end of what was read.
#[test]
fn long_strings_come_in_parts() {
    let values: Vec<Vec<u8>> = [0usize, 1, 63, 64, 65, 200, 1000]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7) as u8).collect())
        .collect();
    let mut body = Vec::new();
    for (i, v) in values.iter().enumerate() {
        body.push(vec![0u8]);
        body.push(s(format!("k{i}").as_bytes()));
        body.push(s(v));
    }
    body.push(vec![0, 2, b'k', b'n', 0xc0, 5]); // the integer 5
    let data = file("REDIS0011", &body);
    let mut p = Parser::new(&data[..]);
    p.stream_strings(64);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut parts = Vec::new();
    while let Some(ev) = p.next_event().unwrap() {
        match ev {
            Event::Element(v) => {
                got.push(v.to_vec());
                parts.push(1);
            }
            Event::StringPart {
                part,
                total,
                first,
                last,
            } => {
                assert!(part.len() <= 64 && !part.is_empty());
                if first {
                    got.push(Vec::new());
                    parts.push(0);
                }
                let v = got.last_mut().unwrap();
                v.extend_from_slice(part);
                *parts.last_mut().unwrap() += 1;
                assert_eq!(last, v.len() as u64 == total);
            }
            Event::Eof {
                stored_crc,
                computed_crc,
            } => assert_eq!(stored_crc, Some(computed_crc)),
            _ => {}
        }
    }
    let mut want = values.clone();
    want.push(b"5".to_vec());
    assert_eq!(got, want);
    assert_eq!(parts, [1, 1, 1, 1, 2, 4, 16, 1]);
    // Cut inside the 1000-byte value: a truncation.
    let cut = &data[..data.len() - 300];
    let mut p = Parser::new(cut);
    p.stream_strings(64);
    let e = loop {
        match p.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(e.is_truncation(), "{e}");
}
