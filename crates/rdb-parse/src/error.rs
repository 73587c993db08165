//! Errors with the byte offset at which they were found.

use std::fmt;
use std::io;

/// An error found while reading an RDB file, with the absolute byte offset where it was found.
#[derive(Debug)]
pub struct Error {
    offset: u64,
    kind: ErrorKind,
}

/// What went wrong.
///
/// `UnexpectedEof` (the input ended early: a truncated file) is kept apart from every kind of
/// corruption, so callers can tell the two apart.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended while `needed` more bytes were expected for `what`.
    UnexpectedEof {
        /// What was being read.
        what: &'static str,
    },
    /// The first bytes are not `REDIS` or `VALKEY` followed by a version number.
    BadMagic {
        /// The first bytes of the file, as read.
        found: Vec<u8>,
    },
    /// A version this parser does not know how to read.
    UnsupportedVersion {
        /// The magic family (`REDIS` or `VALKEY`).
        family: &'static str,
        /// The version number.
        version: u32,
    },
    /// A byte where an opcode or an object type was expected, that is neither.
    UnknownType {
        /// The byte.
        byte: u8,
    },
    /// A length field with an invalid prefix.
    BadLength {
        /// The first byte of the length.
        byte: u8,
    },
    /// A string encoding byte (`11xxxxxx`) that is not INT8/16/32 or LZF.
    BadStringEncoding {
        /// The encoding byte.
        byte: u8,
    },
    /// A length or count beyond what the configured [`Limits`](crate::Limits) allow.
    LimitExceeded {
        /// What the number counts.
        what: &'static str,
        /// The number found in the file.
        value: u64,
        /// The configured limit.
        limit: u64,
    },
    /// LZF data that does not decompress to exactly the declared length.
    Lzf {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stored CRC64 does not match the one computed over the file.
    ChecksumMismatch {
        /// The value stored after the EOF opcode.
        stored: u64,
        /// The value computed over the bytes read.
        computed: u64,
    },
    /// A structural rule of the format is broken.
    Corrupt {
        /// What rule, in words.
        reason: String,
    },
    /// A feature of the format that this parser recognises but cannot read.
    Unsupported {
        /// What it is.
        what: String,
    },
    /// Reading the input failed.
    Io(io::Error),
    /// A blob checked on a second thread failed its check
    /// ([`Parser::check_blobs_aside`](crate::Parser::check_blobs_aside)); this names no fault:
    /// read the input again without that option to learn it.
    AsideFault,
}

impl Error {
    /// Creates an error at `offset`.
    pub fn new(offset: u64, kind: ErrorKind) -> Error {
        Error { offset, kind }
    }

    /// A corruption error with a free-form reason.
    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> Error {
        Error::new(
            offset,
            ErrorKind::Corrupt {
                reason: reason.into(),
            },
        )
    }

    /// Absolute byte offset in the input where the problem was found.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the input ended early (a truncated file), as opposed to corrupt content.
    pub fn is_truncation(&self) -> bool {
        matches!(self.kind, ErrorKind::UnexpectedEof { .. })
    }

    /// True when a blob checked on a second thread failed: the input must be read again
    /// without [`Parser::check_blobs_aside`](crate::Parser::check_blobs_aside) to learn the
    /// fault.
    pub fn is_aside_fault(&self) -> bool {
        matches!(self.kind, ErrorKind::AsideFault)
    }

    /// True when reading the input itself failed (not a problem of the content).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ErrorKind::Io(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEof { what } => {
                write!(
                    f,
                    "unexpected end of file while reading {what} (file is truncated)"
                )
            }
            ErrorKind::BadMagic { found } => {
                write!(
                    f,
                    "not an RDB file: expected REDIS or VALKEY magic, found {}",
                    escape(found)
                )
            }
            ErrorKind::UnsupportedVersion { family, version } => {
                write!(f, "unsupported RDB version {version} ({family} magic)")
            }
            ErrorKind::UnknownType { byte } => {
                write!(f, "unknown object type or opcode 0x{byte:02x} ({byte})")
            }
            ErrorKind::BadLength { byte } => write!(f, "invalid length encoding byte 0x{byte:02x}"),
            ErrorKind::BadStringEncoding { byte } => {
                write!(f, "invalid string encoding byte 0x{byte:02x}")
            }
            ErrorKind::LimitExceeded { what, value, limit } => {
                write!(f, "{what} of {value} exceeds the limit of {limit}")
            }
            ErrorKind::Lzf { reason } => write!(f, "corrupt LZF data: {reason}"),
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "CRC64 mismatch: stored 0x{stored:016x}, computed 0x{computed:016x}"
            ),
            ErrorKind::Corrupt { reason } => f.write_str(reason),
            ErrorKind::Unsupported { what } => write!(f, "unsupported: {what}"),
            ErrorKind::Io(e) => write!(f, "read error: {e}"),
            ErrorKind::AsideFault => f.write_str(
                "a blob checked on the second thread is damaged (read again without it to learn \
                 where)",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Shows bytes as text with non-printables escaped as `\xHH`, for error messages.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
