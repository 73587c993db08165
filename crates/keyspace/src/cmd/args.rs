//! Checks and conversions of command arguments shared by the families.

use crate::{text, Error};

/// At least `min` arguments, the name included. Checked for every command: kept inline, its
/// error out of the way.
#[inline(always)]
pub(crate) fn arity(args: &[&[u8]], min: usize) -> Result<(), Error> {
    if args.len() < min {
        return Err(too_few(args, min));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn too_few(args: &[&[u8]], min: usize) -> Error {
    Error::Syntax(format!("{} needs {} arguments", text(args[0]), min - 1))
}

/// `base + n * unit` ms, or an error where the server answers "invalid expire time".
pub(crate) fn expiry(base: i64, n: i64, unit: i64) -> Result<i64, Error> {
    n.checked_mul(unit)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| Error::Syntax(format!("invalid expire time: {n}")))
}

/// A database number as the servers take it (`databases` is an int): 0 to 2^31 - 2. A larger
/// one is refused by any server, so a log that names it is impossible.
pub(crate) fn db_index(b: &[u8]) -> Result<u64, Error> {
    match crate::num::int(b) {
        Ok(n) if (0..i32::MAX as i64).contains(&n) => Ok(n as u64),
        _ => Err(Error::Syntax(format!(
            "database {} is out of range (0 to {})",
            text(b),
            i32::MAX - 1
        ))),
    }
}
