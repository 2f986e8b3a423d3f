//! Write-back: a tweakable literal set by name (`cargo relive tweak SPEED 450`) or by the
//! in-window inspector is applied to the running game at once, as a save's tweak is, and written
//! into its source file as a user would write it, so that the rebuild that follows agrees.
//!
//! The session never writes over what it has not read: a file whose contents differ from the
//! text the session last read (an edit saved a moment ago, a change by another program) is left
//! alone and the request refused with why. The new contents go to a temporary file beside the
//! source, which is renamed over it: an editor with the file open sees an ordinary external
//! change, never half a file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use relive_tweak::compare::{self, Outcome};
use relive_tweak::{Kind, Site, Value};
use serde_json::{Value as Json, json};

use super::Supervisor;
use super::tweak::literal_name;
use crate::status;

/// Which literal a request names.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Target {
    /// What `cargo relive tweak` takes: a const's name (`SPEED`), a literal of a marked item by
    /// its place in it (`update#3`), or by where it is (`lib.rs:40`, `worker/src/lib.rs:40:17`).
    Name(String),
    /// A literal's key in the running build (what the inspector has).
    Key {
        /// Relative to the worker's directory (`src/lib.rs`).
        file: String,
        /// Its table.
        item: String,
        /// Its place in the table.
        index: usize,
    },
}

/// A literal found in the text the session last read.
struct Found {
    path: PathBuf,
    text: String,
    site: Site,
    name: String,
}

impl Supervisor {
    /// Every tweakable literal of the worker's sources, as the session last read them: name,
    /// place, kind, current text.
    pub(super) fn literal_list(&self) -> Json {
        let mut files: Vec<(&Path, &str)> = self.sources.seen_texts().collect();
        files.sort();
        let mut out = Vec::new();
        for (path, text) in files {
            let Ok(file) = compare::analyze(text) else {
                continue;
            };
            for site in &file.sites {
                out.push(self.describe(path, site, &file.sites));
            }
        }
        Json::Array(out)
    }

    /// One literal as lists and answers show it.
    fn describe(&self, path: &Path, site: &Site, sites: &[Site]) -> Json {
        let start = site.literal_span.start();
        json!({
            "name": literal_name(site, sites),
            "at": format!("{}:{}:{}", self.shown(path), start.line, start.column + 1),
            "file": path.strip_prefix(&self.project.worker_dir).unwrap_or(path).to_string_lossy(),
            "item": site.table,
            "index": site.index,
            "kind": site.kind.name(),
            "text": site.text,
        })
    }

    /// The literal `target` names, in the text the session last read; the error says what
    /// there is instead.
    fn find_literal(&self, target: &Target) -> Result<Found, String> {
        let mut matches = Vec::new();
        let mut names = Vec::new();
        let mut files: Vec<(&Path, &str)> = self.sources.seen_texts().collect();
        files.sort();
        for (path, text) in files {
            let Ok(file) = compare::analyze(text) else {
                continue;
            };
            let relative = path.strip_prefix(&self.project.worker_dir).unwrap_or(path);
            let shown = self.shown(path);
            for site in &file.sites {
                let start = site.literal_span.start();
                let site_name = literal_name(site, &file.sites);
                let hit = match target {
                    Target::Key { file, item, index } => {
                        relative == Path::new(file) && &site.table == item && site.index == *index
                    }
                    Target::Name(name) => {
                        names.push(site_name.clone());
                        name == &site_name
                            || place_matches(name, &shown, start.line, start.column + 1)
                    }
                };
                if hit {
                    matches.push(Found {
                        path: path.to_owned(),
                        text: text.to_owned(),
                        site: site.clone(),
                        name: site_name,
                    });
                }
            }
        }
        if matches.is_empty()
            && let Some(stale) = self.unread_source()
        {
            // What the session read is not what is on disk (a save half written when it was
            // read, or one it has not read yet): the literal may well be there.
            return Err(format!(
                "{stale} was saved a moment ago and relive has not read it yet: nothing was written; try again"
            ));
        }
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(match target {
                Target::Key { file, item, index } => format!(
                    "the sources have no tweakable literal {item}#{index} in {file} (was it removed or moved since the build?)"
                ),
                Target::Name(name) if names.is_empty() => format!(
                    "no tweakable literal is named `{name}`: the worker has none (mark a function, an impl or a const with #[relive_worker::tweak])"
                ),
                Target::Name(name) => format!(
                    "no tweakable literal is named `{name}`; `cargo relive tweak` lists them ({})",
                    preview(&names)
                ),
            }),
            _ => Err(format!(
                "`{}` names {} literals: name one by its place ({})",
                match target {
                    Target::Name(name) => name.as_str(),
                    Target::Key { item, .. } => item.as_str(),
                },
                matches.len(),
                matches
                    .iter()
                    .map(|m| {
                        let start = m.site.literal_span.start();
                        format!(
                            "{}:{}:{}",
                            self.shown(&m.path),
                            start.line,
                            start.column + 1
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The first source (as shown) whose text on disk is not what the session last read, or
    /// that was saved and not read yet.
    fn unread_source(&self) -> Option<String> {
        let mut files: Vec<(&Path, &str)> = self.sources.seen_texts().collect();
        files.sort();
        files
            .into_iter()
            .find(|(path, text)| {
                self.sources.pending(path)
                    || std::fs::read(path).is_ok_and(|disk| disk != text.as_bytes())
            })
            .map(|(path, _)| self.shown(path))
    }

    /// Sets the literal `target` names to what `typed` says, in the running game (when its
    /// build has that literal) and in its source file. Nothing is written or applied when the
    /// value does not fit or the file changed since the session read it.
    pub(super) fn write_literal(&mut self, target: &Target, typed: &str) -> Result<Json, String> {
        let found = self.find_literal(target)?;
        let Found {
            path,
            text,
            site,
            name,
        } = found;
        let shown = self.shown(&path);
        let value = Value::parse(site.kind, typed)?;
        if let Value::Int(v) = value
            && !relive_tweak::value::fits(&site.suffix, v)
        {
            return Err(format!(
                "{v} does not fit the literal `{}` ({}): nothing was changed",
                site.text,
                if site.suffix.is_empty() {
                    "an integer of at most 64 bits"
                } else {
                    site.suffix.as_str()
                }
            ));
        }
        if site.kind == Kind::Float && site.suffix == "f32" && !typed_f32_finite(&value) {
            return Err(format!(
                "{value} is out of range of an f32: nothing was changed"
            ));
        }
        let literal = value.as_literal_like(&site.text, &site.suffix);
        let range = compare::byte_range(&text, site.span);
        let mut new_text = String::with_capacity(text.len() + literal.len());
        new_text.push_str(&text[..range.start]);
        new_text.push_str(&literal);
        new_text.push_str(&text[range.end..]);
        let start = site.literal_span.start();
        let at = format!("{shown}:{}", start.line);

        // The running build has this literal at this key when the text the session read
        // differs from the build's only in tweakable literals.
        let applies = self.host_control.is_some()
            && self.sources.built_text(&path).is_some_and(|built| {
                matches!(
                    compare::compare(built, &text),
                    Outcome::Same | Outcome::Tweaks(_)
                )
            });

        self.write_source(&path, &text, &new_text)?;
        self.sources.wrote(&path, new_text.clone());
        self.tweaked.insert(path.clone(), new_text);

        let applied = applies
            && self.send_tweak_command(
                vec![self.literal_json(&path, &site, &value, &site.text, &literal, &name, &at)],
                relive::supervise::monotonic_ns(),
            );
        status::info(&format!(
            "tweaked {name} {} \u{2192} {literal} at {at}{}",
            site.text,
            if applied {
                ", written to the source; rebuilding behind it"
            } else {
                ", written to the source; the rebuild applies it"
            }
        ));
        Ok(json!({
            "name": name,
            "at": at,
            "old": site.text,
            "new": literal,
            "applied": applied,
            "file": shown,
        }))
    }

    /// Writes `new` over `path`, which must still hold `expected` (what the session read):
    /// through a temporary file beside it, renamed over it, with its permissions.
    fn write_source(&self, path: &Path, expected: &str, new: &str) -> Result<(), String> {
        let shown = self.shown(path);
        let changed = || {
            format!(
                "{shown} changed since relive read it (an edit not yet built, or another program): nothing was written; save it, let relive read it, and try again"
            )
        };
        if self.sources.pending(path) {
            return Err(format!(
                "{shown} was saved a moment ago and relive has not read it yet: nothing was written; try again"
            ));
        }
        let on_disk = |what: &str| {
            std::fs::read(path).map_err(|e| format!("cannot read {shown} {what}: {e}"))
        };
        if on_disk("before writing")? != expected.as_bytes() {
            return Err(changed());
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A leading dot: the watcher ignores it, as it does an editor's own temporary files.
        let temp = path.with_file_name(format!(".{name}.relive-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(new.as_bytes())?;
            file.sync_all()?;
            if let Ok(meta) = std::fs::metadata(path) {
                std::fs::set_permissions(&temp, meta.permissions())?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&temp);
            return Err(format!(
                "cannot write beside {shown}: {e}: nothing was changed"
            ));
        }
        // Looked at again just before the rename: a save that came meanwhile is not lost.
        if on_disk("before the rename")? != expected.as_bytes() {
            let _ = std::fs::remove_file(&temp);
            return Err(changed());
        }
        std::fs::rename(&temp, path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("cannot replace {shown}: {e}: nothing was changed")
        })
    }

    /// A request from the running host (the in-window inspector): answered on its connection.
    pub(super) fn on_host_request(&mut self, request: &Json) {
        let answer = match request["request"].as_str() {
            Some("write_literal") => {
                let target = Target::Key {
                    file: request["file"].as_str().unwrap_or_default().to_owned(),
                    item: request["item"].as_str().unwrap_or_default().to_owned(),
                    index: request["index"].as_u64().unwrap_or(0) as usize,
                };
                let typed = request["value"].as_str().unwrap_or_default();
                self.write_literal(&target, typed)
            }
            other => Err(format!("unknown request {other:?}")),
        };
        let line = match answer {
            Ok(ok) => json!({ "answer": request["id"], "ok": ok }),
            Err(error) => {
                status::info(&format!("the inspector's tweak was not written: {error}"));
                json!({ "answer": request["id"], "error": error })
            }
        };
        self.send_status(&line);
    }
}

/// Whether `name` is a place (`lib.rs:40`, `worker/src/lib.rs:40:17`) at `shown:line:column`.
fn place_matches(name: &str, shown: &str, line: usize, column: usize) -> bool {
    let mut parts = name.rsplitn(3, ':');
    let (last, middle, first) = (parts.next(), parts.next(), parts.next());
    let (file, at_line, at_column) = match (first, middle, last) {
        (Some(file), Some(l), Some(c)) => (file, l.parse::<usize>().ok(), c.parse::<usize>().ok()),
        (None, Some(file), Some(l)) => (file, l.parse::<usize>().ok(), None),
        _ => return false,
    };
    let file_matches = shown == file || shown.ends_with(&format!("/{file}"));
    file_matches && at_line == Some(line) && at_column.is_none_or(|c| c == column)
}

fn typed_f32_finite(value: &Value) -> bool {
    match value {
        Value::Float(v) => (*v as f32).is_finite(),
        _ => true,
    }
}

/// At most a few names, for a message.
fn preview(names: &[String]) -> String {
    let mut shown: Vec<&str> = names.iter().map(String::as_str).take(6).collect();
    shown.dedup();
    let more = names.len().saturating_sub(shown.len());
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(", and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_name_a_line_or_a_column_of_a_file_by_any_tail_of_its_path() {
        let shown = "worker/src/lib.rs";
        assert!(place_matches("lib.rs:40", shown, 40, 17));
        assert!(place_matches("src/lib.rs:40:17", shown, 40, 17));
        assert!(place_matches("worker/src/lib.rs:40", shown, 40, 3));
        assert!(!place_matches("lib.rs:40:18", shown, 40, 17));
        assert!(!place_matches("lib.rs:41", shown, 40, 17));
        assert!(!place_matches("ib.rs:40", shown, 40, 17));
        assert!(!place_matches("SPEED", shown, 40, 17));
        assert!(!place_matches("update#3", shown, 40, 17));
    }
}
