//! The commands that read many sources (Z*STORE, S*STORE, BITOP) with keys named again, a
//! destination that is also a source, missing keys and keys of another type; and the size
//! limit of the commands that grow a string.

use crate::{Entry, Error, Keyspace, Value};

fn apply(ks: &mut Keyspace, cmd: &str) -> Result<(), Error> {
    let parts: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    ks.apply(&parts)
}

fn run(ks: &mut Keyspace, cmds: &[&str]) {
    for c in cmds {
        apply(ks, c).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
}

fn get(ks: &Keyspace, key: &[u8]) -> Option<Value> {
    Some(ks.dbs.get(&ks.db)?.get(key)?.to_entry().value)
}

/// The sorted set at `key`, by member.
fn zset(ks: &Keyspace, key: &str) -> Option<Vec<(String, f64)>> {
    match get(ks, key.as_bytes())? {
        Value::ZSet(z) => {
            let mut v: Vec<(String, f64)> = z
                .iter()
                .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), *s))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            Some(v)
        }
        other => panic!("{key} holds {other:?}"),
    }
}

fn pairs(v: &[(&str, f64)]) -> Option<Vec<(String, f64)>> {
    Some(v.iter().map(|(m, s)| (m.to_string(), *s)).collect())
}

/// The set at `key`, sorted.
fn set(ks: &Keyspace, key: &str) -> Option<Vec<String>> {
    match get(ks, key.as_bytes())? {
        Value::Set(s) => {
            let mut v: Vec<String> = s
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect();
            v.sort();
            Some(v)
        }
        other => panic!("{key} holds {other:?}"),
    }
}

fn members(v: &[&str]) -> Option<Vec<String>> {
    let mut v: Vec<String> = v.iter().map(|m| m.to_string()).collect();
    v.sort();
    Some(v)
}

#[test]
fn zstore_with_a_key_named_again() {
    let mut ks = Keyspace::new();
    run(&mut ks, &["ZADD z 1 a 2 b", "SADD s a c"]);
    run(&mut ks, &["ZUNIONSTORE d 3 z z z WEIGHTS 1 2 3"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 6.0), ("b", 12.0)]));
    run(
        &mut ks,
        &["ZUNIONSTORE d 3 z z z WEIGHTS 1 2 3 AGGREGATE MAX"],
    );
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 3.0), ("b", 6.0)]));
    run(
        &mut ks,
        &["ZUNIONSTORE d 3 z z z WEIGHTS 1 2 3 AGGREGATE min"],
    );
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 1.0), ("b", 2.0)]));
    run(&mut ks, &["ZINTERSTORE d 2 z z"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 2.0), ("b", 4.0)]));
    // A set counts as members of score 1.
    run(&mut ks, &["ZUNIONSTORE d 3 z s s"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 3.0), ("b", 2.0), ("c", 2.0)]));
    run(&mut ks, &["ZINTERSTORE d 3 s z s WEIGHTS 1 5 1"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 7.0)]));
    run(&mut ks, &["ZDIFFSTORE d 2 z s"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("b", 2.0)]));
    // The first source named again among the others: nothing is left.
    run(&mut ks, &["ZDIFFSTORE d 3 z s z"]);
    assert_eq!(get(&ks, b"d"), None);
}

#[test]
fn zstore_missing_keys_nan_and_destination() {
    let mut ks = Keyspace::new();
    run(&mut ks, &["ZADD z 1 a 2 b", "SET d old"]);
    run(&mut ks, &["ZINTERSTORE d 3 z nope z"]);
    assert_eq!(
        get(&ks, b"d"),
        None,
        "an empty result deletes the destination"
    );
    run(&mut ks, &["ZUNIONSTORE d 3 nope z nope"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("a", 1.0), ("b", 2.0)]));
    run(&mut ks, &["ZDIFFSTORE d 2 nope z"]);
    assert_eq!(get(&ks, b"d"), None);
    // inf * 0 and inf + -inf are NaN: 0.
    run(&mut ks, &["ZADD i inf x", "ZUNIONSTORE d 1 i WEIGHTS 0"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("x", 0.0)]));
    run(&mut ks, &["ZUNIONSTORE d 2 i i WEIGHTS 1 -1"]);
    assert_eq!(zset(&ks, "d"), pairs(&[("x", 0.0)]));
    // The destination is a source, named twice.
    run(&mut ks, &["ZUNIONSTORE z 2 z z"]);
    assert_eq!(zset(&ks, "z"), pairs(&[("a", 2.0), ("b", 4.0)]));
    run(&mut ks, &["SET str x"]);
    assert!(matches!(
        apply(&mut ks, "ZUNIONSTORE z 3 z z str"),
        Err(Error::WrongType(_))
    ));
    assert_eq!(
        zset(&ks, "z"),
        pairs(&[("a", 2.0), ("b", 4.0)]),
        "unchanged"
    );
    for bad in [
        "ZUNIONSTORE d 0 z",
        "ZUNIONSTORE d 3 z z",
        "ZUNIONSTORE d 18446744073709551615 z",
        "ZUNIONSTORE d 1 z WEIGHTS",
        "ZUNIONSTORE d 1 z AGGREGATE",
    ] {
        assert!(
            matches!(apply(&mut ks, bad), Err(Error::Syntax(_))),
            "{bad}"
        );
    }
}

/// Collections too large to be packed take the other path.
#[test]
fn zstore_and_set_store_on_large_collections() {
    let mut ks = Keyspace::new();
    let zadd: Vec<String> = (0..300).map(|i| format!("{i} m{i}")).collect();
    let sadd: Vec<String> = (0..300).map(|i| format!("m{}", i * 2)).collect();
    run(
        &mut ks,
        &[
            &format!("ZADD z {}", zadd.join(" ")),
            &format!("SADD s {}", sadd.join(" ")),
        ],
    );
    run(&mut ks, &["ZUNIONSTORE d 4 z z s z WEIGHTS 1 1 1 -1"]);
    let d = zset(&ks, "d").unwrap();
    assert_eq!(d.len(), 450);
    let score = |m: &str| d.iter().find(|p| p.0 == m).map(|p| p.1);
    assert_eq!(score("m7"), Some(7.0));
    assert_eq!(score("m8"), Some(9.0));
    assert_eq!(score("m598"), Some(1.0));
    run(&mut ks, &["ZINTERSTORE d 3 s z s AGGREGATE MAX"]);
    assert_eq!(zset(&ks, "d").unwrap().len(), 150);
    run(
        &mut ks,
        &[
            "SUNIONSTORE u s s s",
            "SINTERSTORE i s s",
            "SDIFFSTORE f s s",
        ],
    );
    assert_eq!(set(&ks, "u").unwrap().len(), 300);
    assert_eq!(set(&ks, "i").unwrap().len(), 300);
    assert_eq!(get(&ks, b"f"), None);
}

#[test]
fn set_store_with_a_key_named_again() {
    let mut ks = Keyspace::new();
    run(&mut ks, &["SADD a 1 2 3", "SADD b 2 3 4", "SET d old"]);
    run(&mut ks, &["SUNIONSTORE d a a b a"]);
    assert_eq!(set(&ks, "d"), members(&["1", "2", "3", "4"]));
    run(&mut ks, &["SINTERSTORE d a b a b"]);
    assert_eq!(set(&ks, "d"), members(&["2", "3"]));
    run(&mut ks, &["SDIFFSTORE d a b b"]);
    assert_eq!(set(&ks, "d"), members(&["1"]));
    run(&mut ks, &["SDIFFSTORE d a b a"]);
    assert_eq!(get(&ks, b"d"), None);
    run(&mut ks, &["SDIFFSTORE d a nope nope"]);
    assert_eq!(set(&ks, "d"), members(&["1", "2", "3"]));
    run(&mut ks, &["SDIFFSTORE d nope a"]);
    assert_eq!(get(&ks, b"d"), None);
    run(&mut ks, &["SUNIONSTORE d nope a"]);
    assert_eq!(set(&ks, "d"), members(&["1", "2", "3"]));
    run(&mut ks, &["SINTERSTORE d a nope a"]);
    assert_eq!(get(&ks, b"d"), None);
    // The destination is a source.
    run(&mut ks, &["SUNIONSTORE a a b a"]);
    assert_eq!(set(&ks, "a"), members(&["1", "2", "3", "4"]));
    run(&mut ks, &["SINTERSTORE a b a"]);
    assert_eq!(set(&ks, "a"), members(&["2", "3", "4"]));
    run(&mut ks, &["ZADD z 1 x"]);
    for cmd in [
        "SUNIONSTORE d a z",
        "SINTERSTORE d nope z",
        "SDIFFSTORE d z a",
    ] {
        assert!(
            matches!(apply(&mut ks, cmd), Err(Error::WrongType(_))),
            "{cmd}"
        );
    }
}

/// BITOP as the server computes it, a byte at a time.
fn bitop_oracle(op: &str, srcs: &[&[u8]]) -> Vec<u8> {
    let len = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..len)
        .map(|i| {
            let byte = |s: &[u8]| s.get(i).copied().unwrap_or(0);
            let first = byte(srcs[0]);
            srcs[1..].iter().fold(first, |acc, s| match op {
                "AND" => acc & byte(s),
                "OR" => acc | byte(s),
                "XOR" => acc ^ byte(s),
                _ => unreachable!(),
            })
        })
        .collect()
}

#[test]
fn bitop_agrees_with_a_byte_at_a_time() {
    // Strings of lengths around the word size, some named again, some missing.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let lens = [0usize, 1, 7, 8, 9, 16, 17, 33];
    let mut ks = Keyspace::new();
    let mut values: Vec<Vec<u8>> = Vec::new();
    for (i, &n) in lens.iter().enumerate() {
        let v: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        ks.apply(&[b"SET".as_slice(), format!("k{i}").as_bytes(), &v])
            .unwrap();
        values.push(v);
    }
    for round in 0..200 {
        let op = ["AND", "OR", "XOR"][round % 3];
        let count = 1 + (next() % 5) as usize;
        let picks: Vec<usize> = (0..count)
            .map(|_| (next() % (lens.len() as u64 + 1)) as usize)
            .collect();
        let keys: Vec<String> = picks.iter().map(|i| format!("k{i}")).collect();
        let srcs: Vec<&[u8]> = picks
            .iter()
            .map(|&i| values.get(i).map_or(&[][..], Vec::as_slice))
            .collect();
        let mut cmd: Vec<&[u8]> = vec![b"BITOP", op.as_bytes(), b"d"];
        cmd.extend(keys.iter().map(|k| k.as_bytes()));
        ks.apply(&cmd).unwrap();
        let want = bitop_oracle(op, &srcs);
        let got = get(&ks, b"d");
        if want.is_empty() {
            assert_eq!(got, None, "{op} {keys:?}");
        } else {
            assert_eq!(got, Some(Value::Str(want)), "{op} {keys:?}");
        }
    }
    ks.apply(&[b"BITOP".as_slice(), b"NOT", b"d", b"k7"])
        .unwrap();
    let not: Vec<u8> = values[7].iter().map(|b| !b).collect();
    assert_eq!(get(&ks, b"d"), Some(Value::Str(not)));
}

#[test]
fn bitop_destination_missing_keys_and_errors() {
    let mut ks = Keyspace::new();
    run(&mut ks, &["SET a abcdefghij", "SET b xyz"]);
    run(&mut ks, &["BITOP XOR d a a a a"]);
    assert_eq!(get(&ks, b"d"), Some(Value::Str(vec![0; 10])));
    run(&mut ks, &["BITOP AND d a nope"]);
    assert_eq!(get(&ks, b"d"), Some(Value::Str(vec![0; 10])));
    run(&mut ks, &["BITOP OR d nope nope"]);
    assert_eq!(get(&ks, b"d"), None);
    // The destination is a source, named twice.
    run(&mut ks, &["BITOP OR b b a b"]);
    let want = bitop_oracle("OR", &[b"xyz", b"abcdefghij", b"xyz"]);
    assert_eq!(get(&ks, b"b"), Some(Value::Str(want)));
    run(&mut ks, &["RPUSH l x"]);
    assert!(matches!(
        apply(&mut ks, "BITOP OR d a a l"),
        Err(Error::WrongType(_))
    ));
    assert!(matches!(
        apply(&mut ks, "BITOP NOT d a a"),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        apply(&mut ks, "BITOP NAND d a"),
        Err(Error::Unknown(_))
    ));
}

/// A string of `len` zero bytes at `key`, changed in place by the commands: allocated zeroed,
/// so that its pages are not touched.
fn big_string(ks: &mut Keyspace, key: &[u8], len: usize) {
    ks.db_mut().get_or_insert_with(key, || Entry {
        value: Value::Str(vec![0; len]),
        expire_ms: None,
    });
}

/// The length of the string at `key` and its last `n` bytes (read in place).
fn tail(ks: &Keyspace, key: &[u8], n: usize) -> (usize, Vec<u8>) {
    let s = ks.dbs[&ks.db]
        .get(key)
        .and_then(|f| f.str())
        .expect("a string");
    (s.len(), s[s.len() - n..].to_vec())
}

const MAX: usize = 512 * 1024 * 1024;

#[test]
fn strings_stop_at_the_servers_limit() {
    let mut ks = Keyspace::new();
    let too_large = |r: Result<(), Error>| matches!(r, Err(Error::Syntax(m)) if m.contains("exceeds maximum allowed size"));
    assert!(too_large(apply(&mut ks, "SETRANGE k 536870912 x")));
    assert!(too_large(apply(&mut ks, "SETRANGE k 536870911 xy")));
    assert!(too_large(apply(
        &mut ks,
        "SETRANGE k 9223372036854775807 x"
    )));
    assert!(apply(&mut ks, "SETRANGE k -1 x").is_err());
    assert!(apply(&mut ks, "SETRANGE k 18446744073709551615 x").is_err());
    assert!(ks.is_empty());
    // Setting nothing changes nothing, past the limit or not (on an existing key too).
    run(
        &mut ks,
        &[
            "SETRANGE k 536870912 ",
            "SET k abc",
            "SETRANGE k 600000000 ",
        ],
    );
    assert_eq!(get(&ks, b"k"), Some(Value::Str(b"abc".to_vec())));
    assert!(too_large(apply(&mut ks, "SETRANGE k 536870910 abc")));

    big_string(&mut ks, b"big", MAX - 1);
    run(&mut ks, &["APPEND big x", "APPEND big "]);
    assert!(too_large(apply(&mut ks, "APPEND big x")));
    assert!(too_large(apply(&mut ks, "SETRANGE big 536870911 xy")));
    run(&mut ks, &["SETRANGE big 536870911 y"]);
    assert_eq!(tail(&ks, b"big", 2), (MAX, b"\0y".to_vec()));
}

#[test]
fn bit_offsets_stop_at_two_to_the_32() {
    let mut ks = Keyspace::new();
    for cmd in [
        "SETBIT k 4294967296 1",
        "BITFIELD k SET u8 4294967296 1",
        "BITFIELD k SET u8 #536870912 1",
        "BITFIELD k INCRBY i64 #9223372036854775807 1",
    ] {
        assert!(
            matches!(apply(&mut ks, cmd), Err(Error::Syntax(_))),
            "{cmd}"
        );
    }
    assert!(ks.is_empty());
    // The server bounds where a field starts: the last one may end past 2^32 bits.
    big_string(&mut ks, b"big", MAX);
    run(&mut ks, &["BITFIELD big SET u8 4294967295 255"]);
    assert_eq!(tail(&ks, b"big", 2), (MAX + 1, vec![1, 0xfe]));
}
