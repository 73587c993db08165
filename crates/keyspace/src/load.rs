//! Loading an RDB (a preamble, an RDB base) into a keyspace, one event at a time.

use crate::{Entry, Fields, Group, Keyspace, Stream, Value};
use rdb_parse::{Event, StreamId, ValueType};

/// Feeds the events of an RDB into a [`Keyspace`]: each key replaces any key of that name.
#[derive(Default)]
pub struct Loader {
    key: Option<(u64, Vec<u8>, Entry)>,
    entry: Option<(StreamId, Fields, u64)>,
    consumer: Option<Vec<u8>>,
}

/// What an RDB event cannot be loaded as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl Loader {
    /// A loader with no key open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event.
    pub fn event(&mut self, ks: &mut Keyspace, ev: &Event<'_>) -> Result<(), Unsupported> {
        match ev {
            Event::KeyStart(info) => {
                let value = match info.value_type {
                    ValueType::String => Value::Str(Vec::new()),
                    ValueType::List => Value::List(Default::default()),
                    ValueType::Set => Value::Set(Default::default()),
                    ValueType::Zset => Value::ZSet(Default::default()),
                    ValueType::Hash => Value::Hash(Default::default()),
                    ValueType::Stream => Value::Stream(Box::default()),
                    other => return Err(Unsupported(format!("a {} value", other.name()))),
                };
                self.key = Some((
                    info.db,
                    info.key.to_vec(),
                    Entry {
                        value,
                        expire_ms: info.expire_ms,
                    },
                ));
            }
            Event::Element(v) => match self.value() {
                Some(Value::Str(s)) => *s = v.to_vec(),
                Some(Value::List(l)) => l.push_back(v.to_vec()),
                Some(Value::Set(s)) => {
                    s.insert(v.to_vec());
                }
                _ => return Err(Unsupported("an element outside a key".into())),
            },
            Event::ZMember { member, score } => {
                if let Some(Value::ZSet(z)) = self.value() {
                    z.insert(member.to_vec(), *score);
                }
            }
            Event::HashField {
                field,
                value,
                expire_ms,
            } => {
                if let Some(Value::Hash(h)) = self.value() {
                    h.insert(field.to_vec(), (value.to_vec(), *expire_ms));
                }
            }
            Event::StreamEntry { id, fields } => self.entry = Some((*id, Vec::new(), *fields)),
            Event::StreamField { name, value } => {
                if let Some((_, f, left)) = &mut self.entry {
                    f.push((name.to_vec(), value.to_vec()));
                    *left -= 1;
                    if *left == 0 {
                        let (id, f, _) = self.entry.take().expect("open");
                        if let Some(s) = self.stream() {
                            s.entries.insert(id, f);
                        }
                    }
                }
            }
            Event::StreamMeta(m) => {
                if let Some(s) = self.stream() {
                    s.last_id = m.last_id;
                    s.max_deleted_id = m.max_deleted_id.unwrap_or_default();
                    s.entries_added = m.entries_added.unwrap_or(m.length);
                }
            }
            Event::StreamGroup {
                name,
                last_id,
                entries_read,
                ..
            } => {
                if let Some(s) = self.stream() {
                    s.groups.push(Group {
                        name: name.to_vec(),
                        last_id: *last_id,
                        entries_read: *entries_read,
                        pel: Default::default(),
                        consumers: Vec::new(),
                    });
                }
            }
            Event::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => {
                if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
                    g.pel
                        .insert(*id, (*delivery_time_ms, *delivery_count, Vec::new()));
                }
            }
            Event::StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
                ..
            } => {
                let name = name.to_vec();
                self.consumer = Some(name.clone());
                if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
                    g.consumers.push((name, *seen_time_ms, *active_time_ms));
                }
            }
            Event::StreamConsumerPending { id } => {
                let owner = self.consumer.clone().unwrap_or_default();
                if let Some(g) = self.stream().and_then(|s| s.groups.last_mut()) {
                    if let Some(p) = g.pel.get_mut(id) {
                        p.2 = owner;
                    }
                }
            }
            Event::StreamNacked { .. } => {
                return Err(Unsupported(
                    "stream pending entries without an owner".into(),
                ))
            }
            Event::Function { code } => {
                let code = code.to_vec();
                if let Some(name) = library_name(&code) {
                    ks.functions.insert(name, code);
                }
            }
            Event::Module { .. } | Event::ModuleAux { .. } => {
                return Err(Unsupported("module data".into()))
            }
            Event::ArrayElement { .. } => return Err(Unsupported("an array value".into())),
            Event::KeyEnd => {
                if let Some((db, key, entry)) = self.key.take() {
                    ks.dbs.entry(db).or_default().insert(&key, entry);
                }
                self.consumer = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn value(&mut self) -> Option<&mut Value> {
        self.key.as_mut().map(|(_, _, e)| &mut e.value)
    }

    fn stream(&mut self) -> Option<&mut Stream> {
        match self.value() {
            Some(Value::Stream(s)) => Some(s),
            _ => None,
        }
    }
}

/// The library name of `#!<engine> name=<lib> ...`.
pub(crate) fn library_name(code: &[u8]) -> Option<Vec<u8>> {
    let first = code.split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
        .map(|n| n.as_bytes().to_vec())
}
