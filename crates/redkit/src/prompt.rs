//! Asking before a change: a question on the terminal, answered y or n.

use anyhow::Result;
use std::io::{BufRead, IsTerminal, Write};

/// The answer to [`confirm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The user said yes.
    Yes,
    /// The user said no (or anything but yes).
    No,
    /// Nobody could be asked: stdin is not a terminal.
    NotAsked,
}

/// Asks `question` on the terminal (stderr) and reads the answer from stdin.
pub fn confirm(question: &str) -> Result<Answer> {
    if !std::io::stdin().is_terminal() {
        return Ok(Answer::NotAsked);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(if matches!(line.trim(), "y" | "Y" | "yes") {
        Answer::Yes
    } else {
        Answer::No
    })
}

/// Asks unless `yes`; prints why nothing changes when the answer is not yes, `alternative`
/// telling what else to run. True when the change may go ahead.
pub fn go_ahead(yes: bool, question: &str, alternative: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    match confirm(question)? {
        Answer::Yes => Ok(true),
        Answer::No => {
            eprintln!("redkit: cancelled: nothing was changed");
            Ok(false)
        }
        Answer::NotAsked => {
            eprintln!(
                "redkit: not changing anything without confirmation (stdin is not a terminal): \
                 run again with --yes{alternative}"
            );
            Ok(false)
        }
    }
}
