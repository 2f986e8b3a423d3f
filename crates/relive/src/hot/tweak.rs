//! Tweakable literals (`#[relive_worker::tweak]`) of the running build: set one, list them, and
//! the supervisor's `tweak` command (a save that changed only such literals).

use super::Worker;
use crate::error::Error;
use crate::literal::{LiteralKey, LiteralValue, LiteralWrite, Tweakable, TweakedLiteral};
use crate::session::event::Event;
use relive_worker::Interface;
use relive_worker::abi::{self, RawStr};

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Sets a tweakable literal of the running build: from the next call on, the code reads
    /// `value` there. A new version starts with its compiled literals (the source's). Refused,
    /// with what did not match, if the running build has no such literal or one of another kind.
    pub fn tweak(&mut self, key: &LiteralKey, value: &LiteralValue) -> Result<(), Error> {
        let target = abi::TweakTarget {
            krate: RawStr::new(&key.krate),
            file: RawStr::new(&key.file),
            item: RawStr::new(&key.item),
            index: key.index,
        };
        let text = match value {
            LiteralValue::Str(s) => s.as_str(),
            _ => "",
        };
        let (kind, lo, hi) = match value {
            LiteralValue::Int(v) => (abi::TWEAK_INT, *v as u64, ((*v as u128) >> 64) as u64),
            LiteralValue::Float(v) => (abi::TWEAK_FLOAT, v.to_bits(), 0),
            LiteralValue::Bool(v) => (abi::TWEAK_BOOL, u64::from(*v), 0),
            LiteralValue::Char(c) => (abi::TWEAK_CHAR, u64::from(u32::from(*c)), 0),
            LiteralValue::Str(_) => (abi::TWEAK_STR, 0, 0),
        };
        let value = abi::TweakValue {
            kind,
            lo,
            hi,
            text: RawStr::new(text),
        };
        self.lib.tweak(&target, &value).map_err(|e| Error::Tweak {
            message: match e {
                crate::loader::library::CallError::Failed(message) => message,
                crate::loader::library::CallError::Panicked { message, .. } => {
                    format!("the worker panicked setting a tweak: {message}")
                }
            },
        })
    }

    /// The tweakable literals of the running build.
    pub fn tweakables(&self) -> Result<Vec<Tweakable>, Error> {
        let bytes = self.lib.tweaks().map_err(|e| Error::Tweak {
            message: format!("the worker cannot list its tweakable literals: {e:?}"),
        })?;
        type Listed = Vec<(
            String,
            String,
            String,
            Vec<(String, u32, u32, String, bool)>,
        )>;
        let listed: Listed = rmp_serde::from_slice(&bytes).map_err(|e| Error::Tweak {
            message: format!("the worker's list of tweakable literals does not read: {e}"),
        })?;
        Ok(listed
            .into_iter()
            .flat_map(|(krate, file, item, sites)| {
                sites.into_iter().enumerate().map(
                    move |(index, (kind, line, column, text, set))| Tweakable {
                        key: LiteralKey {
                            krate: krate.clone(),
                            file: file.clone(),
                            item: item.clone(),
                            index: index as u32,
                        },
                        kind,
                        line,
                        column,
                        text,
                        set,
                    },
                )
            })
            .collect())
    }

    /// Asks `cargo relive run` to set a tweakable literal to `typed` (what a user would write in
    /// the source: `450`, `0.5`, `"hi"`) in this game and in its source file, so that the next
    /// build agrees. The session writes the file only if it holds what the session last read
    /// (never over an edit it has not seen), then sends the value back as a tweak, applied
    /// before a following frame. Returns the request's number; its answer comes from
    /// [`Worker::literal_writes`]. Refused at once when no session runs this host (then
    /// [`Worker::tweak`] sets the value in the running game only).
    pub fn write_literal(&mut self, key: &LiteralKey, typed: &str) -> Result<u64, Error> {
        let Some(control) = self.supervisor.as_ref().and_then(|s| s.control.as_ref()) else {
            return Err(Error::Tweak {
                message: "no `cargo relive run` session runs this host: nothing can write the source (Worker::tweak sets the value in the running game only)".into(),
            });
        };
        self.requests += 1;
        let request = serde_json::json!({
            "request": "write_literal",
            "id": self.requests,
            "file": key.file,
            "item": key.item,
            "index": key.index,
            "value": typed,
        });
        if !crate::session::supervise::send_line(control, &request) {
            return Err(Error::Tweak {
                message: "the connection to `cargo relive run` is closed: nothing was written"
                    .into(),
            });
        }
        Ok(self.requests)
    }

    /// The answers to [`Worker::write_literal`] that came since the last call, in order.
    pub fn literal_writes(&mut self) -> Vec<LiteralWrite> {
        let Some(supervisor) = &self.supervisor else {
            return Vec::new();
        };
        let answers = match supervisor.answers.lock() {
            Ok(mut answers) => std::mem::take(&mut *answers),
            Err(_) => return Vec::new(),
        };
        answers
            .into_iter()
            .map(|answer| {
                let text = |k: &str| answer["ok"][k].as_str().unwrap_or_default().to_owned();
                LiteralWrite {
                    id: answer["answer"].as_u64().unwrap_or(0),
                    result: match answer["error"].as_str() {
                        Some(error) => Err(error.to_owned()),
                        None => Ok(TweakedLiteral {
                            name: text("name"),
                            at: text("at"),
                            old: text("old"),
                            new: text("new"),
                        }),
                    },
                }
            })
            .collect()
    }

    /// The supervisor's `tweak` command: `literals`, each `{crate, file, item, index, kind,
    /// value, name, at, old, new}`, all set or none (a literal the build lacks refuses them
    /// all, and the rebuild that follows the save applies the edit). Emits `tweaked`.
    pub(super) fn tweak_command(
        &mut self,
        command: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let literals = command["literals"]
            .as_array()
            .ok_or("`tweak` needs \"literals\"")?;
        let mut changes = Vec::new();
        for literal in literals {
            let text = |key: &str| literal[key].as_str().unwrap_or_default().to_owned();
            let key = LiteralKey {
                krate: text("crate"),
                file: text("file"),
                item: text("item"),
                index: literal["index"].as_u64().unwrap_or(0) as u32,
            };
            let value = &literal["value"];
            let value = match literal["kind"].as_str() {
                Some("int") => value
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| value.as_u64().map(i128::from))
                    .map(LiteralValue::Int),
                Some("float") => value.as_f64().map(LiteralValue::Float),
                Some("bool") => value.as_bool().map(LiteralValue::Bool),
                Some("char") => value
                    .as_str()
                    .and_then(|s| s.chars().next())
                    .map(LiteralValue::Char),
                Some("str") => value.as_str().map(|s| LiteralValue::Str(s.to_owned())),
                _ => None,
            }
            .ok_or_else(|| format!("`tweak`: {literal} has no value of its kind"))?;
            changes.push((key, value, literal));
        }
        // Checked first, so that nothing is applied half-way.
        let known = self.tweakables().map_err(|e| e.to_string())?;
        for (key, value, _) in &changes {
            let kind = match value {
                LiteralValue::Int(_) => "int",
                LiteralValue::Float(_) => "float",
                LiteralValue::Bool(_) => "bool",
                LiteralValue::Char(_) => "char",
                LiteralValue::Str(_) => "str",
            };
            if !known.iter().any(|t| &t.key == key && t.kind == kind) {
                return Err(format!(
                    "the running build has no tweakable {kind} literal {} #{} in {}",
                    key.item, key.index, key.file
                ));
            }
        }
        let mut reported = Vec::new();
        for (key, value, literal) in &changes {
            self.tweak(key, value).map_err(|e| e.to_string())?;
            let text = |k: &str| literal[k].as_str().unwrap_or_default().to_owned();
            reported.push(TweakedLiteral {
                name: text("name"),
                at: text("at"),
                old: text("old"),
                new: text("new"),
            });
        }
        let effect_ms = command["saved_at_ns"].as_u64().map(|saved| {
            crate::session::supervise::monotonic_ns().saturating_sub(saved) as f64 / 1e6
        });
        self.bus.emit(Event::Tweaked {
            version: self.version,
            literals: reported,
            effect_ms,
        });
        Ok(serde_json::json!({ "tweaked": changes.len() }))
    }
}
