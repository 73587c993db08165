//! The write commands, one module per family, each an `impl Keyspace` with a method per
//! command (or per group of commands the server implements together); [`crate::apply`]
//! dispatches to them by name. The families share only [`access`] (how a command reaches a
//! value), [`args`] and [`dump`], and never call one another.

pub(crate) mod access;
pub(crate) mod args;
pub(crate) mod bits;
pub(crate) mod dump;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod scripting;
pub(crate) mod sets;
pub(crate) mod streams;
pub(crate) mod strings;
pub(crate) mod zsets;

#[cfg(test)]
mod tests;
