//! DUMP payloads, as RESTORE and FUNCTION RESTORE take them: read with the RDB parser, as a
//! one-key (or functions-only) RDB.

use crate::{Error, Keyspace, Loader};

/// The value and RDB version of a DUMP payload (`value, version: 2 bytes, CRC-64: 8 bytes`),
/// its checksum checked (0: not computed).
pub(super) fn dump_payload<'a>(p: &'a [u8], what: &str) -> Result<(&'a [u8], u32), Error> {
    if p.len() < 10 {
        return Err(Error::Syntax(format!("{what} payload too short")));
    }
    let (body, crc) = p.split_at(p.len() - 8);
    let stored = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
    d.update(body);
    if stored != 0 && stored != d.finalize() {
        return Err(Error::Syntax(format!("{what} payload checksum")));
    }
    let (value, ver) = body.split_at(body.len() - 2);
    let version = u16::from_le_bytes([ver[0], ver[1]]) as u32;
    let known = (1..=rdb_parse::MAX_REDIS_VERSION).contains(&version)
        || (80..=rdb_parse::MAX_VALKEY_VERSION).contains(&version);
    if !known {
        // The servers answer "DUMP payload version or checksum are wrong".
        return Err(Error::Syntax(format!(
            "{what} payload of RDB version {version}, which no known server writes (Redis 1 to \
             {}, Valkey 80 to {})",
            rdb_parse::MAX_REDIS_VERSION,
            rdb_parse::MAX_VALKEY_VERSION
        )));
    }
    Ok((value, version))
}

/// Refuses a RESTORE value that starts with an RDB opcode (0xFF, the end of a file, would
/// otherwise be read as a file's end and the value as its checksum).
pub(super) fn value_type(value: &[u8], what: &str) -> Result<(), Error> {
    match value.first() {
        Some(&t) if t >= 0xF0 => Err(Error::Syntax(format!(
            "{what} payload starts with byte 0x{t:02x}, an RDB opcode, where a value type is \
             expected"
        ))),
        _ => Ok(()),
    }
}

/// The header of an RDB file of `version`.
pub(super) fn rdb_magic(version: u32) -> Vec<u8> {
    if version >= 80 {
        format!("VALKEY{version:03}").into_bytes()
    } else {
        format!("REDIS{version:04}").into_bytes()
    }
}

/// Loads `rdb` (a header and records; the end and a disabled checksum are added here).
pub(super) fn load_rdb(mut rdb: Vec<u8>, what: &str) -> Result<Keyspace, Error> {
    rdb.push(0xFF);
    rdb.extend_from_slice(&[0; 8]);
    let mut tmp = Keyspace::new();
    let mut parser = rdb_parse::Parser::new(&rdb[..]);
    match rdb_parse::drive(&mut parser, &mut Loader::new(&mut tmp)) {
        Ok(()) => Ok(tmp),
        Err(rdb_parse::Stop::Sink(e)) => Err(Error::Unknown(format!("{what} of {}", e.0))),
        Err(rdb_parse::Stop::Parse(e)) => {
            Err(Error::Syntax(format!("{what} payload: {}", e.kind())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{dump_payload, value_type};

    /// A payload as DUMP writes it: value, version, CRC-64 of both.
    fn payload(value: &[u8], version: u16) -> Vec<u8> {
        let mut p = value.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
        d.update(&p);
        p.extend_from_slice(&d.finalize().to_le_bytes());
        p
    }

    #[test]
    fn payloads_of_known_versions_are_read() {
        for v in [9, 10, 11, 12, 80] {
            let p = payload(b"\x00\x01v", v);
            let (value, version) = dump_payload(&p, "RESTORE").unwrap();
            assert_eq!((value, version), (&b"\x00\x01v"[..], v as u32));
        }
    }

    #[test]
    fn an_unknown_version_or_an_opcode_is_named() {
        let e = dump_payload(&payload(b"\x00\x01v", 99), "RESTORE").unwrap_err();
        assert!(
            e.to_string()
                .contains("RDB version 99, which no known server writes"),
            "{e}"
        );
        assert!(!e.to_string().contains("magic"), "{e}");
        let p = payload(b"\xff\x01\x02\x03\x04\x05\x06\x07\x08", 10);
        let (value, _) = dump_payload(&p, "RESTORE").unwrap();
        let e = value_type(value, "RESTORE").unwrap_err();
        assert!(e.to_string().contains("byte 0xff, an RDB opcode"), "{e}");
        assert!(!e.to_string().contains("CRC"), "{e}");
        let mut bad = payload(b"\x00\x01v", 10);
        bad[0] ^= 1;
        let e = dump_payload(&bad, "RESTORE").unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }
}
