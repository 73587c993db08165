//! The dataset digest of `DEBUG DIGEST`, as Redis computes it (`debug.c`,
//! `computeDatasetDigest` and `xorObjectDigest`), from the events of an RDB.
//!
//! Per key: a 20-byte digest starts at zero; the key is mixed in, then the type (as a
//! big-endian u32), then the value: a string, or a list's elements in order, are mixed in; a
//! set's members are xored in (order does not matter); a sorted set's members, a hash's fields
//! and a stream's entries each as the server does it. A key with an expiry xors in
//! `!!expire!!`. The key digests of a database are xored in (a member's, field's or key's
//! digest is itself xored in as data, that is by its SHA1), and the databases are chained in
//! ascending order, each announced by mixing in its number. *Mixing* `x` is
//! `d = SHA1(d xor SHA1(x))`; *xoring* `x` is `d ^= SHA1(x)`.
//!
//! What a server does not load is left out, as it leaves it out: keys already expired at
//! `now` (a master drops them at load) and empty collections (skipped at load since Redis 7.0).
//!
//! The servers differ in one place that matters here: a sorted set's scores are formatted
//! with `%.17g` up to Redis 7.0, and with the shortest digits of Grisu2 from Redis 7.2 on and
//! in Valkey ([`Scores`]).

use rdb_parse::{KeyEnd, KeyInfo, Sink, Str, StreamId, ValueType};
use sha1::{Digest as _, Sha1};
use std::collections::BTreeMap;

/// A 20-byte digest.
pub type Digest20 = [u8; 20];

/// How a server formats a sorted-set score into the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scores {
    /// `printf("%.17g")`: Redis up to 7.0.
    Printf17g,
    /// The shortest digits, as `fpconv_dtoa` writes them: Redis 7.2 on, Valkey.
    Shortest,
}

/// The hash the digest is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA1, as the servers' `DEBUG DIGEST`.
    Sha1,
    /// A keyed 128-bit hash (XXH3 with this seed), about four times as fast: for comparing two
    /// datasets in one process, where the server's digest itself is not needed.
    Fast(u64),
}

impl Hash {
    /// `H(data)`, 20 bytes (the fast hash's last 4 are zero).
    fn of(self, data: &[u8]) -> Digest20 {
        match self {
            Hash::Sha1 => Sha1::digest(data).into(),
            Hash::Fast(seed) => widen(xxhash_rust::xxh3::xxh3_128_with_seed(data, seed)),
        }
    }
}

fn widen(h: u128) -> Digest20 {
    let mut d = [0u8; 20];
    d[..16].copy_from_slice(&h.to_le_bytes());
    d
}

/// A hash of a value arriving in parts.
enum Incremental {
    Sha1(Sha1),
    Fast(Box<xxhash_rust::xxh3::Xxh3>),
}

impl std::fmt::Debug for Incremental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Incremental")
    }
}

impl Incremental {
    fn new(h: Hash) -> Incremental {
        match h {
            Hash::Sha1 => Incremental::Sha1(Sha1::new()),
            Hash::Fast(seed) => {
                Incremental::Fast(Box::new(xxhash_rust::xxh3::Xxh3::with_seed(seed)))
            }
        }
    }

    fn update(&mut self, part: &[u8]) {
        match self {
            Incremental::Sha1(s) => s.update(part),
            Incremental::Fast(x) => x.update(part),
        }
    }

    fn finish(self) -> Digest20 {
        match self {
            Incremental::Sha1(s) => s.finalize().into(),
            Incremental::Fast(x) => widen(x.digest128()),
        }
    }
}

/// `d ^= H(data)`.
fn xor_in(h: Hash, d: &mut Digest20, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(h.of(data)) {
        *a ^= b;
    }
}

/// `d = H(d ^ H(data))`.
fn mix_in(h: Hash, d: &mut Digest20, data: &[u8]) {
    xor_in(h, d, data);
    *d = h.of(&d[..]);
}

/// `d = H(d ^ x)` for a precomputed `x = H(data)`.
fn mix_hash(h: Hash, d: &mut Digest20, x: Digest20) {
    for (a, b) in d.iter_mut().zip(x) {
        *a ^= b;
    }
    *d = h.of(&d[..]);
}

/// `x` as C's `printf("%.17g", x)` writes it.
pub fn format_17g(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // 17 significant digits, correctly rounded, and the exponent after rounding.
    let e = format!("{:.16e}", x.abs());
    let (mantissa, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let out = if (-4..17).contains(&exp) {
        // Fixed notation with 16 - exp decimals, trailing zeros removed.
        let (int, frac) = if exp >= 0 {
            let k = exp as usize + 1;
            (digits[..k].to_string(), digits[k..].to_string())
        } else {
            (
                "0".to_string(),
                "0".repeat((-exp - 1) as usize) + digits.as_str(),
            )
        };
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int
        } else {
            format!("{int}.{frac}")
        }
    } else {
        let frac = digits[1..].trim_end_matches('0');
        let m = if frac.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{frac}", &digits[..1])
        };
        format!(
            "{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    };
    format!("{sign}{out}")
}

/// Why a file cannot be digested.
#[derive(Debug)]
pub enum Error {
    /// A module value: its digest is the module's own.
    Module(String),
    /// The per-key digests could not be written.
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Module(key) => write!(
                f,
                "key {key} holds a module value, whose digest only its module computes"
            ),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The key being digested.
struct Key {
    db: u64,
    /// Its digest in the dataset's: the key, then the value.
    digest: Digest20,
    /// With per-key digests: the key's name, and the value's digest alone (`DEBUG
    /// DIGEST-VALUE`), computed alongside.
    value: Option<(Vec<u8>, Digest20)>,
    value_type: ValueType,
    expire_ms: Option<i64>,
    /// Whether the dataset's digest is computed (not for per-key digests alone).
    dataset: bool,
    /// A string value arriving in parts: the hash of its bytes so far.
    parts: Option<Incremental>,
    /// The hash.
    hash: Hash,
}

impl Key {
    fn mix(&mut self, data: &[u8]) {
        if self.dataset {
            mix_in(self.hash, &mut self.digest, data);
        }
        if let Some((_, v)) = &mut self.value {
            mix_in(self.hash, v, data);
        }
    }
    fn xor(&mut self, data: &[u8]) {
        if self.dataset {
            xor_in(self.hash, &mut self.digest, data);
        }
        if let Some((_, v)) = &mut self.value {
            xor_in(self.hash, v, data);
        }
    }
    fn mix_hash(&mut self, h: Digest20) {
        if self.dataset {
            mix_hash(self.hash, &mut self.digest, h);
        }
        if let Some((_, v)) = &mut self.value {
            mix_hash(self.hash, v, h);
        }
    }
}

/// One key's digests, handed to [`KeyDigests`] at the key's end.
#[derive(Debug)]
pub struct KeyRecord<'a> {
    /// Its database.
    pub db: u64,
    /// Its name.
    pub key: &'a [u8],
    /// Its type.
    pub value_type: ValueType,
    /// Its expiry, in unix ms.
    pub expire_ms: Option<i64>,
    /// What `DEBUG DIGEST-VALUE` returns for it (the value, and whether it expires).
    pub digest: Digest20,
    /// The value's digest alone, without the expiry's part.
    pub value: Digest20,
}

/// What receives each key's digests.
pub type KeyDigests = Box<dyn FnMut(&KeyRecord<'_>) -> std::io::Result<()> + Send>;

/// A [`Sink`] that computes the dataset digest of the events it is given.
pub struct DigestSink {
    scores: Scores,
    hash: Hash,
    now_ms: i64,
    key: Option<Key>,
    /// Per database: the xor of its key digests, and how many keys.
    dbs: BTreeMap<u64, (Digest20, u64)>,
    /// Keys left out: expired at `now`, and empty collections.
    pub expired: u64,
    /// Empty collections left out.
    pub empty: u64,
    per_key: Option<KeyDigests>,
    /// Only the per-key digests are wanted (half the work): [`DigestSink::finish`] is then
    /// meaningless.
    keys_only: bool,
}

impl DigestSink {
    /// A digest of the keys a server would hold after loading the events at `now_ms`.
    pub fn new(scores: Scores, now_ms: i64) -> DigestSink {
        DigestSink {
            scores,
            hash: Hash::Sha1,
            now_ms,
            key: None,
            dbs: BTreeMap::new(),
            expired: 0,
            empty: 0,
            per_key: None,
            keys_only: false,
        }
    }

    /// Computes only the per-key digests (see [`DigestSink::with_key_digests`]), not the
    /// dataset's: for a comparison key by key.
    pub fn keys_only(mut self) -> DigestSink {
        self.keys_only = true;
        self
    }

    /// Also computes each key's value digest, as `DEBUG DIGEST-VALUE` returns it, and hands it
    /// to `each` at the key's end.
    pub fn with_key_digests(mut self, each: KeyDigests) -> DigestSink {
        self.per_key = Some(each);
        self
    }

    /// Builds the digests from `hash` instead of SHA1 (before the first key): digests that
    /// compare datasets in one process, not the servers'.
    pub fn with_hash(mut self, hash: Hash) -> DigestSink {
        self.hash = hash;
        self
    }

    /// Changes how scores are formatted (before the first key).
    pub fn set_scores(&mut self, scores: Scores) {
        self.scores = scores;
    }

    /// Keys digested.
    pub fn keys(&self) -> u64 {
        self.dbs.values().map(|(_, n)| n).sum()
    }

    /// The digest of the dataset, as `DEBUG DIGEST` prints it (all zeros for no key).
    pub fn finish(&self) -> Digest20 {
        let mut d = [0u8; 20];
        for (db, (acc, n)) in &self.dbs {
            if *n == 0 {
                continue;
            }
            mix_in(self.hash, &mut d, &(*db as u32).to_be_bytes());
            for (a, b) in d.iter_mut().zip(acc) {
                *a ^= b;
            }
        }
        d
    }

    fn score(&self, s: f64) -> String {
        match self.scores {
            Scores::Printf17g => format_17g(s),
            Scores::Shortest => crate::fpconv::format_shortest(s),
        }
    }
}

/// The server's type number, as `xorObjectDigest` mixes it in.
pub(crate) fn type_code(t: ValueType) -> u32 {
    match t {
        ValueType::String => 0,
        ValueType::List => 1,
        ValueType::Set => 2,
        ValueType::Zset => 3,
        ValueType::Hash => 4,
        ValueType::Module => 5,
        ValueType::Stream => 6,
        ValueType::Array => 7,
    }
}

impl Sink for DigestSink {
    type Error = Error;

    fn key_start(&mut self, info: &KeyInfo<'_>) -> Result<(), Error> {
        let mut scratch = [0u8; 20];
        let key = info.key.as_bytes(&mut scratch);
        if info.value_type == ValueType::Module {
            return Err(Error::Module(rdb_parse::escape(key)));
        }
        if info.expire_ms.is_some_and(|ms| ms < self.now_ms) {
            self.expired += 1;
            self.key = None;
            return Ok(());
        }
        let dataset = !(self.keys_only && self.per_key.is_some());
        let mut digest = [0u8; 20];
        if dataset {
            mix_in(self.hash, &mut digest, key);
        }
        let mut k = Key {
            db: info.db,
            digest,
            value: self.per_key.is_some().then(|| (key.to_vec(), [0u8; 20])),
            value_type: info.value_type,
            expire_ms: info.expire_ms,
            dataset,
            parts: None,
            hash: self.hash,
        };
        k.mix(&type_code(info.value_type).to_be_bytes());
        self.key = Some(k);
        Ok(())
    }

    fn element(&mut self, value: Str<'_>) -> Result<(), Error> {
        let mut scratch = [0u8; 20];
        let v = value.as_bytes(&mut scratch);
        if let Some(k) = &mut self.key {
            match k.value_type {
                ValueType::Set => k.xor(v),
                _ => k.mix(v),
            }
        }
        Ok(())
    }

    fn string_part(&mut self, part: &[u8], _: u64, first: bool, last: bool) -> Result<(), Error> {
        if let Some(k) = &mut self.key {
            if first {
                k.parts = Some(Incremental::new(k.hash));
            }
            if let Some(h) = &mut k.parts {
                h.update(part);
            }
            if last {
                if let Some(h) = k.parts.take() {
                    k.mix_hash(h.finish());
                }
            }
        }
        Ok(())
    }

    fn zmember(&mut self, member: Str<'_>, score: f64) -> Result<(), Error> {
        let s = self.score(score);
        let mut scratch = [0u8; 20];
        let m = member.as_bytes(&mut scratch);
        if let Some(k) = &mut self.key {
            let mut e = [0u8; 20];
            mix_in(k.hash, &mut e, m);
            mix_in(k.hash, &mut e, s.as_bytes());
            k.xor(&e);
        }
        Ok(())
    }

    fn hash_field(&mut self, field: Str<'_>, value: Str<'_>, _: Option<i64>) -> Result<(), Error> {
        let (mut sa, mut sb) = ([0u8; 20], [0u8; 20]);
        let (f, v) = (field.as_bytes(&mut sa), value.as_bytes(&mut sb));
        if let Some(k) = &mut self.key {
            let mut e = [0u8; 20];
            mix_in(k.hash, &mut e, f);
            mix_in(k.hash, &mut e, v);
            k.xor(&e);
        }
        Ok(())
    }

    fn stream_entry(&mut self, id: StreamId, _: u64) -> Result<(), Error> {
        if let Some(k) = &mut self.key {
            k.mix(format!("{}.{}", id.ms, id.seq).as_bytes());
        }
        Ok(())
    }

    fn stream_field(&mut self, name: Str<'_>, value: Str<'_>) -> Result<(), Error> {
        let (mut sa, mut sb) = ([0u8; 20], [0u8; 20]);
        let (n, v) = (name.as_bytes(&mut sa), value.as_bytes(&mut sb));
        if let Some(k) = &mut self.key {
            k.mix(n);
            k.mix(v);
        }
        Ok(())
    }

    fn key_end(&mut self, end: &KeyEnd) -> Result<(), Error> {
        let Some(mut k) = self.key.take() else {
            return Ok(());
        };
        let collection = matches!(
            k.value_type,
            ValueType::List | ValueType::Set | ValueType::Zset | ValueType::Hash
        );
        if collection && end.elements == 0 {
            self.empty += 1;
            return Ok(());
        }
        let value_alone = k.value.as_ref().map(|(_, v)| *v);
        if k.expire_ms.is_some() {
            k.xor(b"!!expire!!");
        }
        if let (Some(each), Some((key, v)), Some(alone)) =
            (&mut self.per_key, &k.value, value_alone)
        {
            let rec = KeyRecord {
                db: k.db,
                key,
                value_type: k.value_type,
                expire_ms: k.expire_ms,
                digest: *v,
                value: alone,
            };
            each(&rec).map_err(Error::Io)?;
        }
        let (acc, n) = self.dbs.entry(k.db).or_insert(([0; 20], 0));
        if k.dataset {
            xor_in(self.hash, acc, &k.digest);
        }
        *n += 1;
        Ok(())
    }
}

/// A digest as `DEBUG DIGEST` prints it: 40 lowercase hex digits.
pub fn hex(d: &Digest20) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {

    /// A value hashed in parts is hashed as it is whole (a long string comes in parts from a
    /// file, whole from a replayed log).
    #[test]
    fn parts_hash_as_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for h in [Hash::Sha1, Hash::Fast(42)] {
            let mut inc = Incremental::new(h);
            for part in data.chunks(3333) {
                inc.update(part);
            }
            assert_eq!(inc.finish(), h.of(&data), "{h:?}");
        }
    }

    use super::*;

    #[test]
    fn scores_print_as_printf_17g() {
        // What glibc's printf("%.17g") writes for these.
        for (x, want) in [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.10000000000000001"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456789.123, "123456789.123"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "-0"),
            (3.0e300, "3.0000000000000002e+300"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
        ] {
            assert_eq!(format_17g(x), want, "{x:e}");
        }
    }

    #[test]
    fn no_key_is_all_zeros() {
        assert_eq!(
            hex(&DigestSink::new(Scores::Printf17g, 0).finish()),
            "0000000000000000000000000000000000000000"
        );
    }
}
