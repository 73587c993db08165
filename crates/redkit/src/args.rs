//! Argument groups and value parsers shared by several commands: which keys (`--db`, `--key`,
//! `--key-regex`, `--type`), what to write for which server (`--rdb-version`, `--target`,
//! `--lossy`, `--db-map`).

use anyhow::{bail, Result};
use rdb_parse::ValueType;
use transcode::{parse_lossy, KeyFilter, Lossy, Options};

/// The options of the commands that write keys for a server (`convert`, `rewrite`): which
/// version, what may be dropped, which keys, which databases.
#[derive(Debug, Clone, clap::Args)]
pub struct WriteArgs {
    /// RDB version of the server that will load the output: 7 to 12, or 80 (Valkey 9)
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// The server that will load the output: redis-6.2, redis-7.0, redis-7.2, redis-7.4,
    /// valkey-7, valkey-8, valkey-9
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    /// What may be dropped when the target cannot hold it: field-ttls, stream-meta, keys, all
    /// (comma-separated); dropped items are listed
    #[arg(long, value_name = "WHAT", value_parser = parse_lossy)]
    pub lossy: Option<Lossy>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Write the keys of database FROM into database TO (repeatable)
    #[arg(long, value_name = "FROM:TO", value_parser = parse_db_map)]
    pub db_map: Vec<(u64, u64)>,
    /// Read an RDB version newer than any known of its family as the newest known one (as
    /// Valkey's `rdb-version-check relaxed`); an opcode or type it does not have still fails
    #[arg(long)]
    pub relaxed_version: bool,
}

/// What to write for which server, for the commands that write RDB files of several inputs or
/// outputs (`split`, `merge`): `--target`, `--rdb-version`, `--lossy`.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The server that will load the output (as `convert --target`)
    #[arg(long, value_name = "SERVER", value_parser = parse_target)]
    pub target: Option<u32>,
    /// The RDB version to write, 7 to 12 or 80
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "target")]
    pub rdb_version: Option<u32>,
    /// What may be dropped when the target cannot hold it (as `convert --lossy`)
    #[arg(long, value_name = "WHAT", value_parser = parse_lossy)]
    pub lossy: Option<Lossy>,
}

impl TargetArgs {
    /// The transcoding options for one input, with its database map.
    pub fn options(&self, db_map: Vec<(u64, u64)>) -> Options {
        Options {
            version: self.rdb_version.or(self.target),
            filter: KeyFilter::default(),
            db_map,
            lossy: self.lossy.unwrap_or_default(),
            raw_source: None,
            spill_dir: None,
            keep_empty: false,
            relaxed_version: false,
            keep_aux: false,
        }
    }
}

/// The filter options of the commands that write keys out: which keys, and whether empty
/// collections are written, flattened into their `Args`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Write empty collections too (a list, set, sorted set or hash of no element); by default
    /// they are skipped and counted, as the servers skip them at load
    #[arg(long)]
    pub keep_empty: bool,
}

/// Which keys a command reads (`--db`, `--key`, `--key-regex`, `--type`, `--slot`, `--slots`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub names: NameArgs,
    /// Only keys of this cluster hash slot (repeatable; as CLUSTER KEYSLOT: CRC16 of the key
    /// or of its {hash tag}, modulo 16384)
    #[arg(long = "slot", value_name = "N", value_parser = parse_slot)]
    pub slot: Vec<u16>,
    /// Only keys of these cluster hash slots: `0-5460,10923` (ranges and slots, comma-separated)
    #[arg(long, value_name = "RANGES", value_parser = transcode::slot::SlotSet::parse)]
    pub slots: Option<transcode::slot::SlotSet>,
}

/// Which keys by database, name and type (`--db`, `--key`, `--key-regex`, `--type`): the key
/// filters of `split`, whose `--slots` names its shards.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NameArgs {
    /// Only keys of this database (repeatable)
    #[arg(long = "db", value_name = "N")]
    pub dbs: Vec<u64>,
    /// Only keys matching this Redis glob pattern (`*`, `?`, `[a-z]`, `\\x`)
    #[arg(long, value_name = "GLOB")]
    pub key: Option<String>,
    /// Only keys matching this regular expression
    #[arg(long, value_name = "RE")]
    pub key_regex: Option<String>,
    /// Only keys of this type: string, list, set, zset, hash, stream, module (repeatable)
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    pub types: Vec<ValueType>,
}

impl NameArgs {
    /// The filter these options ask for.
    pub fn key_filter(&self) -> Result<KeyFilter> {
        KeyFilter::new(
            self.dbs.clone(),
            self.key.clone(),
            self.key_regex.clone(),
            self.types.clone(),
        )
        .map_err(anyhow::Error::msg)
    }
}

/// Parses `--slot`: 0 to 16383.
pub fn parse_slot(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|&v| v < transcode::slot::SLOTS)
        .ok_or_else(|| format!("'{s}' is not a slot (0 to 16383)"))
}

/// Parses a type name as `TYPE` gives it.
pub fn parse_type(s: &str) -> Result<ValueType, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "string" => ValueType::String,
        "list" => ValueType::List,
        "set" => ValueType::Set,
        "zset" => ValueType::Zset,
        "hash" => ValueType::Hash,
        "stream" => ValueType::Stream,
        "module" => ValueType::Module,
        "array" => ValueType::Array,
        other => {
            return Err(format!(
                "unknown type '{other}' (expected string, list, set, zset, hash, stream, module or array)"
            ))
        }
    })
}

impl FilterArgs {
    /// The filter these options ask for.
    pub fn key_filter(&self) -> Result<KeyFilter> {
        self.keys.key_filter()
    }
}

impl KeyArgs {
    /// The filter these options ask for.
    pub fn key_filter(&self) -> Result<KeyFilter> {
        let f = self.names.key_filter()?;
        if self.slot.is_empty() && self.slots.is_none() {
            return Ok(f);
        }
        let mut set = self.slots.clone().unwrap_or_default();
        for s in &self.slot {
            set.add_range(*s, *s);
        }
        Ok(f.with_slots(set))
    }
}

/// Databases a server has with its default `databases` setting.
const DEFAULT_DATABASES: u64 = 16;

impl WriteArgs {
    /// The RDB version asked for, if any.
    pub fn version(&self) -> Option<u32> {
        self.rdb_version.or(self.target)
    }

    /// The transcoding options these ask for (no stored values copied: see
    /// [`Options::raw_source`]). A database mapped twice is an error; a target database the
    /// server cannot have with its default settings is warned about.
    pub fn options(&self) -> Result<Options> {
        check_db_map(&self.db_map)?;
        Ok(Options {
            version: self.version(),
            filter: self.filter.key_filter()?,
            db_map: self.db_map.clone(),
            lossy: self.lossy.unwrap_or_default(),
            raw_source: None,
            spill_dir: None,
            keep_empty: self.filter.keep_empty,
            relaxed_version: self.relaxed_version,
            keep_aux: false,
        })
    }
}

/// Refuses a database mapped to two targets; warns of targets past the default 16 databases.
pub fn check_db_map(map: &[(u64, u64)]) -> Result<()> {
    for (i, &(from, to)) in map.iter().enumerate() {
        if let Some(&(_, other)) = map[..i].iter().find(|(f, t)| *f == from && *t != to) {
            bail!("--db-map maps database {from} twice: to {other} and to {to}");
        }
        if to >= DEFAULT_DATABASES && !map[..i].contains(&(from, to)) {
            eprintln!(
                "redkit: warning: --db-map {from}:{to}: a server loads database {to} only with \
                 `databases` set above {to} (the default is {DEFAULT_DATABASES})"
            );
        }
    }
    Ok(())
}

/// Parses `--rdb-version`.
pub fn parse_version(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v @ (7..=12 | 80)) => Ok(v),
        _ => Err(format!("cannot write RDB version {s:?}: 7 to 12, or 80")),
    }
}

/// Parses `--target`: the RDB version that server writes.
pub fn parse_target(s: &str) -> Result<u32, String> {
    Ok(match s {
        "redis-3.2" => 7,
        "redis-4.0" => 8,
        "redis-6.0" | "redis-6.2" | "redis-5.0" => 9,
        "redis-7.0" => 10,
        "redis-7.2" | "valkey-7" | "valkey-7.2" | "valkey-8" | "valkey-8.0" | "valkey-8.1" => 11,
        "redis-7.4" | "redis-8.0" | "redis-8.2" | "redis-8.4" => 12,
        "valkey-9" | "valkey-9.0" | "valkey-9.1" => 80,
        _ => {
            return Err(format!(
                "unknown target {s:?}: redis-6.2, redis-7.0, redis-7.2, redis-7.4, valkey-7, \
                 valkey-8, valkey-9"
            ))
        }
    })
}

/// Parses `--db-map`.
pub fn parse_db_map(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once(':').ok_or("expected FROM:TO, e.g. 3:0")?;
    let db = |x: &str| {
        x.parse::<u64>()
            .ok()
            .filter(|&n| n <= i32::MAX as u64)
            .ok_or_else(|| format!("bad database {x:?} (0 to {})", i32::MAX))
    };
    Ok((db(a)?, db(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_maps() {
        assert_eq!(parse_db_map("3:0"), Ok((3, 0)));
        assert!(parse_db_map("3").is_err());
        assert!(parse_db_map("3:x").is_err());
        assert!(parse_db_map("3:99999999999").is_err());
        assert!(check_db_map(&[(3, 0), (4, 0)]).is_ok());
        assert!(check_db_map(&[(3, 0), (3, 0)]).is_ok());
        assert!(check_db_map(&[(3, 0), (3, 1)]).is_err());
    }
}
