//! GEOSEARCHSTORE, GEORADIUS ... STORE/STOREDIST and GEORADIUSBYMEMBER ... STORE/STOREDIST:
//! the sorted set the server writes, computed as `georadiusGeneric` (geo.c) computes it.
//!
//! Which members are found depends on the server's own floating point computations, so they
//! are reproduced operation by operation: the 52-bit geohash of a score decoded to the centre
//! of its cell (`geohashDecodeToLongLatWGS84`), the haversine distance (`geohashGetDistance`),
//! the radius and box checks, and the search area: the step estimated from the radius
//! (`geohashEstimateStepsByRadius`), the cell of the centre and its 8 neighbours, some of
//! them dropped (`geohashCalculateAreasByShapeWGS84`). Only members whose score lies in one of
//! those cells are candidates; they are visited cell by cell (centre, north, south, east,
//! west, north-east, north-west, south-east, south-west) and, within a cell, in sorted set
//! order, which decides what `COUNT n ANY` keeps. `COUNT n` without ANY sorts by distance
//! with the server's partial quicksort and keeps the first n.

use crate::num::{c_str, string2d, string2ll};
use crate::sort::{c_eq_ci, pqsort};
use crate::Error;
use std::collections::HashMap;

/// What a GEO store command writes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoStore {
    /// The key written.
    pub dest: Vec<u8>,
    /// The members and their scores: the member's own score (its 52-bit geohash) for STORE,
    /// the distance to the centre in the command's unit for STOREDIST (the exact double the
    /// server computes, not rounded). Empty: the server deletes `dest`.
    pub members: Vec<(Vec<u8>, f64)>,
}

/// Which form of the server's distance code computes distances.
///
/// Redis merged two changes to `geohash_helper.c` late in 2022 (pull requests 11535 and
/// 11579): a distance between points of the same longitude is computed as `R * |lat2 - lat1|`
/// (in radians) instead of with the haversine formula, and the latitude side of a BYBOX check
/// the same way. The two results differ in the last bits, so STOREDIST scores and members right
/// on a boundary can differ. Redis 7.0.15 and Valkey 8.1.8 both have the change (their results
/// match [`GeoMath::Current`] and not [`GeoMath::Haversine`] on the fixture); the Redis 7.0.4
/// sources do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoMath {
    /// With the same-longitude shortcut: Redis 7.0.15 (and the 7.0 releases that have the
    /// change), Redis 7.2 and later, Valkey.
    #[default]
    Current,
    /// The haversine formula for every distance, as in the Redis 7.0.4 sources (earlier 7.0
    /// releases). Not checked against a running server.
    Haversine,
}

const GEO_LAT_MIN: f64 = -85.05112878;
const GEO_LAT_MAX: f64 = 85.05112878;
const GEO_LONG_MIN: f64 = -180.0;
const GEO_LONG_MAX: f64 = 180.0;
const GEO_STEP_MAX: u8 = 26;
/// `M_PI / 180.0`.
const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// The commands this module computes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// GEORADIUS key lon lat radius unit ...
    Coords,
    /// GEORADIUSBYMEMBER key member radius unit ...
    Member,
    /// GEOSEARCHSTORE dest src ...
    SearchStore,
}

fn command(argv: &[&[u8]]) -> Result<Kind, Error> {
    let Some(name) = argv.first() else {
        return Err(Error::Syntax("an empty command".into()));
    };
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let (kind, arity) = if is("georadius") {
        (Kind::Coords, 6)
    } else if is("georadiusbymember") {
        (Kind::Member, 5)
    } else if is("geosearchstore") {
        (Kind::SearchStore, 8)
    } else if is("georadius_ro") || is("georadiusbymember_ro") || is("geosearch") {
        return Err(Error::Syntax(format!(
            "{} is read-only: it writes nothing",
            String::from_utf8_lossy(name)
        )));
    } else {
        return Err(Error::Unknown(format!(
            "{} is not a GEO store command",
            String::from_utf8_lossy(name)
        )));
    };
    if argv.len() < arity {
        return Err(Error::Syntax(format!(
            "wrong number of arguments for {}",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(kind)
}

/// The key whose sorted set a GEO store command searches: `argv[1]` for GEORADIUS and
/// GEORADIUSBYMEMBER, `argv[2]` for GEOSEARCHSTORE. GEORADIUS_RO, GEORADIUSBYMEMBER_RO and
/// GEOSEARCH are [`Error::Syntax`] (read-only), any other command [`Error::Unknown`].
pub fn geo_source_key<'a>(argv: &[&'a [u8]]) -> Result<&'a [u8], Error> {
    Ok(match command(argv)? {
        Kind::Coords | Kind::Member => argv[1],
        Kind::SearchStore => argv[2],
    })
}

/// Computes what a GEO store command writes, with the distance code of Redis 7.0.15 and Valkey
/// 8.1 ([`GeoMath::Current`]); see [`geo_store_with`].
pub fn geo_store(
    argv: &[&[u8]],
    source: Option<&crate::Map<Vec<u8>, f64>>,
) -> Result<GeoStore, Error> {
    geo_store_with(argv, source, GeoMath::default())
}

/// The search: centre, shape, unit.
#[derive(Clone, Copy, Default)]
struct Shape {
    /// Longitude, latitude of the centre.
    xy: [f64; 2],
    /// Metres per unit.
    conversion: f64,
    /// `None`: a radius search; `Some((width, height))`: a box.
    rect: Option<(f64, f64)>,
    /// The radius, in the unit.
    radius: f64,
}

/// A member found: (member, distance in metres, score).
type Point<'a> = (&'a [u8], f64, f64);

/// Computes what a GEO store command writes, as `georadiusGeneric` does.
///
/// `argv` is the whole command, name first, in any case: `GEOSEARCHSTORE dest src FROMMEMBER m
/// | FROMLONLAT lon lat BYRADIUS r unit | BYBOX w h unit [ASC|DESC] [COUNT n [ANY]]
/// [STOREDIST]`, `GEORADIUS src lon lat r unit [...] STORE|STOREDIST dest`,
/// `GEORADIUSBYMEMBER src member r unit [...] STORE|STOREDIST dest`. `source` is the sorted
/// set at the source key ([`geo_source_key`]), `None` when the key does not exist (the caller
/// answers a key of another type with [`Error::WrongType`], as the server does).
///
/// When the source is missing, or nothing is found, `members` is empty: the server deletes
/// `dest`. A command that stores nothing (GEORADIUS or GEORADIUSBYMEMBER without STORE or
/// STOREDIST, and the read-only commands) is an [`Error::Syntax`], as is anything the server
/// refuses (bad arguments, a FROMMEMBER or GEORADIUSBYMEMBER member that is not in the set,
/// WITHDIST/WITHHASH/WITHCOORD with a store). `math` chooses the server's distance code.
pub fn geo_store_with(
    argv: &[&[u8]],
    source: Option<&crate::Map<Vec<u8>, f64>>,
    math: GeoMath,
) -> Result<GeoStore, Error> {
    let kind = command(argv)?;
    let syntax = |what: &str| Error::Syntax(what.to_string());
    let member_xy = |zset: &crate::Map<Vec<u8>, f64>, m: &[u8]| -> Result<[f64; 2], Error> {
        zset.get(m)
            .map(|&score| decode_score(score))
            .ok_or_else(|| syntax("could not decode requested zset member"))
    };

    let mut shape = Shape::default();
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    let base = match kind {
        Kind::Coords => {
            shape.xy = long_lat(argv[2], argv[3])?;
            (shape.radius, shape.conversion) = distance(argv[4], argv[5])?;
            6
        }
        Kind::Member => {
            if let Some(zset) = source {
                shape.xy = member_xy(zset, argv[2])?;
                (shape.radius, shape.conversion) = distance(argv[3], argv[4])?;
            }
            5
        }
        Kind::SearchStore => {
            storekey = Some(argv[1]);
            3
        }
    };
    let search = kind == Kind::SearchStore;

    let (mut withopt, mut frommember, mut fromloc, mut byradius, mut bybox) =
        (false, false, false, false, false);
    #[derive(PartialEq, Clone, Copy)]
    enum Order {
        None,
        Asc,
        Desc,
    }
    let mut sort = Order::None;
    let mut any = false;
    let mut count: i64 = 0;
    let opts = &argv[base..];
    let remaining = opts.len();
    let mut i = 0;
    while i < remaining {
        let arg = opts[i];
        let is = |w: &str| c_eq_ci(arg, w.as_bytes());
        if is("withdist") || is("withhash") || is("withcoord") {
            withopt = true;
        } else if is("any") {
            any = true;
        } else if is("asc") {
            sort = Order::Asc;
        } else if is("desc") {
            sort = Order::Desc;
        } else if is("count") && i + 1 < remaining {
            count = string2ll(opts[i + 1])
                .ok_or_else(|| syntax("value is not an integer or out of range"))?;
            if count <= 0 {
                return Err(syntax("COUNT must be > 0"));
            }
            i += 1;
        } else if (is("store") || is("storedist")) && i + 1 < remaining && !search {
            storekey = Some(opts[i + 1]);
            storedist = is("storedist");
            i += 1;
        } else if is("storedist") && search {
            storedist = true;
        } else if is("frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(zset) = source {
                shape.xy = member_xy(zset, opts[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is("fromlonlat") && i + 2 < remaining && search && !frommember {
            shape.xy = long_lat(opts[i + 1], opts[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is("byradius") && i + 2 < remaining && search && !bybox {
            (shape.radius, shape.conversion) = distance(opts[i + 1], opts[i + 2])?;
            shape.rect = None;
            byradius = true;
            i += 2;
        } else if is("bybox") && i + 3 < remaining && search && !byradius {
            let w = string2d(opts[i + 1]).ok_or_else(|| syntax("need numeric width"))?;
            let h = string2d(opts[i + 2]).ok_or_else(|| syntax("need numeric height"))?;
            if h < 0.0 || w < 0.0 {
                return Err(syntax("height or width cannot be negative"));
            }
            shape.conversion = unit(opts[i + 3])?;
            shape.rect = Some((w, h));
            bybox = true;
            i += 3;
        } else {
            return Err(syntax("syntax error"));
        }
        i += 1;
    }

    if storekey.is_some() && withopt {
        return Err(syntax(
            "STORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ));
    }
    if search && !(frommember || fromloc) {
        return Err(syntax(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified",
        ));
    }
    if search && !(byradius || bybox) {
        return Err(syntax("exactly one of BYRADIUS and BYBOX can be specified"));
    }
    if any && count == 0 {
        return Err(syntax("the ANY argument requires COUNT argument"));
    }
    let Some(dest) = storekey else {
        return Err(syntax(
            "GEORADIUS and GEORADIUSBYMEMBER without STORE or STOREDIST are read-only",
        ));
    };
    let dest = dest.to_vec();
    let Some(zset) = source else {
        return Ok(GeoStore {
            dest,
            members: Vec::new(),
        });
    };

    // COUNT without an order (and without ANY) returns the closest ones.
    if count != 0 && sort == Order::None && !any {
        sort = Order::Asc;
    }

    let cells = search_cells(&calculate_areas(&shape));
    // The members of the cells searched, in sorted set order: by score, then by member (-0.0
    // and 0.0 are one score to the server).
    let mut ordered: Vec<(f64, &[u8])> = zset
        .iter()
        .filter(|(_, &s)| cells.iter().any(|&(min, max)| min <= s && s < max))
        .map(|(m, &s)| (s, m.as_slice()))
        .collect();
    ordered.sort_by(|a, b| match a.0.partial_cmp(&b.0) {
        Some(std::cmp::Ordering::Equal) | None => a.1.cmp(b.1),
        Some(o) => o,
    });
    let limit = if any { count as usize } else { 0 };
    let mut found: Vec<Point> = Vec::new();
    members_of_cells(&ordered, &cells, &shape, math, limit, &mut found);

    let result_length = found.len();
    let returned = if count == 0 || (result_length as i64) < count {
        result_length
    } else {
        count as usize
    };
    if sort != Order::None {
        let desc = sort == Order::Desc;
        let cmp = |a: &Point, b: &Point| -> i32 {
            let c = if a.1 > b.1 {
                1
            } else if a.1 == b.1 {
                0
            } else {
                -1
            };
            if desc {
                -c
            } else {
                c
            }
        };
        if returned == result_length {
            // All are kept: their order does not matter to the sorted set written.
            found.sort_by(|a, b| cmp(a, b).cmp(&0));
        } else {
            pqsort(&mut found, 0, returned as i64 - 1, &cmp);
        }
    }
    let mut members: Vec<(Vec<u8>, f64)> = Vec::with_capacity(returned);
    let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(returned);
    for &(member, dist, score) in &found[..returned] {
        let value = if storedist {
            dist / shape.conversion
        } else {
            score
        };
        // The cells searched do not overlap, so a member is found once at most; were it found
        // twice, it would be written once, with the later value.
        match seen.get(member) {
            Some(&at) => members[at].1 = value,
            None => {
                seen.insert(member, members.len());
                members.push((member.to_vec(), value));
            }
        }
    }
    Ok(GeoStore { dest, members })
}

/// What `GEOADD key [NX|XX] [CH] longitude latitude member ...` does, as the ZADD the server
/// turns it into (`geoaddCommand`): each position encoded as a 52-bit geohash, the score.
/// Servers log the ZADD; a log that holds a GEOADD (written by hand, or by a proxy) is applied
/// the same way.
pub fn geoadd_as_zadd(argv: &[&[u8]]) -> Result<Vec<Vec<u8>>, Error> {
    let mut zadd: Vec<Vec<u8>> = vec![
        b"ZADD".to_vec(),
        argv.get(1).copied().unwrap_or_default().to_vec(),
    ];
    let mut i = 2;
    let (mut nx, mut xx) = (false, false);
    while i < argv.len() {
        let o = argv[i].to_ascii_lowercase();
        match o.as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"ch" => {}
            _ => break,
        }
        zadd.push(o.to_ascii_uppercase());
        i += 1;
    }
    let rest = &argv[i..];
    if argv.len() < 2 || (nx && xx) || rest.is_empty() || !rest.len().is_multiple_of(3) {
        return Err(Error::Syntax("GEOADD: syntax error".into()));
    }
    for t in rest.chunks(3) {
        let [lon, lat] = long_lat(t[0], t[1])?;
        let hash = encode(lon, lat, GEO_STEP_MAX)
            .ok_or_else(|| Error::Syntax("GEOADD: position out of range".into()))?;
        // geohashAlign52Bits: a 26-step hash is already 52 bits; the score is that integer.
        zadd.push(hash.bits.to_string().into_bytes());
        zadd.push(t[2].to_vec());
    }
    Ok(zadd)
}

/// `extractLongLatOrReply`: a longitude and a latitude within the limits of the encoding.
#[allow(clippy::manual_range_contains)]
fn long_lat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], Error> {
    let x = string2d(lon).ok_or_else(|| Error::Syntax("value is not a valid float".into()))?;
    let y = string2d(lat).ok_or_else(|| Error::Syntax("value is not a valid float".into()))?;
    if x < GEO_LONG_MIN || x > GEO_LONG_MAX || y < GEO_LAT_MIN || y > GEO_LAT_MAX {
        return Err(Error::Syntax(format!(
            "invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok([x, y])
}

/// `extractUnitOrReply`: metres per unit.
fn unit(u: &[u8]) -> Result<f64, Error> {
    let u = c_str(u);
    Ok(if u.eq_ignore_ascii_case(b"m") {
        1.0
    } else if u.eq_ignore_ascii_case(b"km") {
        1000.0
    } else if u.eq_ignore_ascii_case(b"ft") {
        0.3048
    } else if u.eq_ignore_ascii_case(b"mi") {
        1609.34
    } else {
        return Err(Error::Syntax(
            "unsupported unit provided. please use M, KM, FT, MI".into(),
        ));
    })
}

/// `extractDistanceOrReply`: (radius in the unit, metres per unit).
fn distance(radius: &[u8], u: &[u8]) -> Result<(f64, f64), Error> {
    let r = string2d(radius).ok_or_else(|| Error::Syntax("need numeric radius".into()))?;
    if r < 0.0 {
        return Err(Error::Syntax("radius cannot be negative".into()));
    }
    Ok((r, unit(u)?))
}

/// A geohash: `step` bits of longitude and of latitude, interleaved.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
struct Bits {
    bits: u64,
    step: u8,
}

impl Bits {
    /// `HASHISZERO`: a neighbour dropped from the search.
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// A cell: longitude and latitude ranges.
#[derive(Clone, Copy, Default, Debug)]
struct Area {
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
}

/// The double to `uint64_t` conversion of gcc and clang on x86-64: below 2^63 a signed
/// truncation (a negative value wraps, NaN and out of range give 2^63), from 2^63 a truncation
/// of the value less 2^63 with the top bit flipped (out of range gives 0).
fn double_to_u64(x: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    let cvttsd2si = |v: f64| -> i64 {
        if v.is_nan() || !(-TWO63..TWO63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if x >= TWO63 {
        (cvttsd2si(x - TWO63) as u64) ^ (1 << 63)
    } else {
        cvttsd2si(x) as u64
    }
}

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = u64::from(xlo);
    let mut y = u64::from(ylo);
    for k in (0..5).rev() {
        x = (x | (x << S[k])) & B[k];
        y = (y | (y << S[k])) & B[k];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for k in 0..6 {
        x = (x | (x >> S[k])) & B[k];
        y = (y | (y >> S[k])) & B[k];
    }
    x | (y << 32)
}

/// The double to `uint32_t` conversion for the offsets of `geohashEncode` (in 0..=2^26).
fn double_to_u32(x: f64) -> u32 {
    double_to_u64(x) as u32
}

/// `geohashEncode` over the WGS84 ranges; `None` outside them.
#[allow(clippy::manual_range_contains)]
fn encode(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if step > 32 || step == 0 {
        return None;
    }
    if lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN {
        return None;
    }
    let mut lat_offset = (lat - GEO_LAT_MIN) / (GEO_LAT_MAX - GEO_LAT_MIN);
    let mut long_offset = (lon - GEO_LONG_MIN) / (GEO_LONG_MAX - GEO_LONG_MIN);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    Some(Bits {
        bits: interleave64(double_to_u32(lat_offset), double_to_u32(long_offset)),
        step,
    })
}

/// `geohashDecode` over the WGS84 ranges; `None` for a dropped neighbour.
fn decode(hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = GEO_LAT_MAX - GEO_LAT_MIN;
    let long_scale = GEO_LONG_MAX - GEO_LONG_MIN;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = 1u64.checked_shl(u32::from(hash.step)).unwrap_or(0) as f64;
    Some(Area {
        lat_min: GEO_LAT_MIN + (f64::from(ilato) * 1.0 / div) * lat_scale,
        lat_max: GEO_LAT_MIN + (f64::from(ilato.wrapping_add(1)) * 1.0 / div) * lat_scale,
        lon_min: GEO_LONG_MIN + (f64::from(ilono) * 1.0 / div) * long_scale,
        lon_max: GEO_LONG_MIN + (f64::from(ilono.wrapping_add(1)) * 1.0 / div) * long_scale,
    })
}

/// `decodeGeohash`: a score to the centre of its 52-bit cell, clamped to the limits.
fn decode_score(score: f64) -> [f64; 2] {
    let hash = Bits {
        bits: double_to_u64(score),
        step: GEO_STEP_MAX,
    };
    // A 26-step hash always decodes.
    let area = decode(hash).unwrap_or_default();
    let x = ((area.lon_min + area.lon_max) / 2.0).clamp(GEO_LONG_MIN, GEO_LONG_MAX);
    let y = ((area.lat_min + area.lat_max) / 2.0).clamp(GEO_LAT_MIN, GEO_LAT_MAX);
    // `clamp` keeps NaN, as the server's comparisons do.
    [x, y]
}

fn move_x(hash: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let shift = 64 - u32::from(hash.step).min(32) * 2;
    let zz = 0x5555555555555555u64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64.checked_shr(shift).unwrap_or(0);
    hash.bits = x | y;
}

fn move_y(hash: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let shift = 64 - u32::from(hash.step).min(32) * 2;
    let zz = 0xaaaaaaaaaaaaaaaau64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64.checked_shr(shift).unwrap_or(0);
    hash.bits = x | y;
}

/// The 8 neighbours of a cell.
#[derive(Clone, Copy, Default)]
struct Neighbors {
    north: Bits,
    south: Bits,
    east: Bits,
    west: Bits,
    north_east: Bits,
    north_west: Bits,
    south_east: Bits,
    south_west: Bits,
}

/// `geohashNeighbors`.
fn neighbors(hash: Bits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        north_east: at(1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// `geohashEstimateStepsByRadius`.
#[allow(clippy::manual_range_contains)]
fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i64 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if lat > 66.0 || lat < -66.0 {
        step -= 1;
        if lat > 80.0 || lat < -80.0 {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// `geohashBoundingBox`: [min lon, min lat, max lon, max lat].
fn bounding_box(shape: &Shape) -> [f64; 4] {
    let (lon, lat) = (shape.xy[0], shape.xy[1]);
    // (Some servers compute `conversion * h / 2`: the same value wherever it matters, since the
    // box is used only for steps of 2 and more, far from overflow.)
    let (height, width) = match shape.rect {
        None => (
            shape.conversion * shape.radius,
            shape.conversion * shape.radius,
        ),
        Some((w, h)) => (shape.conversion * (h / 2.0), shape.conversion * (w / 2.0)),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
    let southern = lat < 0.0;
    [
        if southern {
            lon - long_delta_bottom
        } else {
            lon - long_delta_top
        },
        lat - lat_delta,
        if southern {
            lon + long_delta_bottom
        } else {
            lon + long_delta_top
        },
        lat + lat_delta,
    ]
}

/// The cells searched: the centre's cell and its neighbours (dropped ones are zero).
struct Areas {
    hash: Bits,
    neighbors: Neighbors,
}

/// `geohashCalculateAreasByShapeWGS84`.
fn calculate_areas(shape: &Shape) -> Areas {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let (lon, lat) = (shape.xy[0], shape.xy[1]);
    let mut radius_meters = match shape.rect {
        None => shape.radius,
        Some((w, h)) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    };
    radius_meters *= shape.conversion;
    let mut steps = estimate_steps(radius_meters, lat);
    // The centre is always within the limits (checked, or decoded and clamped).
    let enc = |steps| {
        encode(lon, lat, steps).unwrap_or(Bits {
            bits: 0,
            step: steps,
        })
    };
    let mut hash = enc(steps);
    let mut nb = neighbors(hash);
    let mut area = decode(hash).unwrap_or_default();

    let mut decrease_step = false;
    {
        let north = decode(nb.north).unwrap_or_default();
        let south = decode(nb.south).unwrap_or_default();
        let east = decode(nb.east).unwrap_or_default();
        let west = decode(nb.west).unwrap_or_default();
        if north.lat_max < max_lat {
            decrease_step = true;
        }
        if south.lat_min > min_lat {
            decrease_step = true;
        }
        if east.lon_max < max_lon {
            decrease_step = true;
        }
        if west.lon_min > min_lon {
            decrease_step = true;
        }
    }
    if steps > 1 && decrease_step {
        steps -= 1;
        hash = enc(steps);
        nb = neighbors(hash);
        area = decode(hash).unwrap_or_default();
    }

    // Drop the neighbours the search area does not reach.
    if steps >= 2 {
        let zero = Bits::default();
        if area.lat_min < min_lat {
            nb.south = zero;
            nb.south_west = zero;
            nb.south_east = zero;
        }
        if area.lat_max > max_lat {
            nb.north = zero;
            nb.north_east = zero;
            nb.north_west = zero;
        }
        if area.lon_min < min_lon {
            nb.west = zero;
            nb.south_west = zero;
            nb.north_west = zero;
        }
        if area.lon_max > max_lon {
            nb.east = zero;
            nb.south_east = zero;
            nb.north_east = zero;
        }
    }
    Areas {
        hash,
        neighbors: nb,
    }
}

/// `geohashGetLatDistance` ([`GeoMath::Current`]).
fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// `geohashGetDistance`: the haversine great circle distance in metres.
fn get_distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64, math: GeoMath) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if math == GeoMath::Current && v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// `geoWithinShape` / `geoAppendIfWithinShape`: the distance to the centre when the point of
/// `score` is within the shape.
fn within_shape(shape: &Shape, score: f64, math: GeoMath) -> Option<f64> {
    let [x2, y2] = decode_score(score);
    let [x1, y1] = shape.xy;
    match shape.rect {
        None => {
            let d = get_distance(x1, y1, x2, y2, math);
            if d > shape.radius * shape.conversion {
                return None;
            }
            Some(d)
        }
        Some((w, h)) => {
            let width_m = w * shape.conversion;
            let height_m = h * shape.conversion;
            match math {
                GeoMath::Haversine => {
                    let lon_d = get_distance(x2, y2, x1, y2, math);
                    let lat_d = get_distance(x2, y2, x2, y1, math);
                    if lon_d > width_m / 2.0 || lat_d > height_m / 2.0 {
                        return None;
                    }
                }
                GeoMath::Current => {
                    if lat_distance(y2, y1) > height_m / 2.0 {
                        return None;
                    }
                    if get_distance(x2, y2, x1, y2, math) > width_m / 2.0 {
                        return None;
                    }
                }
            }
            Some(get_distance(x1, y1, x2, y2, math))
        }
    }
}

/// The score ranges (min included, max excluded) of the cells `membersOfAllNeighbors`
/// searches, in its order: the centre, north, south, east, west, north-east, north-west,
/// south-east, south-west; dropped neighbours left out, and a cell equal to the one searched
/// just before skipped (`scoresOfGeoHashBox` gives the range of a cell).
fn search_cells(areas: &Areas) -> Vec<(f64, f64)> {
    let n = &areas.neighbors;
    let cells = [
        areas.hash,
        n.north,
        n.south,
        n.east,
        n.west,
        n.north_east,
        n.north_west,
        n.south_east,
        n.south_west,
    ];
    let mut out = Vec::with_capacity(cells.len());
    let mut last_processed = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last_processed != 0 && *cell == cells[last_processed] {
            continue;
        }
        let shift = 52 - u32::from(cell.step).min(26) * 2;
        let min = (cell.bits << shift) as f64;
        let max = (cell.bits.wrapping_add(1) << shift) as f64;
        out.push((min, max));
        last_processed = i;
    }
    out
}

/// `membersOfAllNeighbors` over the cells of [`search_cells`]: the members of each cell, in
/// sorted set order (`ordered`), that are within the shape; with `limit` (COUNT n ANY) the
/// search stops once that many are found.
fn members_of_cells<'a>(
    ordered: &[(f64, &'a [u8])],
    cells: &[(f64, f64)],
    shape: &Shape,
    math: GeoMath,
    limit: usize,
    found: &mut Vec<Point<'a>>,
) {
    let full = |found: &Vec<Point>| !found.is_empty() && limit != 0 && found.len() >= limit;
    for &(min, max) in cells {
        if full(found) {
            break;
        }
        // min <= score < max (an empty range when max <= min).
        let first = ordered.partition_point(|e| e.0 < min);
        for &(score, member) in &ordered[first..] {
            if score >= max {
                break;
            }
            if let Some(d) = within_shape(shape, score, math) {
                found.push((member, d, score));
            }
            if full(found) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn geoadd_scores_as_the_server_stores_them() {
        let geoadd = |args: &[&str]| {
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            super::geoadd_as_zadd(&argv)
        };
        // GEOADD Sicily 13.361389 38.115556 Palermo; ZSCORE Sicily Palermo: 3479099956230698
        // (the example of the server's GEOADD documentation).
        let z = geoadd(&[
            "GEOADD",
            "Sicily",
            "NX",
            "13.361389",
            "38.115556",
            "Palermo",
        ])
        .unwrap();
        assert_eq!(z[2], b"NX");
        assert_eq!(z[3], b"3479099956230698");
        assert_eq!(z[4], b"Palermo");
        // Scores redis-server 7.0.15 gave for these positions (ZSCORE after GEOADD).
        for (lon, lat, score) in [
            ("-122.4194", "37.7749", "1367859919124626"),
            ("179.999", "-85.05112878", "3002399751544866"),
            ("0", "0", "3377699720527872"),
        ] {
            let z = geoadd(&["GEOADD", "g", lon, lat, "m"]).unwrap();
            assert_eq!(z[2], score.as_bytes(), "{lon},{lat}");
        }
        assert!(geoadd(&["GEOADD", "k", "200", "0", "m"]).is_err());
        assert!(geoadd(&["GEOADD", "k", "1", "2"]).is_err());
        assert!(geoadd(&["GEOADD", "k", "NX", "XX", "1", "2", "m"]).is_err());
    }

    use super::*;

    fn set(points: &[(&str, f64, f64)]) -> crate::Map<Vec<u8>, f64> {
        points
            .iter()
            .map(|&(m, lon, lat)| {
                let h = encode(lon, lat, GEO_STEP_MAX).unwrap();
                (m.as_bytes().to_vec(), h.bits as f64)
            })
            .collect()
    }

    fn run(argv: &[&str], src: Option<&crate::Map<Vec<u8>, f64>>) -> Result<GeoStore, Error> {
        let argv: Vec<&[u8]> = argv.iter().map(|s| s.as_bytes()).collect();
        geo_store(&argv, src)
    }

    #[test]
    fn geoadd_scores() {
        // GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        let g = set(&[
            ("Palermo", 13.361389, 38.115556),
            ("Catania", 15.087269, 37.502669),
        ]);
        assert_eq!(g[b"Palermo".as_slice()], 3479099956230698.0);
        assert_eq!(g[b"Catania".as_slice()], 3479447370796909.0);
        let r = run(
            &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "d"],
            Some(&g),
        );
        let mut m = r.unwrap().members;
        m.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(m[0], (b"Catania".to_vec(), 56.4412578701582));
        assert_eq!(m[1], (b"Palermo".to_vec(), 190.44242984775784));
        let r = run(
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "KM",
                "ANY",
                "COUNT",
                "1",
                "STOREDIST",
            ],
            Some(&g),
        );
        assert_eq!(
            r.unwrap().members,
            vec![(b"Palermo".to_vec(), 190.44242984775784)]
        );
    }

    #[test]
    fn errors_and_missing() {
        let g = set(&[("a", 1.0, 1.0)]);
        assert!(matches!(
            run(&["GEORADIUS", "g", "1", "1", "10", "km"], Some(&g)),
            Err(Error::Syntax(_))
        ));
        assert!(matches!(
            run(
                &[
                    "GEOSEARCH",
                    "g",
                    "FROMLONLAT",
                    "1",
                    "1",
                    "BYRADIUS",
                    "1",
                    "m"
                ],
                Some(&g)
            ),
            Err(Error::Syntax(_))
        ));
        assert!(matches!(
            run(&["GET", "g"], Some(&g)),
            Err(Error::Unknown(_))
        ));
        let r = run(
            &["GEORADIUSBYMEMBER", "g", "zz", "x", "y", "STORE", "d"],
            None,
        )
        .unwrap();
        assert_eq!(
            r,
            GeoStore {
                dest: b"d".to_vec(),
                members: vec![]
            }
        );
        assert!(run(
            &["GEORADIUSBYMEMBER", "g", "zz", "1", "m", "STORE", "d"],
            Some(&g)
        )
        .is_err());
        assert!(run(
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "m",
                "WITHDIST"
            ],
            Some(&g)
        )
        .is_err());
        assert!(run(
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "m",
                "ANY"
            ],
            Some(&g)
        )
        .is_err());
        assert!(run(
            &[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "1",
                "91",
                "BYRADIUS",
                "1",
                "m"
            ],
            Some(&g)
        )
        .is_err());
        assert_eq!(
            geo_source_key(&[
                b"GEOSEARCHSTORE".as_slice(),
                b"d",
                b"s",
                b"x",
                b"x",
                b"x",
                b"x",
                b"x"
            ])
            .unwrap(),
            b"s"
        );
    }

    fn json_str(v: &serde_json::Value) -> &str {
        v.as_str().expect("a string")
    }

    /// Replays testdata/keyspace/geo.json (see testdata/gen/make_geosort.py) with `math`;
    /// returns the number of results compared and the failures, one line each.
    fn replay_fixture(math: GeoMath) -> (usize, Vec<String>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keyspace/geo.json"
        );
        let text = std::fs::read_to_string(path).expect("testdata/keyspace/geo.json");
        let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut sets: HashMap<String, crate::Map<Vec<u8>, f64>> = HashMap::new();
        for (name, members) in fixture["sets"].as_object().unwrap() {
            let zset = members
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let m = json_str(&p[0]).as_bytes().to_vec();
                    (m, json_str(&p[1]).parse::<f64>().unwrap())
                })
                .collect();
            sets.insert(name.clone(), zset);
        }
        let mut failures = Vec::new();
        let mut runs = 0;
        for case in fixture["cases"].as_array().unwrap() {
            let argv: Vec<&[u8]> = case["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| json_str(a).as_bytes())
                .collect();
            let source = sets.get(json_str(&case["set"]));
            for (server, want) in case["results"].as_object().unwrap() {
                runs += 1;
                let got = geo_store_with(&argv, source, math);
                let ok = match (&got, want.get("stored")) {
                    (Err(_), None) => true,
                    (Ok(g), Some(stored)) => {
                        let want: HashMap<Vec<u8>, f64> = stored
                            .as_array()
                            .map(|a| a.as_slice())
                            .unwrap_or_default()
                            .iter()
                            .map(|p| {
                                let m = json_str(&p[0]).as_bytes().to_vec();
                                (m, json_str(&p[1]).parse::<f64>().unwrap())
                            })
                            .collect();
                        let mine: HashMap<Vec<u8>, f64> = g.members.iter().cloned().collect();
                        g.dest == argv_dest(&argv) && mine.len() == g.members.len() && mine == want
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!(
                        "{server}: {:?}: want {want}, got {got:?}",
                        case["argv"]
                    ));
                }
            }
        }
        (runs, failures)
    }

    /// The destination key named in a GEO store command.
    fn argv_dest(argv: &[&[u8]]) -> Vec<u8> {
        if argv[0].eq_ignore_ascii_case(b"geosearchstore") {
            return argv[1].to_vec();
        }
        let mut dest = Vec::new();
        for w in argv.windows(2) {
            if w[0].eq_ignore_ascii_case(b"store") || w[0].eq_ignore_ascii_case(b"storedist") {
                dest = w[1].to_vec();
            }
        }
        dest
    }

    #[test]
    fn replays_geo_fixture() {
        let (runs, failures) = replay_fixture(GeoMath::Current);
        assert!(runs >= 800, "only {runs} fixture runs");
        assert!(
            failures.is_empty(),
            "{} of {runs} differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// The fixture tells the two forms of the distance code apart: neither server's results
    /// are all reproduced with the haversine formula everywhere.
    #[test]
    fn geo_fixture_is_not_haversine_everywhere() {
        let (_, failures) = replay_fixture(GeoMath::Haversine);
        assert!(failures.iter().any(|f| f.starts_with("redis-7.0")));
        assert!(failures.iter().any(|f| f.starts_with("valkey-8.1")));
    }

    /// Random argument vectors: an answer (value or error), never a panic.
    #[test]
    fn arbitrary_arguments_do_not_panic() {
        let words: [&[u8]; 40] = [
            b"GEOSEARCHSTORE",
            b"GEORADIUS",
            b"GEORADIUSBYMEMBER",
            b"geosearch",
            b"d",
            b"g",
            b"FROMMEMBER",
            b"FROMLONLAT",
            b"BYRADIUS",
            b"BYBOX",
            b"ASC",
            b"DESC",
            b"COUNT",
            b"ANY",
            b"STORE",
            b"STOREDIST",
            b"WITHDIST",
            b"m",
            b"km",
            b"mi",
            b"0",
            b"1",
            b"-1",
            b"180",
            b"-180",
            b"85.05112878",
            b"-85.05112878",
            b"90",
            b"1e308",
            b"inf",
            b"nan",
            b"0x1p-1074",
            b"5e-324",
            b"20000000",
            b"a",
            b"b",
            b"",
            b"\0",
            b"1.5",
            b"9999999999",
        ];
        let g = set(&[
            ("a", 180.0, GEO_LAT_MAX),
            ("b", -180.0, GEO_LAT_MIN),
            ("c", 0.0, 0.0),
        ]);
        let mut g2 = g.clone();
        g2.insert(b"neg".to_vec(), -5.0);
        g2.insert(b"inf".to_vec(), f64::INFINITY);
        g2.insert(b"big".to_vec(), 1e300);
        let mut seed = 99u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        for _ in 0..20000 {
            let len = 1 + next(12);
            let mut argv: Vec<&[u8]> = (0..len).map(|_| words[next(words.len())]).collect();
            argv[0] = words[next(4)];
            for src in [None, Some(&g), Some(&g2)] {
                let _ = geo_store(&argv, src);
                let _ = geo_store_with(&argv, src, GeoMath::Haversine);
                let _ = geo_source_key(&argv);
            }
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(double_to_u64(-1.5), u64::MAX);
        assert_eq!(double_to_u64(f64::INFINITY), 0);
        assert_eq!(double_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(double_to_u64(1.8e19), 18000000000000000000);
        assert_eq!(double_to_u64(2e19), 0);
        assert_eq!(
            deinterleave64(interleave64(0x1234567, 0x2abcdef)),
            0x02ab_cdef_0000_0000 | 0x0123_4567
        );
    }
}
