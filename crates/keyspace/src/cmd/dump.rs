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
    Ok((value, u16::from_le_bytes([ver[0], ver[1]]) as u32))
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
