//! HyperLogLog values, changed by `PFADD`, `PFMERGE`, `PFCOUNT` and `PFDEBUG TODENSE|GETREG`
//! exactly as Redis 7.0 and Valkey 8.1 change them (`src/hyperloglog.c`), byte for byte.
//!
//! A HyperLogLog is a plain string: a 16-byte header (`HYLL`, the encoding byte 0 = dense or
//! 1 = sparse, three unused bytes, then the cached cardinality as a little-endian u64 whose top
//! bit set means "stale"), then 16384 registers of 6 bits:
//! - dense: 12288 bytes, register `i` at bit `6 * i`, least significant bit first;
//! - sparse: run-length opcodes, ZERO `00xxxxxx` (1..=64 zero registers), XZERO
//!   `01xxxxxx yyyyyyyy` (1..=16384 zero registers), VAL `1vvvvvxx` (1..=4 registers of value
//!   1..=32).
//!
//! An element is hashed with MurmurHash64A (seed `0xadc83b19`): the low 14 bits choose the
//! register, and one plus the number of trailing zeros of the other 50 bits (at most 51) is the
//! value the register is raised to.
//!
//! Redis 7.0 and Valkey 8.1 give the same bytes for every command here (Valkey 8.1 computes the
//! dense PFMERGE result with SIMD code that writes the same registers). The server's
//! `hll-sparse-max-bytes` (default 3000) decides when a sparse value becomes dense: the
//! `*_with_sparse_max` functions take it; the others use the default.
//!
//! A sparse value is corrupt when its opcodes do not cover exactly 16384 registers; one that
//! adds up past 2^31 registers is refused like any other, as patched servers do (Redis 7.0.15
//! overflows a counter there, CVE-2025-32023).
//!
//! The cardinality estimate is Ertl's improved estimator in the server's floating-point
//! operation order, as x86-64 builds of the server evaluate it (no fused multiply-add).

use crate::Error;

#[cfg(test)]
mod tests;

/// The default of the server setting `hll-sparse-max-bytes`: a sparse value may not grow past
/// this many bytes (header included); a change that would make it longer turns it dense.
pub const SPARSE_MAX_BYTES: usize = 3000;

/// Bytes of the header.
const HDR: usize = 16;
/// Number of registers (2^14).
const REGISTERS: usize = 1 << 14;
/// Bits of the hash that are not the register index.
const Q: u32 = 50;
/// Length of a dense value.
const DENSE_LEN: usize = HDR + REGISTERS * 6 / 8;
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
/// Largest register value a sparse VAL opcode holds.
const VAL_MAX_VALUE: u8 = 32;
/// Largest run a VAL opcode holds.
const VAL_MAX_LEN: u8 = 4;
/// Largest run a ZERO opcode holds.
const ZERO_MAX_LEN: usize = 64;
/// 0.5 / ln(2) (the server writes 0.721347520444481703680: the same double).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
/// 2^63.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// The value of the key after `PFADD key element...` (`existing` is None when the key does not
/// exist), with the default `hll-sparse-max-bytes`.
///
/// A key that does not exist is created sparse (even with no element). The cached cardinality is
/// marked stale when the key is created or a register grows; otherwise the bytes come back
/// unchanged.
///
/// Errors: [`Error::WrongType`] when `existing` is not a HyperLogLog (the server's WRONGTYPE) or
/// is a corrupt sparse one that the server refuses (INVALIDOBJ); [`Error::Unknown`] in the one
/// case whose result depends on a byte past the end of the string (a corrupt value ending in
/// half of an XZERO opcode, rewritten in place).
pub fn pfadd(existing: Option<&[u8]>, elements: &[&[u8]]) -> Result<Vec<u8>, Error> {
    pfadd_with_sparse_max(existing, elements, SPARSE_MAX_BYTES)
}

/// [`pfadd`] on a server whose `hll-sparse-max-bytes` is `sparse_max_bytes`.
pub fn pfadd_with_sparse_max(
    existing: Option<&[u8]>,
    elements: &[&[u8]],
    sparse_max_bytes: usize,
) -> Result<Vec<u8>, Error> {
    let (mut hll, mut updated) = match existing {
        Some(v) => {
            check(v)?;
            (Buf::new(v), false)
        }
        None => (Buf::new(&empty_sparse()), true),
    };
    for element in elements {
        let (index, count) = pattern(element);
        let changed = if hll.is_dense() {
            hll.dense_set(index, count)
        } else {
            hll.sparse_set(index, count, sparse_max_bytes)?
        };
        updated |= changed;
    }
    if updated {
        hll.invalidate();
    }
    hll.finish()
}

/// The value of `dest` after `PFMERGE dest source...`, with the default `hll-sparse-max-bytes`.
///
/// `dest` is the destination's current value (None: no such key); `sources` are the values of
/// the source keys in order (None: no such key, taken as empty). When the destination is also
/// named among the sources, pass its value there too: the server reads the destination as one
/// more input in any case, so this changes nothing.
///
/// The result is dense when any input (the destination included) is dense; otherwise the merged
/// registers are written one by one, lowest first, into the (possibly new) sparse destination,
/// which turns dense on the way if it outgrows `hll-sparse-max-bytes`. The header of an existing
/// destination (including the cached cardinality bytes) is kept and the cache is marked stale.
/// Redis 7.0 and Valkey 8.1 follow the same rules.
///
/// Errors: [`Error::WrongType`] when an input is not a HyperLogLog or is a corrupt sparse one;
/// [`Error::Unknown`] as for [`pfadd`].
pub fn pfmerge(dest: Option<&[u8]>, sources: &[Option<&[u8]>]) -> Result<Vec<u8>, Error> {
    pfmerge_with_sparse_max(dest, sources, SPARSE_MAX_BYTES)
}

/// [`pfmerge`] on a server whose `hll-sparse-max-bytes` is `sparse_max_bytes`.
pub fn pfmerge_with_sparse_max(
    dest: Option<&[u8]>,
    sources: &[Option<&[u8]>],
    sparse_max_bytes: usize,
) -> Result<Vec<u8>, Error> {
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for v in std::iter::once(&dest).chain(sources).flatten() {
        if check(v)? == ENC_DENSE {
            use_dense = true;
        }
        merge_into(v, 0, &mut max)?;
    }
    let mut hll = Buf::new(&dest.map_or_else(empty_sparse, <[u8]>::to_vec));
    if use_dense {
        hll.make_dense()?;
        for (j, &m) in max.iter().enumerate() {
            hll.dense_write(j, m);
        }
    } else {
        for (j, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if hll.is_dense() {
                hll.dense_set(j, m);
            } else {
                // The server ignores the outcome of each register write here: the destination
                // was already read whole above, so none fails.
                let _ = hll.sparse_set(j, m, sparse_max_bytes);
            }
        }
    }
    hll.invalidate();
    hll.finish()
}

/// What a single-key `PFCOUNT key` does to the value: when the cached cardinality is stale, the
/// server computes it, stores it (clearing the stale bit) and counts the key as changed, so the
/// command reaches the AOF. Gives the new bytes then, or None when the cache was valid and
/// nothing changed.
///
/// Errors: [`Error::WrongType`] when the value is not a HyperLogLog or is a corrupt sparse one.
pub fn pfcount_cache(existing: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    check(existing)?;
    if existing[15] & 0x80 == 0 {
        return Ok(None);
    }
    let card = estimate(existing)?;
    let mut v = existing.to_vec();
    v[8..16].copy_from_slice(&card.to_le_bytes());
    Ok(Some(v))
}

/// The reply of a single-key `PFCOUNT key`: the cached cardinality when it is valid, else the
/// estimate.
///
/// Errors: [`Error::WrongType`] when the value is not a HyperLogLog or is a corrupt sparse one.
pub fn cardinality(value: &[u8]) -> Result<u64, Error> {
    check(value)?;
    if value[15] & 0x80 == 0 {
        let mut card = [0u8; 8];
        card.copy_from_slice(&value[8..16]);
        return Ok(u64::from_le_bytes(card));
    }
    estimate(value)
}

/// What `PFDEBUG TODENSE key` (and `PFDEBUG GETREG key`, which does the same to the value) does
/// to an existing key: a sparse value becomes dense with the same header (the cached
/// cardinality is kept as it is) and the key counts as changed, so the command reaches the AOF.
/// Gives the new bytes, or None when the value is already dense.
///
/// Errors: [`Error::WrongType`] when the value is not a HyperLogLog or is a corrupt sparse one.
pub fn pfdebug_todense(existing: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    if check(existing)? == ENC_DENSE {
        return Ok(None);
    }
    let mut hll = Buf::new(existing);
    hll.make_dense()?;
    hll.finish().map(Some)
}

fn not_hll() -> Error {
    Error::WrongType("Key is not a valid HyperLogLog string value.".into())
}

fn corrupt() -> Error {
    Error::WrongType("INVALIDOBJ Corrupted HLL object detected".into())
}

/// The server's test of a string holding a HyperLogLog: the magic, a known encoding, and the
/// exact length when dense (a sparse body is only read by the command). Gives the encoding.
fn check(v: &[u8]) -> Result<u8, Error> {
    if v.len() < HDR || &v[..4] != b"HYLL" || v[4] > ENC_SPARSE {
        return Err(not_hll());
    }
    if v[4] == ENC_DENSE && v.len() != DENSE_LEN {
        return Err(not_hll());
    }
    Ok(v[4])
}

/// A new sparse value: the header (cache 0) and one XZERO opcode for all 16384 registers.
fn empty_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR + 2];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = ENC_SPARSE;
    let l = REGISTERS - 1;
    v[HDR] = (l >> 8) as u8 | 0x40;
    v[HDR + 1] = (l & 0xff) as u8;
    v
}

/// MurmurHash2, 64-bit version, reading 8-byte blocks little-endian (as the server does on
/// every platform).
fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut b = [0u8; 8];
        b.copy_from_slice(block);
        let mut k = u64::from_le_bytes(b);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it raises that register to (1..=51).
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> 14) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// ZERO or XZERO opcode for `len` (1..=16384) zero registers, written at the start of `out`;
/// gives its length.
fn zero_ops(out: &mut [u8], len: usize) -> usize {
    if len > ZERO_MAX_LEN {
        out[0] = ((len - 1) >> 8) as u8 | 0x40;
        out[1] = ((len - 1) & 0xff) as u8;
        2
    } else {
        out[0] = (len - 1) as u8;
        1
    }
}

fn val_op(value: u8, len: u8) -> u8 {
    ((value - 1) << 2 | (len - 1)) | 0x80
}

fn is_zero_op(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_xzero_op(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn is_val_op(b: u8) -> bool {
    b & 0x80 != 0
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> u8 {
    (b & 0x3) + 1
}

fn xzero_len(b0: u8, b1: u8) -> usize {
    ((usize::from(b0 & 0x3f) << 8) | usize::from(b1)) + 1
}

/// Raises `max[i]` to each register of the value `v` (already checked). A sparse value must
/// cover exactly 16384 registers (`tail` is the byte after the end of the string, read when
/// the last opcode is half an XZERO).
fn merge_into(v: &[u8], tail: u8, max: &mut [u8]) -> Result<(), Error> {
    if v[4] == ENC_DENSE {
        let regs = &v[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            let r = dense_get(regs, i);
            if r > *m {
                *m = r;
            }
        }
        return Ok(());
    }
    let at = |i: usize| v.get(i).copied().unwrap_or(tail);
    let mut idx = 0usize;
    let mut p = HDR;
    while p < v.len() {
        let b = v[p];
        if is_zero_op(b) {
            let run = usize::from(b & 0x3f) + 1;
            if idx + run > REGISTERS {
                return Err(corrupt());
            }
            idx += run;
            p += 1;
        } else if is_xzero_op(b) {
            let run = xzero_len(b, at(p + 1));
            if idx + run > REGISTERS {
                return Err(corrupt());
            }
            idx += run;
            p += 2;
        } else {
            let run = usize::from(val_len(b));
            let value = val_value(b);
            if idx + run > REGISTERS {
                return Err(corrupt());
            }
            for m in &mut max[idx..idx + run] {
                if value > *m {
                    *m = value;
                }
            }
            idx += run;
            p += 1;
        }
    }
    if idx != REGISTERS {
        return Err(corrupt());
    }
    Ok(())
}

/// Register `i` of dense registers (`regs` may end right after the last register byte).
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u32::from(regs[byte]);
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// The estimate `hllCount` gives for a checked value.
fn estimate(v: &[u8]) -> Result<u64, Error> {
    let mut regs = vec![0u8; REGISTERS];
    merge_into(v, 0, &mut regs)?;
    let mut histo = [0u32; 64];
    for &r in &regs {
        histo[usize::from(r & 63)] += 1;
    }
    Ok(estimate_from_histogram(&histo))
}

/// Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
/// arXiv:1702.01284) over the register histogram, in the server's operation order; then
/// `llroundl` and the conversion to an unsigned 64-bit integer as x86-64 does them.
fn estimate_from_histogram(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - f64::from(histo[q + 1])) / m);
    for j in (1..=q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    let e = ALPHA_INF * m * m / z;
    // llroundl: round half away from zero; out of range (or NaN) gives LLONG_MIN on x86-64,
    // which the cast to uint64_t turns into 2^63.
    let rounded = if (-TWO_63..TWO_63).contains(&e) {
        e.round() as i64
    } else {
        i64::MIN
    };
    rounded as u64
}

/// Ertl's sigma function, iterated until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau function, iterated until it stops changing (`pow(1 - x, 2)` is a plain square).
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// A value being changed, followed by one more byte: the terminator the server keeps after
/// every string. It is zero except after an in-place rewrite of a value whose last opcode is
/// half an XZERO: the server then writes one byte past the new end, and reads it back as the
/// second byte of that opcode.
struct Buf {
    b: Vec<u8>,
}

impl Buf {
    fn new(v: &[u8]) -> Self {
        let mut b = Vec::with_capacity(v.len() + 8);
        b.extend_from_slice(v);
        b.push(0);
        Buf { b }
    }

    /// Length of the string (without the terminator).
    fn len(&self) -> usize {
        self.b.len() - 1
    }

    fn is_dense(&self) -> bool {
        self.b[4] == ENC_DENSE
    }

    fn invalidate(&mut self) {
        self.b[15] |= 0x80;
    }

    fn finish(mut self) -> Result<Vec<u8>, Error> {
        if self.b.pop() != Some(0) {
            return Err(Error::Unknown(
                "a HyperLogLog whose value depends on a byte past its end".into(),
            ));
        }
        Ok(self.b)
    }

    /// Register `index` of a dense value, raised to `count` if lower; true when it was.
    fn dense_set(&mut self, index: usize, count: u8) -> bool {
        if count > dense_get(&self.b[HDR..], index) {
            self.dense_write(index, count);
            true
        } else {
            false
        }
    }

    /// Register `index` of a dense value set to `value` (0..=63).
    fn dense_write(&mut self, index: usize, value: u8) {
        let regs = &mut self.b[HDR..];
        let byte = index * 6 / 8;
        let fb = (index * 6) & 7;
        let v = u32::from(value);
        regs[byte] &= !((63u32 << fb) as u8);
        regs[byte] |= (v << fb) as u8;
        if let Some(next) = regs.get_mut(byte + 1) {
            *next &= !((63u32 >> (8 - fb)) as u8);
            *next |= (v >> (8 - fb)) as u8;
        }
    }

    /// A sparse value made dense: same header but the encoding, registers from the opcodes.
    fn make_dense(&mut self) -> Result<(), Error> {
        if self.is_dense() {
            return Ok(());
        }
        let len = self.len();
        let mut regs = vec![0u8; REGISTERS];
        merge_into(&self.b[..len], self.b[len], &mut regs)?;
        let mut dense = Buf::new(&[0u8; DENSE_LEN]);
        dense.b[..HDR].copy_from_slice(&self.b[..HDR]);
        dense.b[4] = ENC_DENSE;
        for (i, &r) in regs.iter().enumerate() {
            if r != 0 {
                dense.dense_write(i, r);
            }
        }
        *self = dense;
        Ok(())
    }

    /// Register `index` of a sparse value raised to `count` if lower, rewriting the opcodes in
    /// place as the server does, or turning the value dense when `count` is above 32 or the
    /// rewrite would make it longer than `sparse_max_bytes`. True when the register grew.
    fn sparse_set(
        &mut self,
        index: usize,
        count: u8,
        sparse_max_bytes: usize,
    ) -> Result<bool, Error> {
        if count > VAL_MAX_VALUE {
            return self.promote(index, count);
        }
        // Step 1: the opcode covering `index`.
        let end = self.len();
        let mut p = HDR;
        let mut first = 0usize;
        let mut prev: Option<usize> = None;
        let mut span = 0usize;
        while p < end {
            let b = self.b[p];
            let oplen;
            if is_zero_op(b) {
                span = usize::from(b & 0x3f) + 1;
                oplen = 1;
            } else if is_val_op(b) {
                span = usize::from(val_len(b));
                oplen = 1;
            } else {
                span = xzero_len(b, self.b[p + 1]);
                oplen = 2;
            }
            if index < first + span {
                break;
            }
            prev = Some(p);
            p += oplen;
            first += span;
        }
        if span == 0 || p >= end {
            return Err(corrupt());
        }
        let op = self.b[p];
        let oldlen = if is_xzero_op(op) { 2 } else { 1 };
        let next = (p + oldlen < end).then_some(p + oldlen);
        let runlen = if is_zero_op(op) {
            usize::from(op & 0x3f) + 1
        } else if is_xzero_op(op) {
            xzero_len(op, self.b[p + 1])
        } else {
            usize::from(val_len(op))
        };

        // Step 2: the cases that need no new opcode.
        let in_place = if is_val_op(op) {
            if val_value(op) >= count {
                return Ok(false);
            }
            runlen == 1
        } else {
            is_zero_op(op) && runlen == 1
        };
        if in_place {
            self.b[p] = val_op(count, 1);
        } else {
            // The opcode split in up to three: what precedes `index`, `index`, what follows.
            let last = first + span - 1;
            let mut seq = [0u8; 5];
            let mut n = 0;
            if is_val_op(op) {
                let cur = val_value(op);
                if index != first {
                    seq[n] = val_op(cur, (index - first) as u8);
                    n += 1;
                }
                seq[n] = val_op(count, 1);
                n += 1;
                if index != last {
                    seq[n] = val_op(cur, (last - index) as u8);
                    n += 1;
                }
            } else {
                if index != first {
                    n += zero_ops(&mut seq[n..], index - first);
                }
                seq[n] = val_op(count, 1);
                n += 1;
                if index != last {
                    n += zero_ops(&mut seq[n..], last - index);
                }
            }
            // Step 3: the new opcodes replace the old one.
            let new_len = end + n - oldlen;
            if n > oldlen && new_len > sparse_max_bytes {
                return self.promote(index, count);
            }
            let room = (new_len + 1).max(p + n).max(end + 1);
            self.b.resize(room, 0);
            if let Some(next) = next {
                if n != oldlen {
                    self.b.copy_within(next..end, next + n - oldlen);
                }
            }
            self.b[new_len] = 0;
            self.b[p..p + n].copy_from_slice(&seq[..n]);
            self.b.truncate(new_len + 1);
        }

        // Step 4: adjacent VAL opcodes of the same value merged, scanning up to five opcodes
        // from the one before the change.
        let mut p = prev.unwrap_or(HDR);
        let mut end = self.len();
        let mut scan = 5;
        while p < end && scan > 0 {
            scan -= 1;
            let b = self.b[p];
            if is_xzero_op(b) {
                p += 2;
                continue;
            }
            if is_zero_op(b) {
                p += 1;
                continue;
            }
            let nb = self.b[p + 1];
            if p + 1 < end && is_val_op(nb) && val_value(b) == val_value(nb) {
                let len = val_len(b) + val_len(nb);
                if len <= VAL_MAX_LEN {
                    self.b[p + 1] = val_op(val_value(b), len);
                    // Everything after `p`, the terminator included, moves one byte left; the
                    // new terminator is zero.
                    self.b.remove(p);
                    end -= 1;
                    self.b[end] = 0;
                    continue;
                }
            }
            p += 1;
        }
        self.invalidate();
        Ok(true)
    }

    /// The value made dense, then register `index` raised to `count`.
    fn promote(&mut self, index: usize, count: u8) -> Result<bool, Error> {
        self.make_dense()?;
        Ok(self.dense_set(index, count))
    }
}
