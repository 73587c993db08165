//! `redkit completions SHELL` and `redkit man`: shell completion scripts and the man page,
//! made from the same definitions as `--help`.

use anyhow::Result;
use clap_complete::Shell;

const EXAMPLES: &str = "\
Examples:
  redkit completions bash > /etc/bash_completion.d/redkit
  redkit completions zsh > \"${fpath[1]}/_redkit\"
  redkit completions fish > ~/.config/fish/completions/redkit.fish";

/// Print the completion script for a shell on stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Print the man page (roff) on stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  redkit man > /usr/local/share/man/man1/redkit.1")]
pub struct ManArgs {}

/// Runs `completions` for the command line `cli`; returns the exit code.
pub fn run(args: Args, mut cli: clap::Command) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "redkit", &mut out);
    Ok(crate::exit::OK)
}

/// Runs `man` for the command line `cli`; returns the exit code.
pub fn man(_: ManArgs, cli: clap::Command) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cli).render(&mut out)?;
    Ok(crate::exit::OK)
}
