//! Tests of the HyperLogLog module: the steps that real servers ran in
//! `testdata/keyspace/hll.json` (made by `testdata/gen/make_hll.py`) replayed and compared byte
//! for byte, then properties over random elements.

use super::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

// ---------------------------------------------------------------------------------------------
// A small JSON reader (the fixture is plain JSON: objects, arrays, ASCII strings, integers,
// booleans, null).

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing bytes in the JSON");
        v
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.get(key),
            _ => None,
        }
    }

    fn field(&self, key: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("no field {key:?} in {self:?}"))
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }

    fn int(&self) -> i128 {
        match self {
            Json::Int(n) => *n,
            _ => panic!("not an integer: {self:?}"),
        }
    }

    fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            _ => panic!("not an array: {self:?}"),
        }
    }

    fn is_true(&self) -> bool {
        *self == Json::Bool(true)
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) {
        self.ws();
        assert_eq!(
            self.s[self.i], b,
            "JSON: expected {:?} at {}",
            b as char, self.i
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    let v = self.value();
                    m.insert(k, v);
                    self.ws();
                    self.i += 1;
                    match self.s[self.i - 1] {
                        b',' => continue,
                        b'}' => return Json::Obj(m),
                        c => panic!("JSON: unexpected {:?} in an object", c as char),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    self.i += 1;
                    match self.s[self.i - 1] {
                        b',' => continue,
                        b']' => return Json::Arr(a),
                        c => panic!("JSON: unexpected {:?} in an array", c as char),
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i] == b'-' || self.s[self.i].is_ascii_digit())
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Int(t.parse().unwrap_or_else(|_| panic!("JSON number {t:?}")))
            }
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(self.s[self.i..].starts_with(w.as_bytes()));
        self.i += w.len();
        v
    }

    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    out.push(match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap()
                        }
                        _ => panic!("JSON: bad escape"),
                    });
                }
                _ => out.push(c as char),
            }
        }
    }
}

fn base64(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => panic!("base64: {c}"),
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The fixture replay.

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A dense value from its description in the fixture (see `dense_spec` in make_hll.py).
fn dense_from_spec(d: &Json) -> Vec<u8> {
    let mut state = d.field("seed").int() as u64;
    let choices: Vec<u8> = d
        .field("choices")
        .arr()
        .iter()
        .map(|c| c.int() as u8)
        .collect();
    let mut b = Buf::new(&[0u8; DENSE_LEN]);
    b.b[..5].copy_from_slice(b"HYLL\0");
    b.b[8..16].copy_from_slice(&(d.field("card").int() as u64).to_le_bytes());
    if d.field("stale").is_true() {
        b.invalidate();
    }
    for i in 0..REGISTERS {
        let x = splitmix64(&mut state);
        b.dense_write(i, choices[(x % choices.len() as u64) as usize]);
    }
    let mut v = b.finish().unwrap();
    v.truncate(d.field("len").int() as usize);
    v
}

fn expand_args(cmd: &[Json]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for a in cmd {
        match a {
            Json::Str(s) => out.push(s.as_bytes().to_vec()),
            Json::Obj(_) if a.get("b64").is_some() => out.push(base64(a.field("b64").str())),
            Json::Obj(_) if a.get("dense").is_some() => out.push(dense_from_spec(a.field("dense"))),
            Json::Obj(_) if a.get("reg").is_some() => {
                let r = a.field("reg").arr();
                out.push(elem_for(
                    r[0].int() as usize,
                    r[1].int() as u8,
                    r[2].int() as u64,
                ));
            }
            Json::Obj(_) if a.get("range").is_some() => {
                let r = a.field("range").arr();
                let prefix = r[0].str();
                for i in r[1].int()..r[2].int() {
                    out.push(format!("{prefix}{i}").into_bytes());
                }
            }
            _ => panic!("argument {a:?}"),
        }
    }
    out
}

/// Compares a value with the one recorded; true when the recorded one was stored whole.
fn same_value(ctx: &str, got: Option<&Vec<u8>>, want: &Json) -> bool {
    match (got, want) {
        (None, Json::Null) => false,
        (Some(v), Json::Obj(_)) => {
            assert_eq!(v.len() as i128, want.field("len").int(), "{ctx}: length");
            if let Some(b) = want.get("b64") {
                let w = base64(b.str());
                if *v != w {
                    let at = v.iter().zip(&w).position(|(a, b)| a != b);
                    panic!(
                        "{ctx}: bytes differ (first at {at:?})\n got  {}\n want {}",
                        hex(&v[..v.len().min(64)]),
                        hex(&w[..w.len().min(64)])
                    );
                }
                true
            } else {
                let sha = hex(&Sha256::digest(v));
                assert_eq!(sha, want.field("sha256").str(), "{ctx}: SHA-256");
                false
            }
        }
        (got, want) => panic!("{ctx}: value {:?}, recorded {want:?}", got.map(|v| v.len())),
    }
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    steps: usize,
    sparse: usize,
    dense: usize,
    whole: usize,
    errors: usize,
}

/// What one command does to the key it is about: Some(value) written, None nothing.
fn apply_step(
    db: &HashMap<Vec<u8>, Vec<u8>>,
    args: &[Vec<u8>],
    max: usize,
) -> Result<Option<Vec<u8>>, Error> {
    let get = |k: &Vec<u8>| db.get(k).map(Vec::as_slice);
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    match name.as_str() {
        "SET" => Ok(Some(args[2].clone())),
        "PFADD" => {
            let elements: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
            pfadd_with_sparse_max(get(&args[1]), &elements, max).map(Some)
        }
        "PFMERGE" => {
            let sources: Vec<Option<&[u8]>> = args[2..].iter().map(get).collect();
            pfmerge_with_sparse_max(get(&args[1]), &sources, max).map(Some)
        }
        "PFCOUNT" => match get(&args[1]) {
            Some(v) => pfcount_cache(v),
            None => Ok(None),
        },
        "PFDEBUG" => {
            let v = get(&args[2]).expect("PFDEBUG on a missing key");
            match String::from_utf8_lossy(&args[1])
                .to_ascii_uppercase()
                .as_str()
            {
                "TODENSE" | "GETREG" => pfdebug_todense(v),
                _ => check(v).map(|_| None),
            }
        }
        _ => panic!("command {name}"),
    }
}

fn replay(doc: &Json) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for case in doc.field("cases").arr() {
        let server = case.field("server").str();
        let max = case.field("sparse_max_bytes").int() as usize;
        let name = case.field("name").str();
        let tally = tallies.entry(server.to_string()).or_default();
        tally.cases += 1;
        let mut db: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (i, step) in case.field("steps").arr().iter().enumerate() {
            let args = expand_args(step.field("cmd").arr());
            let key = step.field("key").str().as_bytes().to_vec();
            let shown: Vec<String> = args
                .iter()
                .take(4)
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(20)]).into_owned())
                .collect();
            let ctx = format!("{server} {name} (max {max}) step {i} {shown:?}");
            let result = apply_step(&db, &args, max);
            if step.get("refused").is_some_and(Json::is_true) {
                assert!(
                    matches!(result, Err(Error::Unknown(_))),
                    "{ctx}: expected a refusal, got {result:?}"
                );
                break;
            }
            let dirty = step.field("dirty").is_true();
            match (result, step.get("error")) {
                (Err(e), Some(want)) => {
                    let msg = e.to_string();
                    assert!(matches!(e, Error::WrongType(_)), "{ctx}: {msg}");
                    assert_eq!(
                        msg.contains("INVALIDOBJ"),
                        want.str().starts_with("INVALIDOBJ"),
                        "{ctx}: {msg} where the server said {}",
                        want.str()
                    );
                    tally.errors += 1;
                }
                (Err(e), None) => panic!("{ctx}: error {e}, the server succeeded"),
                (Ok(_), Some(want)) => panic!("{ctx}: no error, the server said {}", want.str()),
                (Ok(new), None) => {
                    let cmd = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
                    let changed = match (&new, db.get(&key)) {
                        (Some(n), Some(old)) => n != old,
                        (Some(_), None) => true,
                        (None, _) => false,
                    };
                    match cmd.as_str() {
                        // These change the value exactly when the server counts a change.
                        "PFCOUNT" | "PFDEBUG" => assert_eq!(new.is_some(), dirty, "{ctx}: dirty"),
                        "PFADD" => assert_eq!(changed, dirty, "{ctx}: dirty"),
                        _ => {}
                    }
                    if let Some(v) = new {
                        db.insert(key.clone(), v);
                    }
                }
            }
            let want = step.field("value");
            if same_value(&ctx, db.get(&key), want) {
                tally.whole += 1;
            }
            match want.get("enc").map(Json::str) {
                Some("sparse") => tally.sparse += 1,
                Some("dense") => tally.dense += 1,
                _ => {}
            }
            if let (Some(reply), Some(v)) = (step.get("reply"), db.get(&key)) {
                if args[0].eq_ignore_ascii_case(b"PFCOUNT") {
                    assert_eq!(cardinality(v).unwrap() as i64 as i128, reply.int(), "{ctx}");
                }
            }
            tally.steps += 1;
        }
    }
    tallies
}

fn fixture() -> Json {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/keyspace/hll.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Json::parse(&text)
}

#[test]
fn hll_replays_server_fixture() {
    let doc = fixture();
    let tallies = replay(&doc);
    eprintln!("{tallies:#?}");
    for server in ["redis-7.0", "valkey-8.1"] {
        let t = &tallies[server];
        assert!(
            t.steps > 200 && t.sparse > 100 && t.dense > 30 && t.whole > 100,
            "{t:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = (self.next() % 24) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn registers(v: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; REGISTERS];
    merge_into(v, 0, &mut r).unwrap();
    r
}

#[test]
fn hll_estimate_within_error_bound() {
    let mut rng = Rng(42);
    // Distinct elements: a counter and random bytes.
    let mut v: Option<Vec<u8>> = None;
    let mut added = 0u64;
    for target in [1u64, 10, 100, 1000, 3000, 10_000, 100_000] {
        let batch: Vec<Vec<u8>> = (added..target)
            .map(|i| {
                let mut e = i.to_le_bytes().to_vec();
                e.extend(rng.bytes());
                e
            })
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let new = pfadd(v.as_deref(), &refs).unwrap();
        added = target;
        let est = cardinality(&new).unwrap();
        // Six standard errors, as the server's own self test allows.
        let bound = (6.0 * 1.04 / 128.0 * target as f64).ceil() as u64;
        assert!(
            est.abs_diff(target) <= bound.max(1),
            "{target} elements: estimate {est}"
        );
        // The same registers whether sparse or dense, hence the same estimate.
        if let Some(d) = pfdebug_todense(&new).unwrap() {
            assert_eq!(registers(&d), registers(&new));
            assert_eq!(cardinality(&d).unwrap(), est);
        }
        // A stale cache is refreshed once, then left alone.
        let cached = pfcount_cache(&new).unwrap().expect("stale after PFADD");
        assert_eq!(cardinality(&cached).unwrap(), est);
        assert_eq!(pfcount_cache(&cached).unwrap(), None);
        v = Some(cached);
    }
    assert_eq!(v.unwrap()[4], ENC_DENSE);
}

#[test]
fn hll_merge_equals_adding_everything() {
    let mut rng = Rng(7);
    for (n1, n2) in [(0usize, 5usize), (30, 40), (700, 900), (5000, 10)] {
        let a: Vec<Vec<u8>> = (0..n1).map(|_| rng.bytes()).collect();
        let b: Vec<Vec<u8>> = (0..n2).map(|_| rng.bytes()).collect();
        let ra: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
        let rb: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
        let ha = pfadd(None, &ra).unwrap();
        let hb = pfadd(None, &rb).unwrap();
        let all: Vec<&[u8]> = ra.iter().chain(&rb).copied().collect();
        let hall = pfadd(None, &all).unwrap();
        let merged = pfmerge(None, &[Some(&ha), Some(&hb)]).unwrap();
        assert_eq!(registers(&merged), registers(&hall));
        // Merging into one of the sources gives the same registers.
        let into_a = pfmerge(Some(&ha), &[Some(&ha), Some(&hb)]).unwrap();
        assert_eq!(registers(&into_a), registers(&hall));
        // Adding an element again changes nothing.
        if let Some(e) = ra.first() {
            assert_eq!(pfadd(Some(&ha), &[e]).unwrap(), ha);
        }
    }
}

#[test]
fn hll_known_values() {
    // PFADD on a missing key with no element: header, cache marked stale, XZERO 16384.
    let empty = pfadd(None, &[]).unwrap();
    assert_eq!(
        empty,
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff".as_slice()
    );
    assert_eq!(cardinality(&empty).unwrap(), 0);
    assert!(matches!(pfadd(Some(b"x"), &[]), Err(Error::WrongType(_))));
    assert!(matches!(pfcount_cache(b"HYLL"), Err(Error::WrongType(_))));
}

#[test]
fn hll_corrupt_values_do_not_panic() {
    // Random damage to valid values of both encodings, through every entry point.
    let mut rng = Rng(99);
    let sparse = pfadd(None, &[b"a".as_slice(), b"b", b"c", b"dd", b"eee"]).unwrap();
    let many: Vec<Vec<u8>> = (0..400u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let bigger = pfadd(None, &refs).unwrap();
    let dense = pfdebug_todense(&bigger).unwrap().unwrap();
    for round in 0..3000 {
        let base = [&sparse, &bigger, &dense][round % 3];
        let mut v = base.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = HDR + (rng.next() as usize) % (v.len() - HDR);
            match rng.next() % 4 {
                0 => v[at] = rng.next() as u8,
                1 => v.truncate(at),
                2 => v.insert(at, rng.next() as u8),
                _ => {
                    v.remove(at);
                }
            }
            if v.len() <= HDR {
                break;
            }
        }
        let e = rng.bytes();
        let high = elem_for(rng.next() as usize % REGISTERS, 40, rng.next());
        let _ = pfadd(Some(&v), &[&e, &high]);
        let _ = pfadd_with_sparse_max(Some(&v), &[&e], 0);
        let _ = pfmerge(Some(&v), &[Some(&sparse), Some(&v)]);
        let _ = pfmerge(None, &[Some(&v)]);
        let _ = pfcount_cache(&v);
        let _ = pfdebug_todense(&v);
    }
}

/// The 8-byte element whose hash is `index | 1 << (13 + count) | salt << (14 + count)` (just
/// `index` for 51), so that it raises register `index` to `count` (1..=51): MurmurHash64A
/// inverted.
fn elem_for(index: usize, count: u8, salt: u64) -> Vec<u8> {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    let mut minv: u64 = 1;
    for _ in 0..7 {
        minv = minv.wrapping_mul(2u64.wrapping_sub(M.wrapping_mul(minv)));
    }
    // Undoes `h ^= h >> 47; h *= M` (an xorshift by 47 undoes itself).
    let unmix = |h: u64| (h ^ (h >> 47)).wrapping_mul(minv);
    let hash = if count == 51 {
        index as u64
    } else {
        let c = u32::from(count);
        index as u64 | 1 << (13 + c) | salt.checked_shl(14 + c).unwrap_or(0)
    };
    // The finalisation undone, then the block mixed into the seeded state.
    let mixed_block = unmix(unmix(hash)) ^ (0xadc8_3b19 ^ 8u64.wrapping_mul(M));
    let k = unmix(mixed_block.wrapping_mul(minv));
    let e = k.to_le_bytes().to_vec();
    assert_eq!(pattern(&e), (index, count));
    e
}
