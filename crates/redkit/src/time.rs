//! Times on the command line: unix seconds or RFC 3339 in, RFC 3339 UTC out, and intervals.
//! Every parse uses checked arithmetic: a value out of range is a usage error, never a panic
//! or a silent wrap.

/// Formats unix seconds as an RFC 3339 UTC time (`2026-11-21T14:30:00Z`). Times outside years
/// 0..=9999 are shown as unix seconds (`@<secs>`): a date there would only mislead.
pub fn utc(secs: i64) -> String {
    // 0000-01-01 and 9999-12-31T23:59:59 in unix seconds.
    if !(-62_167_219_200..=253_402_300_799).contains(&secs) {
        return format!("@{secs}");
    }
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// [`utc`] of unsigned seconds (a `#TS` annotation).
pub fn utc_u(secs: u64) -> String {
    match i64::try_from(secs) {
        Ok(s) => utc(s),
        Err(_) => format!("@{secs}"),
    }
}

/// [`utc`] of unix milliseconds, to the second.
pub fn utc_ms(ms: i64) -> String {
    utc(ms.div_euclid(1000))
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses unix seconds or an RFC 3339 time (`2026-11-21T14:30:00Z`, `...+02:00`, a fraction
/// of a second is ignored).
pub fn parse_time(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let bad =
        || format!("invalid time '{s}': give unix seconds or RFC 3339 like 2026-11-21T14:30:00Z");
    // Everything checked below is ASCII: anything else cannot be a time.
    if !s.is_ascii() {
        return Err(bad());
    }
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse::<i64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    // Optional fraction, then Z or an offset.
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let oh = num(s.len() - 5..s.len() - 3)?;
            let om = num(s.len() - 2..s.len())?;
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(secs).map_err(|_| bad())
}

/// Parses an interval: a number with s, m, h or d (`30s`, `1m`, `1h`, `1d`); seconds without
/// a unit.
pub fn parse_interval(s: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid interval '{s}' (try 30s, 1m, 1h)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid interval unit in '{s}' (s, m, h or d)")),
    };
    if n == 0 {
        return Err("the interval must be positive".into());
    }
    n.checked_mul(mult)
        .filter(|&v| v <= i64::MAX as u64)
        .ok_or_else(|| format!("interval '{s}' is too large"))
}

/// The creation time written into the RDB files made: `SOURCE_DATE_EPOCH` when set (the
/// reproducible-builds convention: two runs then write the same bytes), else now.
pub fn ctime() -> u64 {
    source_date_epoch().unwrap_or_else(|| (now_ms() / 1000).max(0) as u64)
}

/// `SOURCE_DATE_EPOCH`, when set: the run's outputs are to be the same from run to run.
pub fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951782400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(4102444800), "2100-01-01T00:00:00Z");
        assert_eq!(utc_u(9999999999999999999), "@9999999999999999999");
        assert_eq!(utc(253402300800), "@253402300800");
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1795315891"), Ok(1795315891));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2000-02-29T12:00:00Z"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29T14:00:00+02:00"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29T12:00:00.750Z"), Ok(951825600));
        assert_eq!(parse_time("2000-02-29 11:30:00-00:30"), Ok(951825600));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2000-13-01T00:00:00Z").is_err());
        assert!(parse_time("2000-01-01T00:00:00").is_err());
        // Non-ASCII where a digit is expected: an error, not a panic on a char boundary.
        assert!(parse_time("2026-11-21T14:30:00+0é00").is_err());
        assert!(parse_time("2026-11-21T14:30:00+é:00").is_err());
        assert!(parse_time("2026-1é-21T14:30:00Z").is_err());
        assert!(parse_time("+026-11-21T14:30:00Z").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30s"), Ok(30));
        assert_eq!(parse_interval("2h"), Ok(7200));
        assert_eq!(parse_interval("90"), Ok(90));
        assert!(parse_interval("0m").is_err());
        assert!(parse_interval("1w").is_err());
        // 2^57 days overflows u64 seconds: an error, not a wrap or a panic.
        assert!(parse_interval("144115188075855872d").is_err());
        assert!(parse_interval("99999999999999999999").is_err());
    }
}
