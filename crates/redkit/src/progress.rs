//! Progress on stderr, only when it is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// The style of [`bytes_bar`] with a message after the counts (e.g. commands and keys).
pub fn counted_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
    )
    .expect("static template")
}

/// A byte progress bar on stderr, or `None` when stderr is not a terminal or `quiet` is set.
pub fn bytes_bar(quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("static template"),
    );
    Some(bar)
}

/// The style of a byte counter when the total is unknown (standard input, a pipe): a spinner
/// with the bytes read and the rate, instead of an empty bar.
pub fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bytes} read ({bytes_per_sec}) {msg}",
    )
    .expect("static template")
}
