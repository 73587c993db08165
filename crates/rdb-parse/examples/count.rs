//! Counts the events of an RDB file: the parser alone, for profiling.
//!
//! `cargo run --release -p rdb-parse --example count -- dump.rdb`

use rdb_parse::Parser;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: count FILE")?;
    let mut parser = Parser::new(std::fs::File::open(path)?);
    let mut events = 0u64;
    while parser.next_event()?.is_some() {
        events += 1;
    }
    println!("{events} events, {} bytes", parser.offset());
    Ok(())
}
