//! A minimal streaming Parquet writer: flat schemas of 64-bit integers and byte strings, no
//! compression, no dictionary, no statistics.
//!
//! Rows are buffered one row group at a time (at most `rows_per_group` rows, or about 64 MiB of
//! values); a full row group is written out at once, so memory stays bounded whatever the number
//! of rows. The file written is laid out as follows:
//!
//! ```text
//! "PAR1"
//! for each row group, for each column, one column chunk made of one data page:
//!     PageHeader          Thrift compact: DATA_PAGE, sizes, DataPageHeader (v1)
//!     definition levels   optional columns only: u32 little-endian byte length, then the
//!                         RLE/bit-packed hybrid encoding of the levels with bit width 1
//!     values              PLAIN encoding of the non-null values: INT64 as 8 bytes
//!                         little-endian, BYTE_ARRAY as a u32 little-endian length then the bytes
//! FileMetaData            Thrift compact: version 1, schema, num_rows, row groups, created_by
//! footer length           u32 little-endian, the size of FileMetaData
//! "PAR1"
//! ```
//!
//! Every column is at the top level of the schema, so pages have no repetition levels; a
//! required column has no definition levels either. Pages are stored UNCOMPRESSED, so the
//! compressed and uncompressed sizes recorded are the same. A file without any row has zero row
//! groups and is still a valid Parquet file.

use std::io::{self, Write};

/// The magic bytes at both ends of a Parquet file.
const MAGIC: &[u8; 4] = b"PAR1";

/// Buffered value bytes at which the current row group is written out.
const GROUP_BYTE_LIMIT: usize = 64 << 20;

/// The longest byte string a cell may hold: a page, its 4-byte length prefix included, must
/// fit the signed 32-bit page size of the page header.
const MAX_VALUE_LEN: usize = i32::MAX as usize - 4;

/// What `created_by` says in the footer.
const CREATED_BY: &str = "redkit";

// Values of the Parquet Thrift enums used here.
const FORMAT_VERSION: i32 = 1;
const TYPE_INT64: i32 = 2;
const TYPE_BYTE_ARRAY: i32 = 6;
const REPETITION_REQUIRED: i32 = 0;
const REPETITION_OPTIONAL: i32 = 1;
const CONVERTED_UTF8: i32 = 0;
const ENCODING_PLAIN: i32 = 0;
const ENCODING_RLE: i32 = 3;
const CODEC_UNCOMPRESSED: i32 = 0;
const PAGE_DATA: i32 = 0;

// Thrift compact protocol type ids.
const CT_I32: u8 = 5;
const CT_I64: u8 = 6;
const CT_BINARY: u8 = 8;
const CT_LIST: u8 = 9;
const CT_STRUCT: u8 = 12;

/// Most 8-value groups in one bit-packed run of definition levels, as common encoders do.
const MAX_BIT_PACKED_GROUPS: usize = 63;

/// A column's physical and logical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A required signed 64-bit integer (`INT64`).
    Int64,
    /// A signed 64-bit integer that may be null (`INT64`, `OPTIONAL`).
    OptionalInt64,
    /// A required UTF-8 string (`BYTE_ARRAY`, converted type `UTF8`, logical type `STRING`).
    Utf8,
    /// A required byte string (`BYTE_ARRAY` without logical type).
    Binary,
}

impl ColumnType {
    /// The Parquet physical type.
    fn physical(self) -> i32 {
        match self {
            ColumnType::Int64 | ColumnType::OptionalInt64 => TYPE_INT64,
            ColumnType::Utf8 | ColumnType::Binary => TYPE_BYTE_ARRAY,
        }
    }

    /// Whether the column may hold nulls (and so has definition levels).
    fn optional(self) -> bool {
        matches!(self, ColumnType::OptionalInt64)
    }
}

/// A column of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name, unique in the schema.
    pub name: &'static str,
    /// The column's type.
    pub ty: ColumnType,
}

/// One cell of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer, for an `Int64` or `OptionalInt64` column.
    Int(i64),
    /// No value, for an `OptionalInt64` column.
    Null,
    /// A byte string, for a `Binary` column, or a `Utf8` one when it is valid UTF-8.
    Bytes(&'a [u8]),
}

/// The buffered values of one column in the current row group.
#[derive(Debug, Default)]
struct ColumnBuf {
    /// The non-null values, PLAIN-encoded.
    values: Vec<u8>,
    /// One definition level per row, optional columns only: whether the value is present.
    defined: Vec<bool>,
}

/// Where one column chunk was written.
#[derive(Debug, Clone, Copy)]
struct ChunkMeta {
    /// Offset of the chunk (its only page header) in the file.
    offset: u64,
    /// Size of the chunk, page header included.
    size: u64,
}

/// A row group already written.
#[derive(Debug)]
struct GroupMeta {
    /// The column chunks, in schema order.
    chunks: Vec<ChunkMeta>,
    /// The number of rows.
    num_rows: u64,
}

/// Writes rows as a Parquet file: buffers one row group (at most `rows_per_group` rows or about
/// 64 MiB of values, whichever comes first), writes it out, and the footer at `finish`.
///
/// The sink receives large writes; a file dropped without [`ParquetWriter::finish`] has no
/// footer and is not readable. After an error of the sink, every later call fails.
pub struct ParquetWriter<W: Write> {
    out: W,
    columns: Vec<Column>,
    rows_per_group: usize,
    byte_limit: usize,
    bufs: Vec<ColumnBuf>,
    /// Rows in the current row group.
    group_rows: usize,
    /// Estimated bytes buffered for the current row group.
    group_bytes: usize,
    groups: Vec<GroupMeta>,
    total_rows: u64,
    /// Bytes written to `out` so far.
    pos: u64,
    /// Scratch space for encoded definition levels.
    levels: Vec<u8>,
    /// Set when writing to `out` failed: the file is then beyond repair.
    failed: bool,
}

impl<W: Write> ParquetWriter<W> {
    /// Starts a file on `out` (writes the leading magic bytes) with the given columns, in order.
    ///
    /// A row group holds at most `rows_per_group` rows (values above `i32::MAX` count as
    /// `i32::MAX`, the most a page can hold). Errors (`InvalidInput`) when `columns` is empty
    /// or has an empty or repeated name, or when `rows_per_group` is 0.
    pub fn new(mut out: W, columns: Vec<Column>, rows_per_group: usize) -> io::Result<Self> {
        if columns.is_empty() {
            return Err(invalid(
                "a Parquet schema needs at least one column".to_string(),
            ));
        }
        if rows_per_group == 0 {
            return Err(invalid("rows per row group must be at least 1".to_string()));
        }
        for (i, column) in columns.iter().enumerate() {
            if column.name.is_empty() {
                return Err(invalid(format!("column {i} has an empty name")));
            }
            if columns[..i].iter().any(|c| c.name == column.name) {
                return Err(invalid(format!(
                    "column name `{}` appears twice in the schema",
                    column.name
                )));
            }
        }
        out.write_all(MAGIC)?;
        let bufs = columns.iter().map(|_| ColumnBuf::default()).collect();
        Ok(ParquetWriter {
            out,
            columns,
            rows_per_group: rows_per_group.min(i32::MAX as usize),
            byte_limit: GROUP_BYTE_LIMIT,
            bufs,
            group_rows: 0,
            group_bytes: 0,
            groups: Vec::new(),
            total_rows: 0,
            pos: MAGIC.len() as u64,
            levels: Vec::new(),
            failed: false,
        })
    }

    /// Adds one row, with one value per column in schema order, and writes out the row group
    /// when it is full.
    ///
    /// Errors (`InvalidInput`, and the row is not added) when the row does not match the
    /// schema: a wrong number of values, `Null` in a required column, `Bytes` in an integer
    /// column, `Int` in a byte-string column, bytes that are not valid UTF-8 in a `Utf8`
    /// column, or a byte string longer than a page can hold. Errors of the sink are returned
    /// as they are.
    pub fn write_row(&mut self, row: &[Value<'_>]) -> io::Result<()> {
        self.check_usable()?;
        let row_bytes = self.check_row(row)?;
        if self.group_rows > 0 && self.group_bytes.saturating_add(row_bytes) > self.byte_limit {
            self.flush_group()?;
        }
        for ((column, buf), value) in self.columns.iter().zip(&mut self.bufs).zip(row) {
            match *value {
                Value::Int(v) => buf.values.extend_from_slice(&v.to_le_bytes()),
                Value::Bytes(b) => {
                    // `check_row` bounded the length by `MAX_VALUE_LEN`.
                    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
                    buf.values.extend_from_slice(&len.to_le_bytes());
                    buf.values.extend_from_slice(b);
                }
                Value::Null => {}
            }
            if column.ty.optional() {
                buf.defined.push(*value != Value::Null);
            }
        }
        self.group_rows += 1;
        self.group_bytes = self.group_bytes.saturating_add(row_bytes);
        self.total_rows += 1;
        if self.group_rows >= self.rows_per_group || self.group_bytes >= self.byte_limit {
            self.flush_group()?;
        }
        Ok(())
    }

    /// Writes the last row group and the footer; returns the writer. A file with no row is
    /// still valid (zero row groups).
    pub fn finish(mut self) -> io::Result<W> {
        self.check_usable()?;
        self.flush_group()?;
        let meta = self.file_metadata()?;
        let len = u32::try_from(meta.len())
            .map_err(|_| invalid("the Parquet footer exceeds 4 GiB".to_string()))?;
        self.out.write_all(&meta)?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(MAGIC)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Errors when an earlier write to the sink failed.
    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "the Parquet file is incomplete: an earlier write failed",
            ));
        }
        Ok(())
    }

    /// Checks a row against the schema; returns its estimated size in the row group buffer.
    fn check_row(&self, row: &[Value<'_>]) -> io::Result<usize> {
        if row.len() != self.columns.len() {
            return Err(invalid(format!(
                "a row has {} values, the Parquet schema {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        let mut bytes = 0usize;
        for (column, value) in self.columns.iter().zip(row) {
            let size = match (column.ty, *value) {
                (ColumnType::Int64 | ColumnType::OptionalInt64, Value::Int(_)) => 8,
                (ColumnType::OptionalInt64, Value::Null) => 1,
                (ColumnType::Utf8 | ColumnType::Binary, Value::Bytes(b)) => {
                    if b.len() > MAX_VALUE_LEN {
                        return Err(invalid(format!(
                            "column `{}`: a value of {} bytes exceeds the {MAX_VALUE_LEN} a \
                             Parquet page can hold",
                            column.name,
                            b.len()
                        )));
                    }
                    if column.ty == ColumnType::Utf8 && std::str::from_utf8(b).is_err() {
                        return Err(invalid(format!(
                            "column `{}`: the value is not valid UTF-8",
                            column.name
                        )));
                    }
                    4 + b.len()
                }
                (_, Value::Null) => {
                    return Err(invalid(format!(
                        "column `{}`: null in a required column",
                        column.name
                    )))
                }
                (ColumnType::Int64 | ColumnType::OptionalInt64, Value::Bytes(_)) => {
                    return Err(invalid(format!(
                        "column `{}`: a byte string in an integer column",
                        column.name
                    )))
                }
                (ColumnType::Utf8 | ColumnType::Binary, Value::Int(_)) => {
                    return Err(invalid(format!(
                        "column `{}`: an integer in a byte-string column",
                        column.name
                    )))
                }
            };
            bytes = bytes.saturating_add(size);
        }
        Ok(bytes)
    }

    /// Writes out the current row group, if it has any row.
    fn flush_group(&mut self) -> io::Result<()> {
        if self.group_rows == 0 {
            return Ok(());
        }
        let result = self.write_group();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// Writes the buffered columns as one column chunk each and records where they went.
    fn write_group(&mut self) -> io::Result<()> {
        let num_values = i32::try_from(self.group_rows)
            .map_err(|_| invalid("too many rows in a Parquet row group".to_string()))?;
        let mut chunks = Vec::with_capacity(self.columns.len());
        for (column, buf) in self.columns.iter().zip(&mut self.bufs) {
            let chunk = write_chunk(
                &mut self.out,
                &mut self.pos,
                column.ty,
                buf,
                num_values,
                &mut self.levels,
            )?;
            chunks.push(chunk);
            buf.values.clear();
            buf.defined.clear();
            // A huge value must not keep its allocation for the rest of the file.
            if buf.values.capacity() > self.byte_limit {
                buf.values = Vec::new();
            }
        }
        self.groups.push(GroupMeta {
            chunks,
            num_rows: self.group_rows as u64,
        });
        self.group_rows = 0;
        self.group_bytes = 0;
        Ok(())
    }

    /// Encodes the footer's FileMetaData.
    fn file_metadata(&self) -> io::Result<Vec<u8>> {
        let mut c = Compact::new();
        c.i32_field(1, FORMAT_VERSION);

        // The schema: a root with one child per column.
        c.list_field(2, CT_STRUCT, 1 + self.columns.len());
        c.begin_struct();
        c.binary_field(4, b"schema");
        c.i32_field(5, list_len(self.columns.len())?);
        c.end_struct();
        for column in &self.columns {
            c.begin_struct();
            c.i32_field(1, column.ty.physical());
            let repetition = if column.ty.optional() {
                REPETITION_OPTIONAL
            } else {
                REPETITION_REQUIRED
            };
            c.i32_field(3, repetition);
            c.binary_field(4, column.name.as_bytes());
            if column.ty == ColumnType::Utf8 {
                c.i32_field(6, CONVERTED_UTF8);
                // LogicalType, the union member STRING (field 1): an empty struct.
                c.begin_struct_field(10);
                c.begin_struct_field(1);
                c.end_struct();
                c.end_struct();
            }
            c.end_struct();
        }

        c.i64_field(3, to_i64(self.total_rows)?);

        c.list_field(4, CT_STRUCT, self.groups.len());
        for group in &self.groups {
            c.begin_struct();
            c.list_field(1, CT_STRUCT, group.chunks.len());
            let mut group_size = 0u64;
            for (column, chunk) in self.columns.iter().zip(&group.chunks) {
                let offset = to_i64(chunk.offset)?;
                let size = to_i64(chunk.size)?;
                group_size = group_size.saturating_add(chunk.size);
                c.begin_struct();
                c.i64_field(2, offset);
                c.begin_struct_field(3);
                c.i32_field(1, column.ty.physical());
                c.list_field(2, CT_I32, 2);
                c.i32_elem(ENCODING_PLAIN);
                c.i32_elem(ENCODING_RLE);
                c.list_field(3, CT_BINARY, 1);
                c.binary_elem(column.name.as_bytes());
                c.i32_field(4, CODEC_UNCOMPRESSED);
                c.i64_field(5, to_i64(group.num_rows)?);
                c.i64_field(6, size);
                c.i64_field(7, size);
                c.i64_field(9, offset);
                c.end_struct();
                c.end_struct();
            }
            let group_size = to_i64(group_size)?;
            c.i64_field(2, group_size);
            c.i64_field(3, to_i64(group.num_rows)?);
            if let Some(first) = group.chunks.first() {
                c.i64_field(5, to_i64(first.offset)?);
            }
            c.i64_field(6, group_size);
            c.end_struct();
        }

        c.binary_field(6, CREATED_BY.as_bytes());
        Ok(c.finish())
    }
}

/// Writes one column chunk: a v1 data page header, then the page (definition levels of an
/// optional column, then the PLAIN values). Advances `pos` by what it wrote.
fn write_chunk<W: Write>(
    out: &mut W,
    pos: &mut u64,
    ty: ColumnType,
    buf: &ColumnBuf,
    num_values: i32,
    levels: &mut Vec<u8>,
) -> io::Result<ChunkMeta> {
    levels.clear();
    if ty.optional() {
        encode_levels(&buf.defined, levels)?;
    }
    let page_size = levels
        .len()
        .checked_add(buf.values.len())
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| invalid("a Parquet page exceeds 2 GiB".to_string()))?;

    let mut c = Compact::new();
    c.i32_field(1, PAGE_DATA);
    c.i32_field(2, page_size);
    c.i32_field(3, page_size);
    c.begin_struct_field(5);
    c.i32_field(1, num_values);
    c.i32_field(2, ENCODING_PLAIN);
    c.i32_field(3, ENCODING_RLE);
    c.i32_field(4, ENCODING_RLE);
    c.end_struct();
    let header = c.finish();

    out.write_all(&header)?;
    out.write_all(levels)?;
    out.write_all(&buf.values)?;
    let offset = *pos;
    let size = header.len() as u64 + page_size as u64;
    *pos += size;
    Ok(ChunkMeta { offset, size })
}

/// Encodes definition levels of bit width 1 (true for a value, false for a null) as the
/// RLE/bit-packed hybrid, after the 4-byte little-endian length a v1 data page puts first.
///
/// A run of at least 8 equal levels, or the equal levels that end the page, make an RLE run;
/// anything else is bit-packed by groups of 8, the last group padded with zeros.
fn encode_levels(defined: &[bool], out: &mut Vec<u8>) -> io::Result<()> {
    let start_len = out.len();
    out.extend_from_slice(&[0; 4]);
    let n = defined.len();
    let mut start = 0;
    while start < n {
        let first = defined[start];
        let run = defined[start..].iter().take_while(|&&d| d == first).count();
        if run >= 8 || start + run == n {
            write_varint(out, (run as u64) << 1);
            out.push(u8::from(first));
            start += run;
            continue;
        }
        // Bit-pack groups of 8 until a long run starts or the levels end.
        let mut end = start;
        let mut groups = 0;
        loop {
            end = (end + 8).min(n);
            groups += 1;
            if end == n || groups == MAX_BIT_PACKED_GROUPS {
                break;
            }
            let next = defined[end];
            let next_run = defined[end..]
                .iter()
                .take(8)
                .take_while(|&&d| d == next)
                .count();
            if next_run >= 8 {
                break;
            }
        }
        write_varint(out, ((groups as u64) << 1) | 1);
        for group in defined[start..end].chunks(8) {
            let byte = group
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, &d)| acc | (u8::from(d) << i));
            out.push(byte);
        }
        start = end;
    }
    let len = u32::try_from(out.len() - start_len - 4)
        .map_err(|_| invalid("Parquet definition levels exceed 4 GiB".to_string()))?;
    out[start_len..start_len + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// A Thrift compact protocol encoder for one top-level struct.
struct Compact {
    buf: Vec<u8>,
    /// The id of the last field written in the current struct.
    last_field: i16,
    /// The `last_field` of the enclosing structs.
    stack: Vec<i16>,
}

impl Compact {
    fn new() -> Self {
        Compact {
            buf: Vec::new(),
            last_field: 0,
            stack: Vec::new(),
        }
    }

    /// Ends the top-level struct and returns its bytes.
    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0);
        self.buf
    }

    /// A field header: the id as a delta from the previous field's when it is 1 to 15, else
    /// in full after the type.
    fn field(&mut self, id: i16, ty: u8) {
        let delta = i32::from(id) - i32::from(self.last_field);
        if (1..=15).contains(&delta) {
            self.buf.push(((delta as u8) << 4) | ty);
        } else {
            self.buf.push(ty);
            write_varint(&mut self.buf, zigzag32(i32::from(id)));
        }
        self.last_field = id;
    }

    fn i32_field(&mut self, id: i16, v: i32) {
        self.field(id, CT_I32);
        self.i32_elem(v);
    }

    fn i64_field(&mut self, id: i16, v: i64) {
        self.field(id, CT_I64);
        write_varint(&mut self.buf, zigzag64(v));
    }

    fn binary_field(&mut self, id: i16, b: &[u8]) {
        self.field(id, CT_BINARY);
        self.binary_elem(b);
    }

    /// A list field's header; its `len` elements follow.
    fn list_field(&mut self, id: i16, elem_ty: u8, len: usize) {
        self.field(id, CT_LIST);
        if len < 15 {
            self.buf.push(((len as u8) << 4) | elem_ty);
        } else {
            self.buf.push(0xf0 | elem_ty);
            write_varint(&mut self.buf, len as u64);
        }
    }

    /// A struct field: its fields follow, then [`Compact::end_struct`].
    fn begin_struct_field(&mut self, id: i16) {
        self.field(id, CT_STRUCT);
        self.begin_struct();
    }

    /// A struct (a list element, or after a struct field header).
    fn begin_struct(&mut self) {
        self.stack.push(self.last_field);
        self.last_field = 0;
    }

    fn end_struct(&mut self) {
        self.buf.push(0);
        self.last_field = self.stack.pop().unwrap_or(0);
    }

    fn i32_elem(&mut self, v: i32) {
        write_varint(&mut self.buf, zigzag32(v));
    }

    fn binary_elem(&mut self, b: &[u8]) {
        write_varint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
    }
}

/// ZigZag encoding of a 32-bit integer: small magnitudes give small numbers.
fn zigzag32(v: i32) -> u64 {
    u64::from((v.wrapping_shl(1) ^ (v >> 31)) as u32)
}

/// ZigZag encoding of a 64-bit integer.
fn zigzag64(v: i64) -> u64 {
    (v.wrapping_shl(1) ^ (v >> 63)) as u64
}

/// ULEB128: 7 bits a byte, low bits first, the high bit set on all bytes but the last.
fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A count as the `i32` Thrift wants.
fn list_len(n: usize) -> io::Result<i32> {
    i32::try_from(n).map_err(|_| invalid("too many Parquet columns".to_string()))
}

/// An offset or size as the `i64` Thrift wants.
fn to_i64(v: u64) -> io::Result<i64> {
    i64::try_from(v).map_err(|_| invalid("a Parquet offset or size exceeds i64".to_string()))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoded Thrift compact value.
    #[derive(Debug, Clone, PartialEq)]
    enum T {
        Bool(bool),
        Int(i64),
        Bin(Vec<u8>),
        List(Vec<T>),
        Struct(Vec<(i16, T)>),
    }

    impl T {
        fn get(&self, id: i16) -> Option<&T> {
            match self {
                T::Struct(fields) => fields.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
                _ => panic!("not a struct: {self:?}"),
            }
        }
        fn field(&self, id: i16) -> &T {
            self.get(id)
                .unwrap_or_else(|| panic!("no field {id} in {self:?}"))
        }
        fn int(&self) -> i64 {
            match self {
                T::Int(v) => *v,
                _ => panic!("not an integer: {self:?}"),
            }
        }
        fn bin(&self) -> &[u8] {
            match self {
                T::Bin(v) => v,
                _ => panic!("not binary: {self:?}"),
            }
        }
        fn list(&self) -> &[T] {
            match self {
                T::List(v) => v,
                _ => panic!("not a list: {self:?}"),
            }
        }
    }

    /// A Thrift compact decoder, for checking what the writer wrote.
    struct Reader<'a> {
        b: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn new(b: &'a [u8]) -> Self {
            Reader { b, pos: 0 }
        }
        fn byte(&mut self) -> u8 {
            let v = self.b[self.pos];
            self.pos += 1;
            v
        }
        fn varint(&mut self) -> u64 {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let b = self.byte();
                v |= u64::from(b & 0x7f) << shift;
                if b < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        fn zigzag(&mut self) -> i64 {
            let v = self.varint();
            ((v >> 1) as i64) ^ -((v & 1) as i64)
        }
        fn value(&mut self, ty: u8) -> T {
            match ty {
                1 => T::Bool(true),
                2 => T::Bool(false),
                3 => T::Int(i64::from(self.byte() as i8)),
                4..=6 => T::Int(self.zigzag()),
                8 => {
                    let len = self.varint() as usize;
                    let v = self.b[self.pos..self.pos + len].to_vec();
                    self.pos += len;
                    T::Bin(v)
                }
                9 | 10 => {
                    let h = self.byte();
                    let mut len = usize::from(h >> 4);
                    if len == 15 {
                        len = self.varint() as usize;
                    }
                    T::List((0..len).map(|_| self.value(h & 0x0f)).collect())
                }
                12 => self.structure(),
                _ => panic!("unexpected Thrift type {ty}"),
            }
        }
        fn structure(&mut self) -> T {
            let mut fields = Vec::new();
            let mut last = 0i16;
            loop {
                let h = self.byte();
                if h == 0 {
                    return T::Struct(fields);
                }
                let delta = i16::from(h >> 4);
                let id = if delta == 0 {
                    self.zigzag() as i16
                } else {
                    last + delta
                };
                last = id;
                fields.push((id, self.value(h & 0x0f)));
            }
        }
    }

    /// A cell as read back from the file.
    #[derive(Debug, Clone, PartialEq)]
    enum Cell {
        Int(i64),
        Null,
        Bytes(Vec<u8>),
    }

    impl From<Value<'_>> for Cell {
        fn from(v: Value<'_>) -> Cell {
            match v {
                Value::Int(i) => Cell::Int(i),
                Value::Null => Cell::Null,
                Value::Bytes(b) => Cell::Bytes(b.to_vec()),
            }
        }
    }

    /// Checks both magics and returns the decoded FileMetaData.
    fn footer(file: &[u8]) -> T {
        assert!(file.len() >= 12);
        assert_eq!(&file[..4], b"PAR1");
        assert_eq!(&file[file.len() - 4..], b"PAR1");
        let len_at = file.len() - 8;
        let len = u32::from_le_bytes(file[len_at..len_at + 4].try_into().unwrap()) as usize;
        let start = len_at - len;
        let mut r = Reader::new(&file[start..len_at]);
        let meta = r.structure();
        assert_eq!(r.pos, len, "the footer length covers exactly FileMetaData");
        meta
    }

    /// Decodes RLE/bit-packed hybrid levels of bit width 1.
    fn decode_levels(b: &[u8], n: usize) -> Vec<bool> {
        let mut r = Reader::new(b);
        let mut out = Vec::new();
        while out.len() < n {
            let h = r.varint();
            if h & 1 == 0 {
                let v = r.byte();
                assert!(v <= 1);
                out.extend(std::iter::repeat_n(v == 1, (h >> 1) as usize));
            } else {
                for _ in 0..(h >> 1) {
                    let byte = r.byte();
                    out.extend((0..8).map(|i| byte >> i & 1 == 1));
                }
            }
        }
        assert_eq!(r.pos, b.len(), "levels fully consumed");
        out.truncate(n);
        out
    }

    /// Reads every row of a file written by the writer, checking the metadata on the way.
    fn read_all(file: &[u8], columns: &[Column]) -> Vec<Vec<Cell>> {
        let meta = footer(file);
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        let mut expected_offset = 4;
        for group in meta.field(4).list() {
            let num_rows = group.field(3).int() as usize;
            let mut cols: Vec<Vec<Cell>> = Vec::new();
            let mut group_size = 0;
            for (chunk, column) in group.field(1).list().iter().zip(columns) {
                let md = chunk.field(3);
                assert_eq!(md.field(1).int(), i64::from(column.ty.physical()));
                assert_eq!(md.field(3).list()[0].bin(), column.name.as_bytes());
                assert_eq!(md.field(5).int() as usize, num_rows);
                let offset = md.field(9).int() as usize;
                assert_eq!(offset, expected_offset, "chunks are contiguous");
                assert_eq!(chunk.field(2).int() as usize, offset);
                let size = md.field(6).int() as usize;
                assert_eq!(md.field(7).int() as usize, size);
                expected_offset += size;
                group_size += size;

                let mut r = Reader::new(&file[offset..offset + size]);
                let header = r.structure();
                assert_eq!(header.field(1).int(), 0);
                let page_size = header.field(3).int() as usize;
                assert_eq!(r.pos + page_size, size);
                let dp = header.field(5);
                assert_eq!(dp.field(1).int() as usize, num_rows);
                let mut page = &file[offset + r.pos..offset + size];
                let defined = if column.ty.optional() {
                    let len = u32::from_le_bytes(page[..4].try_into().unwrap()) as usize;
                    let levels = decode_levels(&page[4..4 + len], num_rows);
                    page = &page[4 + len..];
                    levels
                } else {
                    vec![true; num_rows]
                };
                let mut cells = Vec::new();
                for d in defined {
                    if !d {
                        cells.push(Cell::Null);
                    } else if column.ty.physical() == TYPE_INT64 {
                        cells.push(Cell::Int(i64::from_le_bytes(page[..8].try_into().unwrap())));
                        page = &page[8..];
                    } else {
                        let len = u32::from_le_bytes(page[..4].try_into().unwrap()) as usize;
                        cells.push(Cell::Bytes(page[4..4 + len].to_vec()));
                        page = &page[4 + len..];
                    }
                }
                assert!(page.is_empty(), "page fully consumed");
                cols.push(cells);
            }
            assert_eq!(group.field(2).int() as usize, group_size);
            for i in 0..num_rows {
                rows.push(cols.iter().map(|c| c[i].clone()).collect());
            }
        }
        assert_eq!(meta.field(3).int() as usize, rows.len());
        assert_eq!(expected_offset, file.len() - 8 - footer_len(file));
        rows
    }

    fn footer_len(file: &[u8]) -> usize {
        let at = file.len() - 8;
        u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize
    }

    fn schema() -> Vec<Column> {
        vec![
            Column {
                name: "db",
                ty: ColumnType::Int64,
            },
            Column {
                name: "key",
                ty: ColumnType::Binary,
            },
            Column {
                name: "type",
                ty: ColumnType::Utf8,
            },
            Column {
                name: "expire_at_ms",
                ty: ColumnType::OptionalInt64,
            },
        ]
    }

    #[test]
    fn zigzag_and_varint() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MAX), 0xffff_fffe);
        assert_eq!(zigzag32(i32::MIN), 0xffff_ffff);
        assert_eq!(zigzag64(0), 0);
        assert_eq!(zigzag64(-1), 1);
        assert_eq!(zigzag64(63), 126);
        assert_eq!(zigzag64(-64), 127);
        assert_eq!(zigzag64(i64::MAX), u64::MAX - 1);
        assert_eq!(zigzag64(i64::MIN), u64::MAX);

        let enc = |v: u64| {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            assert_eq!(Reader::new(&enc(v)).varint(), v);
        }
        for v in [0, 1, -1, 1000, -1000, i64::MIN, i64::MAX] {
            assert_eq!(Reader::new(&enc(zigzag64(v))).zigzag(), v);
        }
    }

    #[test]
    fn compact_field_headers_and_lists() {
        let mut c = Compact::new();
        c.i32_field(1, 5);
        c.i64_field(3, -1);
        c.binary_field(20, b"ab");
        c.i32_field(4, 0);
        c.list_field(5, CT_I32, 20);
        for i in 0..20 {
            c.i32_elem(i);
        }
        c.begin_struct_field(6);
        c.i32_field(1, 7);
        c.end_struct();
        c.i32_field(7, 1);
        let bytes = c.finish();
        // Short form: delta 1, type i32; long form for field 20 (delta 17) and 4 (delta < 0).
        assert_eq!(&bytes[..2], [0x15, 0x0a]);
        assert_eq!(&bytes[2..4], [0x26, 0x01]);
        assert_eq!(&bytes[4..9], [0x08, 0x28, 0x02, b'a', b'b']);
        assert_eq!(&bytes[9..12], [0x05, 0x08, 0x00]);
        let t = Reader::new(&bytes).structure();
        assert_eq!(t.field(1).int(), 5);
        assert_eq!(t.field(3).int(), -1);
        assert_eq!(t.field(20).bin(), b"ab");
        assert_eq!(t.field(4).int(), 0);
        let list: Vec<i64> = t.field(5).list().iter().map(T::int).collect();
        assert_eq!(list, (0..20).collect::<Vec<_>>());
        assert_eq!(t.field(6).field(1).int(), 7);
        assert_eq!(
            t.field(7).int(),
            1,
            "the field after a struct continues from 6"
        );
    }

    #[test]
    fn empty_file() {
        let w = ParquetWriter::new(Vec::new(), schema(), 10).unwrap();
        let file = w.finish().unwrap();
        assert_eq!(&file[..4], b"PAR1");
        assert_eq!(&file[file.len() - 4..], b"PAR1");
        assert_eq!(footer_len(&file), file.len() - 12);
        let meta = footer(&file);
        assert_eq!(meta.field(1).int(), 1);
        assert_eq!(meta.field(3).int(), 0);
        assert!(meta.field(4).list().is_empty());
        assert_eq!(meta.field(6).bin(), b"redkit");
        let schema_list = meta.field(2).list();
        assert_eq!(schema_list.len(), 5);
        assert_eq!(schema_list[0].field(5).int(), 4);
        assert!(schema_list[0].get(1).is_none());
        let ty = &schema_list[3];
        assert_eq!(ty.field(4).bin(), b"type");
        assert_eq!(ty.field(1).int(), 6);
        assert_eq!(ty.field(3).int(), 0);
        assert_eq!(ty.field(6).int(), 0);
        assert_eq!(ty.field(10), &T::Struct(vec![(1, T::Struct(vec![]))]));
        let key = &schema_list[2];
        assert!(key.get(6).is_none() && key.get(10).is_none());
        assert_eq!(schema_list[4].field(3).int(), 1);
        assert_eq!(read_all(&file, &schema()), Vec::<Vec<Cell>>::new());
    }

    #[test]
    fn row_counts_and_groups() {
        let mut w = ParquetWriter::new(Vec::new(), schema(), 4).unwrap();
        let mut expected = Vec::new();
        for i in 0..10i64 {
            let key = format!("key:{i}");
            let row = [
                Value::Int(i % 3),
                Value::Bytes(key.as_bytes()),
                Value::Bytes(b"string"),
                if i % 2 == 0 {
                    Value::Int(-i)
                } else {
                    Value::Null
                },
            ];
            w.write_row(&row).unwrap();
            expected.push(row.iter().map(|&v| Cell::from(v)).collect::<Vec<_>>());
        }
        let file = w.finish().unwrap();
        let meta = footer(&file);
        assert_eq!(meta.field(3).int(), 10);
        let counts: Vec<i64> = meta
            .field(4)
            .list()
            .iter()
            .map(|g| g.field(3).int())
            .collect();
        assert_eq!(counts, [4, 4, 2]);
        assert_eq!(read_all(&file, &schema()), expected);
    }

    #[test]
    fn full_group_is_not_followed_by_an_empty_one() {
        let cols = vec![Column {
            name: "n",
            ty: ColumnType::Int64,
        }];
        let mut w = ParquetWriter::new(Vec::new(), cols.clone(), 3).unwrap();
        for i in 0..6 {
            w.write_row(&[Value::Int(i)]).unwrap();
        }
        let file = w.finish().unwrap();
        let meta = footer(&file);
        assert_eq!(meta.field(4).list().len(), 2);
        let rows = read_all(&file, &cols);
        assert_eq!(rows, (0..6).map(|i| vec![Cell::Int(i)]).collect::<Vec<_>>());
    }

    #[test]
    fn schema_mismatch_errors() {
        let mut w = ParquetWriter::new(Vec::new(), schema(), 100).unwrap();
        let good = [
            Value::Int(0),
            Value::Bytes(b"k"),
            Value::Bytes(b"string"),
            Value::Null,
        ];
        let bad: [&[Value<'_>]; 8] = [
            &good[..3],
            &[good[0], good[1], good[2], good[3], Value::Null],
            &[],
            &[Value::Null, good[1], good[2], good[3]],
            &[Value::Bytes(b"1"), good[1], good[2], good[3]],
            &[good[0], Value::Int(1), good[2], good[3]],
            &[good[0], good[1], Value::Bytes(b"\xff\xfe"), good[3]],
            &[good[0], good[1], Value::Null, good[3]],
        ];
        for row in bad {
            let err = w.write_row(row).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{row:?}");
        }
        let optional_bytes = [good[0], good[1], good[2], Value::Bytes(b"1")];
        assert!(w.write_row(&optional_bytes).is_err());
        // Rejected rows leave nothing behind.
        w.write_row(&good).unwrap();
        let file = w.finish().unwrap();
        let expected = vec![good.iter().map(|&v| Cell::from(v)).collect::<Vec<_>>()];
        assert_eq!(read_all(&file, &schema()), expected);
    }

    #[test]
    fn invalid_schemas() {
        let col = |name| Column {
            name,
            ty: ColumnType::Int64,
        };
        let err = |r: io::Result<ParquetWriter<Vec<u8>>>| r.err().map(|e| e.kind());
        let invalid = Some(io::ErrorKind::InvalidInput);
        assert_eq!(err(ParquetWriter::new(Vec::new(), vec![], 10)), invalid);
        assert_eq!(
            err(ParquetWriter::new(Vec::new(), vec![col("a")], 0)),
            invalid
        );
        assert_eq!(
            err(ParquetWriter::new(Vec::new(), vec![col("")], 1)),
            invalid
        );
        let dup = vec![col("a"), col("b"), col("a")];
        assert_eq!(err(ParquetWriter::new(Vec::new(), dup, 1)), invalid);
        assert!(ParquetWriter::new(Vec::new(), vec![col("a")], usize::MAX).is_ok());
    }

    #[test]
    fn definition_levels_round_trip() {
        let patterns: Vec<Vec<bool>> = vec![
            vec![],
            vec![true],
            vec![false],
            vec![true; 7],
            vec![true; 8],
            vec![false; 1000],
            (0..1000).map(|i| i % 2 == 0).collect(),
            (0..1001).map(|i| i % 3 != 0).collect(),
            (0..5000).map(|i| (i / 13) % 2 == 0).collect(),
            (0..3000)
                .map(|i| i % 700 < 5 || (i * 7919) % 11 == 0)
                .collect(),
            (0..777)
                .map(|i| if i < 500 { i % 2 == 0 } else { true })
                .collect(),
        ];
        for p in patterns {
            let mut out = Vec::new();
            encode_levels(&p, &mut out).unwrap();
            let len = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
            assert_eq!(len, out.len() - 4);
            assert_eq!(decode_levels(&out[4..], p.len()), p);
        }
        // All present: one RLE run.
        let mut out = Vec::new();
        encode_levels(&[true; 65536], &mut out).unwrap();
        assert_eq!(out, [4, 0, 0, 0, 0x80, 0x80, 0x08, 1]);
    }

    #[test]
    fn values_of_every_kind_round_trip() {
        let cols = vec![
            Column {
                name: "i",
                ty: ColumnType::Int64,
            },
            Column {
                name: "o",
                ty: ColumnType::OptionalInt64,
            },
            Column {
                name: "s",
                ty: ColumnType::Utf8,
            },
            Column {
                name: "b",
                ty: ColumnType::Binary,
            },
        ];
        let long = "é".repeat(50_000);
        let ints = [0, 1, -1, i64::MIN, i64::MAX];
        let strs: [&[u8]; 4] = [b"", "日本".as_bytes(), long.as_bytes(), b"x"];
        let bins: [&[u8]; 4] = [b"", b"\xff\x00\x80", long.as_bytes(), b"\0"];
        let mut w = ParquetWriter::new(Vec::new(), cols.clone(), 7).unwrap();
        let mut expected = Vec::new();
        for i in 0..100usize {
            let row = [
                Value::Int(ints[i % ints.len()]),
                if i % 4 == 1 || i >= 90 {
                    Value::Null
                } else {
                    Value::Int(ints[(i + 2) % ints.len()])
                },
                Value::Bytes(strs[i % strs.len()]),
                Value::Bytes(bins[(i + 1) % bins.len()]),
            ];
            w.write_row(&row).unwrap();
            expected.push(row.iter().map(|&v| Cell::from(v)).collect::<Vec<_>>());
        }
        let file = w.finish().unwrap();
        assert_eq!(read_all(&file, &cols), expected);
    }

    #[test]
    fn byte_limit_closes_row_groups() {
        let cols = vec![Column {
            name: "b",
            ty: ColumnType::Binary,
        }];
        let mut w = ParquetWriter::new(Vec::new(), cols.clone(), 1000).unwrap();
        w.byte_limit = 100;
        let mut expected = Vec::new();
        let big = vec![7u8; 250];
        for i in 0..20usize {
            let v: &[u8] = if i == 10 { &big } else { b"0123456789012345" };
            w.write_row(&[Value::Bytes(v)]).unwrap();
            expected.push(vec![Cell::Bytes(v.to_vec())]);
        }
        let file = w.finish().unwrap();
        let meta = footer(&file);
        let counts: Vec<i64> = meta
            .field(4)
            .list()
            .iter()
            .map(|g| g.field(3).int())
            .collect();
        // 20 bytes a row: 5 rows reach 100 bytes; the big row stands alone.
        assert_eq!(counts, [5, 5, 1, 5, 4]);
        assert_eq!(read_all(&file, &cols), expected);
    }

    /// A sink that fails after a number of bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sink_errors_are_returned_and_sticky() {
        assert!(ParquetWriter::new(Failing { left: 2 }, schema(), 2).is_err());
        let mut w = ParquetWriter::new(Failing { left: 10 }, schema(), 2).unwrap();
        let row = [
            Value::Int(1),
            Value::Bytes(b"k"),
            Value::Bytes(b"s"),
            Value::Int(5),
        ];
        w.write_row(&row).unwrap();
        assert_eq!(w.write_row(&row).unwrap_err().to_string(), "disk full");
        assert!(w.write_row(&row).is_err());
        assert!(w.finish().is_err());

        let mut w = ParquetWriter::new(Failing { left: 4 }, schema(), 2).unwrap();
        w.write_row(&row).unwrap();
        assert!(w.finish().is_err());
    }
}
