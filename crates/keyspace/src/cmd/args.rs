//! Checks and conversions of command arguments shared by the families.

use crate::{text, Error};

/// At least `min` arguments, the name included.
pub(crate) fn arity(args: &[&[u8]], min: usize) -> Result<(), Error> {
    if args.len() < min {
        return Err(Error::Syntax(format!(
            "{} needs {} arguments",
            text(args[0]),
            min - 1
        )));
    }
    Ok(())
}

/// `base + n * unit` ms, or an error where the server answers "invalid expire time".
pub(crate) fn expiry(base: i64, n: i64, unit: i64) -> Result<i64, Error> {
    n.checked_mul(unit)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| Error::Syntax(format!("invalid expire time: {n}")))
}
