//! Converts arbitrary records (behind a header of RDB 9 to 12, with an EOF and a right
//! checksum after them) to RDB 9 to 12, with and without copying the values stored as the
//! target stores them: whenever the source reads whole and the conversion refuses and drops
//! nothing, the output must read whole too (its checksum checked) and hold the same dataset,
//! by `DEBUG DIGEST`'s rules, as the source. The engine run through the relay (on a second
//! thread, as `convert` runs it) must end alike and write the same bytes.
#![no_main]

use inspect::digest::{DigestSink, Scores};
use libfuzzer_sys::fuzz_target;
use rdb_parse::{drive, Parser};
use std::io::Write;
use transcode::{KeyFilter, Lossy, Options, RdbSink};

/// The dataset digest and key count of an RDB, or `None` when it does not read whole.
fn digest(rdb: &[u8]) -> Option<([u8; 20], u64)> {
    let mut parser = Parser::new(rdb);
    let mut sink = DigestSink::new(Scores::Shortest, 0);
    drive(&mut parser, &mut sink).ok()?;
    Some((sink.finish(), sink.keys()))
}

fuzz_target!(|data: &[u8]| {
    let [source, target, rest @ ..] = data else {
        return;
    };
    let mut input = format!("REDIS{:04}", 9 + u32::from(source % 4)).into_bytes();
    input.extend_from_slice(rest);
    input.push(0xff);
    let crc = rdb_parse::crc64(&input);
    input.extend_from_slice(&crc.to_le_bytes());
    let Some(before) = digest(&input) else {
        return;
    };

    // Values stored as the target stores them are copied from a second handle on the input.
    let raw_source = (target & 0x80 != 0).then(|| {
        let path = std::env::temp_dir().join(format!("rdb-convert-fuzz-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).expect("temporary file");
        f.write_all(&input).expect("temporary file");
        let f = std::fs::File::open(&path).expect("temporary file");
        let _ = std::fs::remove_file(&path);
        f
    });
    let copying = raw_source.is_some();
    let opts = Options {
        version: match target % 5 {
            0 => None,
            k => Some(8 + u32::from(k)),
        },
        filter: KeyFilter::default(),
        db_map: Vec::new(),
        lossy: Lossy::default(),
        raw_source,
        spill_dir: None,
        keep_empty: true,
        relaxed_version: false,
        keep_aux: false,
    };
    let mut sink = RdbSink::new(Vec::new(), false, 0, None);
    let Ok(outcome) = transcode::run(input.as_slice(), &opts, &mut sink) else {
        return;
    };
    // The same with the engine on a second thread, fed through the relay, as `convert` runs:
    // the same outcome, and the same bytes.
    let mut relayed = RdbSink::new(Vec::new(), false, 0, None);
    let again = transcode::run_relayed(input.as_slice(), &opts, &mut relayed)
        .unwrap_or_else(|e| panic!("the relayed run failed where the inline one did not: {e}"));
    assert_eq!(
        outcome.parse_error.as_ref().map(|(e, _)| e.to_string()),
        again.parse_error.as_ref().map(|(e, _)| e.to_string()),
        "the relayed run ends otherwise"
    );
    assert_eq!((outcome.keys, outcome.copied), (again.keys, again.copied));
    if let Some((e, _)) = &outcome.parse_error {
        // The source read whole: only the conversion's own check of repeated keys (which the
        // digest does not make) may stop it.
        assert!(
            e.to_string().contains("Duplicate key found in RDB file"),
            "the source read whole, the conversion stopped: {e}"
        );
        return;
    }
    if outcome.refused.total > 0 || outcome.dropped.total > 0 {
        return;
    }
    let (out, _) = sink.finish().expect("writing to memory");
    let (out_relayed, _) = relayed.finish().expect("writing to memory");
    assert!(out == out_relayed, "the relayed run wrote other bytes");
    let after = digest(&out).unwrap_or_else(|| {
        let mut p = Parser::new(out.as_slice());
        panic!(
            "the output (copying: {copying}) does not read whole: {:?}",
            p.read_to_end().err()
        )
    });
    assert_eq!(
        before, after,
        "the output holds another dataset (copying: {copying})"
    );
});
