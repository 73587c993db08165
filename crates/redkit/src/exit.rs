//! Exit codes, the same for every subcommand.

/// The file is valid, or the job is done.
pub const OK: i32 = 0;
/// Problems were found in the input (corrupt, truncated), or the job was refused.
pub const PROBLEMS: i32 = 1;
/// Usage error, or an I/O error that has nothing to do with the content.
pub const ERROR: i32 = 2;

/// An error that means the content is damaged or refused (exit 1), not a usage or I/O error:
/// `main` maps it to [`PROBLEMS`].
#[derive(Debug)]
pub struct Damaged(pub String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}
