//! `redkit`: an offline, streaming toolkit for Redis and Valkey persistence files.

/// `println!` for reports: a stdout whose reader went away (`redkit check-rdb F | head`) is
/// not an error, the command goes on and its exit status still tells its verdict.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod aofdir;
mod args;
mod cmd;
mod exit;
mod fsutil;
mod html;
mod input;
mod json;
mod many;
mod output;
mod parquet;
mod progress;
mod prompt;
mod replay;
mod report;
mod time;

use clap::{CommandFactory, Parser, Subcommand};

/// Offline, streaming tools for Redis and Valkey persistence files (RDB snapshots, AOF logs).
///
/// Every command reads its input once, in bounded memory (aof-to-rdb and rewrite of an AOF hold
/// the replayed dataset, as the server would). Outputs are written to a temporary file and
/// renamed; an existing output is replaced only with --force, an input never. Only two commands
/// change their input, after asking: check-aof --fix and truncate --in-place, which keep what
/// they cut.
#[derive(Debug, Parser)]
#[command(name = "redkit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that an RDB file is sound (CRC64, structure, every encoding) and summarise it
    CheckRdb(cmd::check_rdb::Args),
    /// Check that an AOF loads: manifest, files, RESP framing, MULTI/EXEC, annotations;
    /// --fix cuts a torn tail (modifies the file, keeps the cut bytes)
    CheckAof(cmd::check_aof::Args),
    /// List the restore points (#TS annotations) of an AOF
    RestorePoints(cmd::restore_points::Args),
    /// Point-in-time restore: a new AOF directory cut at the first restore point after a time
    /// (--in-place cuts the original, keeping what it cuts)
    Truncate(cmd::truncate::Args),
    /// Dump an RDB file as JSON Lines, one object per key
    DumpJson(cmd::dump_json::Args),
    /// Convert an RDB file for another server version, or a subset of its keys
    Convert(cmd::convert::Args),
    /// Split an RDB file into one RDB per cluster shard, by hash slot, in one pass
    Split(cmd::split::Args),
    /// Merge several RDB files (the shards of a cluster) into one dataset
    Merge(cmd::merge::Args),
    /// Write an RDB file or an AOF's dataset as a multi-part AOF directory, or as RESP commands
    /// for redis-cli --pipe
    Rewrite(cmd::rewrite::Args),
    /// Compare two datasets (RDB files or AOFs) key by key: added, removed, changed
    Diff(cmd::diff::Args),
    /// Where the memory goes: each key's memory as a server counts it after loading an RDB
    /// file, by type, prefix and TTL, with the largest keys
    Analyze(cmd::analyze::Args),
    /// Print the dataset digest DEBUG DIGEST returns on a server that loaded an RDB file
    Digest(cmd::digest::Args),
    /// Replay an AOF offline (the dataset is held in memory) and write it as an RDB file
    AofToRdb(cmd::aof_to_rdb::Args),
    /// Print a shell completion script
    Completions(cmd::completions::Args),
    /// Print the man page
    Man(cmd::completions::ManArgs),
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .or_else(|| e.downcast_ref::<transcode::Error>().and_then(|t| t.io()))
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() {
    let cli = Cli::parse();
    // Stopped by Ctrl-C or a TERM/HUP signal: remove what was being written, then exit as a
    // shell expects of a process stopped by SIGINT.
    let _ = ctrlc::set_handler(|| {
        output::remove_temporaries();
        eprintln!("redkit: stopped: the temporary files of this run were removed");
        std::process::exit(130);
    });
    // A replayed dataset's tables are seeded at random (a log cannot aim its keys at one
    // place of a table), so the order of its keys in an output changes from run to run;
    // with SOURCE_DATE_EPOCH, two runs write the same bytes.
    if time::source_date_epoch().is_some() {
        keyspace::fix_table_seed();
    }
    let result = match cli.command {
        Command::CheckRdb(args) => cmd::check_rdb::run(args),
        Command::CheckAof(args) => cmd::check_aof::run(args),
        Command::RestorePoints(args) => cmd::restore_points::run(args),
        Command::Truncate(args) => cmd::truncate::run(args),
        Command::DumpJson(args) => cmd::dump_json::run(args),
        Command::Convert(args) => cmd::convert::run(args),
        Command::Split(args) => cmd::split::run(args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Rewrite(args) => cmd::rewrite::run(args),
        Command::AofToRdb(args) => cmd::aof_to_rdb::run(args),
        Command::Digest(args) => cmd::digest::run(args),
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::completions::man(args, Cli::command()),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => exit::OK,
        Err(err) => {
            eprintln!("redkit: error: {err:#}");
            if err.chain().any(|e| e.is::<exit::Damaged>()) {
                exit::PROBLEMS
            } else {
                exit::ERROR
            }
        }
    };
    std::process::exit(code);
}
