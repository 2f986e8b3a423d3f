//! The `--events` stream: one JSON object per line, for tests, benchmarks and editors.
//!
//! Every line has `"event"` (its kind) and `"t"` (seconds since `cargo relive run` started). The
//! host's own events (loaded, reloaded, reload_failed, panicked, unloaded, stale_mapping, restored,
//! restore_failed) are forwarded with the fields relive gives them; `reloaded` also gets
//! `edit_to_effect_ms` when a saved file started it.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};

/// Writes events as JSON lines, if a file was given.
pub struct Events {
    out: Option<LineWriter<File>>,
    start: Instant,
}

impl Events {
    /// Opens (truncates) `path`, or writes nothing when `None`.
    pub fn open(path: Option<&Path>) -> Result<Events> {
        let out = match path {
            Some(p) => Some(LineWriter::new(File::create(p).with_context(|| {
                format!("cannot create the events file {}", p.display())
            })?)),
            None => None,
        };
        Ok(Events {
            out,
            start: Instant::now(),
        })
    }

    /// Writes one event: `kind` plus the fields of `fields` (an object).
    pub fn emit(&mut self, kind: &str, fields: Value) {
        let Some(out) = &mut self.out else { return };
        let mut map = Map::new();
        map.insert("event".into(), json!(kind));
        map.insert("t".into(), json!(self.start.elapsed().as_secs_f64()));
        if let Value::Object(extra) = fields {
            for (k, v) in extra {
                if k != "event" {
                    map.insert(k, v);
                }
            }
        }
        let _ = writeln!(out, "{}", Value::Object(map));
    }
}
