//! The fast path of a save that changed only tweakable literals (`#[relive_worker::tweak]`):
//! their new values go to the running host, which applies them before its next frame; the
//! rebuild runs behind (its literals are the new ones, so nothing changes when it is swapped in).
//! Anything else in the save (code, a literal outside the marked items, a const also read
//! elsewhere, a changed kind) takes the build alone, as before.

use std::path::Path;
use std::time::Instant;

use relive_tweak::compare::{self, Outcome};
use relive_tweak::{Site, Value};
use serde_json::{Value as Json, json};

use super::Supervisor;
use super::unchanged::Snapshot;
use crate::status;

/// What the compares may have read (and proc-macro2 kept for their spans) before it is let go.
const READ_LIMIT: usize = 256 << 20;

/// Whether `site` is a const's value (`const SPEED: f32 = 300.0;`): its table is its name.
pub(super) fn is_const(site: &Site) -> bool {
    relive::LiteralKey::is_const_table(&site.table)
}

/// What messages and `cargo relive tweak` call a literal: a const's name when its value is
/// that one literal, else its table and its place in it (`update#3`, `COLOR#1`), as the
/// inspector names it (one rule: [`relive::LiteralKey::name_of`]). `sites`: the file's
/// tweakable literals.
pub(super) fn literal_name(site: &Site, sites: &[Site]) -> String {
    let alone = sites.iter().filter(|s| s.table == site.table).count() <= 1;
    relive::LiteralKey::name_of(&site.table, site.index, alone)
}

/// The value of a literal as the host's `tweak` command takes it.
pub(super) fn wire(value: &Value) -> Json {
    match value {
        Value::Int(v) => i64::try_from(*v)
            .map(Json::from)
            .or_else(|_| u64::try_from(*v).map(Json::from))
            .unwrap_or(Json::Null),
        Value::Float(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::Char(c) => json!(c.to_string()),
        Value::Str(s) => json!(s),
    }
}

impl Supervisor {
    /// `path` relative to the workspace, as messages show it.
    pub(super) fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.project.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Reads the marked files of the build that now runs, so that the next save's compare
    /// only tokenizes that save (on a 20k-line file: ≈ 30 ms instead of ≈ 600 ms). Run after a
    /// build is staged, while the session waits for the next save.
    pub(super) fn prepare_tweaks(&self) {
        // No span of an earlier read is held here: let go of what the reads kept (proc-macro2
        // keeps every text it tokenized), once it is more than a long session should hold.
        compare::reclaim(READ_LIMIT);
        for (path, text) in self.sources.built_texts() {
            if path.starts_with(&self.project.worker_dir) && text.contains("tweak") {
                compare::prepare(text);
            }
        }
    }

    /// Sends the saved literals to the host when the save in `saved` changed only tweakable
    /// literals; says so for a changed `Default::default`. Returns whether it sent any.
    pub(super) fn send_tweaks(&mut self, saved: &Snapshot, first: Instant) -> bool {
        if self.host_control.is_none() {
            return false;
        }
        // The session wrote these texts itself (a write-back) and sent their tweaks then.
        let mut texts = saved.texts().peekable();
        if texts.peek().is_some()
            && texts.all(|(path, text)| {
                text.is_some() && self.tweaked.get(path).map(String::as_str) == text
            })
        {
            return true;
        }
        let mut literals = Vec::new();
        let mut lines = Vec::new();

        for (path, text) in saved.texts() {
            let (text, old) = match (text, self.sources.built_text(path)) {
                (Some(text), Some(old)) => (text, old),
                // Gone, and never built: an editor's temporary file, renamed over the source.
                (None, None) => continue,
                // A new file, or a source deleted: a build.
                _ => return false,
            };
            let shown = self.shown(path);
            match compare::compare(old, text) {
                Outcome::Same => {}
                Outcome::Build { defaults, .. } if !defaults.is_empty() => {
                    for d in defaults {
                        let mut line = format!(
                            "`{}::default()` changed ({} \u{2192} {} at {shown}:{}): it makes new values only, so the running game keeps the one it has",
                            d.ty, d.old_text, d.new_text, d.line
                        );
                        if let Some(pointer) = &d.pointer {
                            line.push_str(&format!(
                                "; `cargo relive state set {pointer} {}` sets it now",
                                d.new_text
                            ));
                        }
                        status::info(&line);
                        self.events.emit(
                            "default_changed",
                            json!({ "type": d.ty, "pointer": d.pointer, "old": d.old_text, "new": d.new_text, "at": format!("{shown}:{}", d.line) }),
                        );
                    }
                    return false;
                }
                Outcome::Build { why, .. } => {
                    // A literal changed where relive cannot tweak it: say why it rebuilds.
                    if why != "code changed" && why != "the file does not parse" {
                        status::info(&format!("not a tweak ({why}): rebuilding"));
                    }
                    return false;
                }
                Outcome::Tweaks(changes) => {
                    // The same items as the running build's (only literals changed): its
                    // sites, parsed once per build, name the literals.
                    let sites = compare::analyze(old).map(|f| f.sites).unwrap_or_default();
                    if path.strip_prefix(&self.project.worker_dir).is_err() {
                        return false;
                    }
                    for change in changes {
                        let site = &change.site;
                        // A const read by name in another file has its old value compiled in there.
                        if is_const(site)
                            && let Some((other, _)) = self.sources.built_texts().find(|(p, t)| {
                                *p != path && !compare::mentions(t, &site.table).is_empty()
                            })
                        {
                            status::info(&format!(
                                "`{}` is also read in {}, outside #[relive_worker::tweak] items: rebuilding",
                                site.table,
                                self.shown(other)
                            ));
                            return false;
                        }
                        let line = site.literal_span.start().line;
                        let name = literal_name(site, &sites);
                        let at = format!("{shown}:{line}");
                        lines.push(format!(
                            "{name} {} \u{2192} {} at {at}",
                            change.old_text, site.text
                        ));
                        literals.push(self.literal_json(
                            path,
                            site,
                            &site.value,
                            &change.old_text,
                            &site.text,
                            &name,
                            &at,
                        ));
                    }
                }
            }
        }
        if literals.is_empty() {
            return false;
        }
        let saved_at =
            relive::supervise::monotonic_ns().saturating_sub(first.elapsed().as_nanos() as u64);
        if !self.send_tweak_command(literals, saved_at) {
            return false;
        }
        for (path, text) in saved.texts() {
            if let Some(text) = text {
                self.tweaked.insert(path.to_owned(), text.to_owned());
            }
        }
        status::info(&format!(
            "tweaked {}; rebuilding behind it",
            lines.join(", ")
        ));
        true
    }

    /// One literal as the host's `tweak` command takes it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn literal_json(
        &self,
        path: &Path,
        site: &Site,
        value: &Value,
        old: &str,
        new: &str,
        name: &str,
        at: &str,
    ) -> Json {
        let file = path.strip_prefix(&self.project.worker_dir).unwrap_or(path);
        json!({
            "crate": self.project.worker,
            "file": file.to_string_lossy(),
            "item": site.table,
            "index": site.index,
            "kind": site.kind.name(),
            "value": wire(value),
            "name": name,
            "at": at,
            "old": old,
            "new": new,
        })
    }

    /// Sends the host a `tweak` command for `literals`, saved (or typed) at `saved_at_ns` on the
    /// monotonic clock; whether it went out.
    pub(super) fn send_tweak_command(&mut self, literals: Vec<Json>, saved_at_ns: u64) -> bool {
        self.next_command += 1;
        let command = json!({ "cmd": "tweak", "id": self.next_command, "literals": literals, "saved_at_ns": saved_at_ns });
        let Some(host) = &mut self.host_control else {
            return false;
        };
        if super::socket::reply_line(host, &command).is_err() {
            self.host_control = None;
            return false;
        }
        true
    }
}
