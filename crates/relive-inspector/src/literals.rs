//! The panel's "Literals" section: the running build's tweakable literals
//! (`#[relive_worker::tweak]`), each with an editor. A change is in the game at once and, on
//! release (a drag let go, Enter, a click), written into its source file by `cargo relive run`,
//! which never writes over an edit it has not read; the rebuild that follows agrees with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use relive::{Interface, LiteralKey, LiteralValue, Tweakable, Worker};

use crate::core::{NOTE_FOR, Note};
use crate::widgets::PROBLEM;

/// How often the list is read again while nothing else says it changed.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Something the user did to a literal, applied before the game's next frame.
#[derive(Debug, Clone, PartialEq)]
enum Edit {
    /// In the game only (a drag in progress).
    Apply(LiteralKey, LiteralValue),
    /// In the game and in the source (released, typed, clicked): the text as a user would
    /// write it in the source.
    Write(LiteralKey, String),
}

/// The section's state between frames.
#[derive(Debug, Default)]
pub(crate) struct Literals {
    list: Vec<Tweakable>,
    /// The version the list was read from, and when.
    read: Option<(u64, Instant)>,
    /// Why the list could not be read.
    error: Option<String>,
    /// What the user set, shown until the build's own literal says the same.
    set: HashMap<LiteralKey, LiteralValue>,
    /// What the user is typing into a text field.
    typing: HashMap<LiteralKey, String>,
    /// Write-backs waiting for the session's answer.
    waiting: HashMap<u64, LiteralKey>,
    edits: Vec<Edit>,
    notes: HashMap<LiteralKey, Note>,
    /// The last answer, for the section's line.
    last: Option<Note>,
}

/// What a user calls a literal (`SPEED`, `update#3`): as the command line and relive's
/// messages name it. `alone`: the only literal of its table.
pub(crate) fn name(key: &LiteralKey, alone: bool) -> String {
    key.name(alone)
}

/// A literal's value from its source text (`1_000`, `2.5f32`, `-3`, `"hi"`, `'x'`).
pub(crate) fn parse(kind: &str, text: &str) -> Option<LiteralValue> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let unsuffixed = |s: &str| {
        // A hex integer's digits include `f`; its suffix starts with `i` or `u`.
        let marks: &[char] = if s.trim_start_matches('-').starts_with("0x") {
            &['i', 'u']
        } else {
            &['i', 'u', 'f']
        };
        s[..s.find(marks).unwrap_or(s.len())].to_owned()
    };
    match kind {
        "int" => {
            let digits = unsuffixed(&plain);
            let (negative, digits) = match digits.strip_prefix('-') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, digits),
            };
            let v = match digits.strip_prefix("0x") {
                Some(hex) => i128::from_str_radix(hex, 16).ok()?,
                None => digits.parse::<i128>().ok()?,
            };
            Some(LiteralValue::Int(if negative { -v } else { v }))
        }
        "float" => unsuffixed(&plain).parse().ok().map(LiteralValue::Float),
        "bool" => plain.parse().ok().map(LiteralValue::Bool),
        "char" => {
            let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
            let mut chars = unescape(inner).chars().collect::<Vec<_>>();
            (chars.len() == 1).then(|| LiteralValue::Char(chars.remove(0)))
        }
        "str" => {
            let inner = text.strip_prefix('"')?.strip_suffix('"')?;
            Some(LiteralValue::Str(unescape(inner)))
        }
        _ => None,
    }
}

/// The common escapes of a Rust literal's text.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `value` as a user would type it for the session (`450.0`, `"hi"`, `'x'`).
pub(crate) fn typed(value: &LiteralValue) -> String {
    match value {
        LiteralValue::Int(v) => v.to_string(),
        LiteralValue::Float(v) => format!("{v:?}"),
        LiteralValue::Bool(v) => v.to_string(),
        LiteralValue::Char(c) => format!("{c:?}"),
        LiteralValue::Str(s) => format!("{s:?}"),
    }
}

impl Literals {
    /// Reads the list again when the build changed or it is due; takes the session's answers.
    pub(crate) fn refresh<C: ?Sized + Interface + 'static>(&mut self, game: &mut Worker<C>) {
        for answer in game.literal_writes() {
            let key = self.waiting.remove(&answer.id);
            let note = match answer.result {
                Ok(done) => Note {
                    text: format!(
                        "{} {} -> {}: written to {}",
                        done.name, done.old, done.new, done.at
                    ),
                    problem: false,
                    at: Instant::now(),
                },
                Err(why) => Note {
                    text: format!("not written: {why}"),
                    problem: true,
                    at: Instant::now(),
                },
            };
            if let Some(key) = key {
                self.notes.insert(key, note.clone());
            }
            self.last = Some(note);
        }
        let due = self
            .read
            .is_none_or(|(version, at)| version != game.version() || at.elapsed() >= REFRESH_EVERY);
        if !due {
            return;
        }
        match game.tweakables() {
            Ok(list) => {
                // A build whose literal says what the user set: the edit is the source's now.
                self.set.retain(|key, value| {
                    list.iter().any(|t| {
                        &t.key == key && (t.set || parse(&t.kind, &t.text).as_ref() != Some(value))
                    })
                });
                self.list = list;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self.read = Some((game.version(), Instant::now()));
    }

    /// Applies the edits of the last frame.
    pub(crate) fn apply<C: ?Sized + Interface + 'static>(&mut self, game: &mut Worker<C>) {
        for edit in std::mem::take(&mut self.edits) {
            match edit {
                Edit::Apply(key, value) => {
                    if let Err(e) = game.tweak(&key, &value) {
                        self.note(&key, format!("not applied: {e}"), true);
                    }
                }
                Edit::Write(key, text) => match game.write_literal(&key, &text) {
                    Ok(id) => {
                        self.waiting.insert(id, key);
                    }
                    // No session to write the source: the value is in the game until a reload.
                    Err(e) => {
                        let applied = self
                            .list
                            .iter()
                            .find(|t| t.key == key)
                            .and_then(|t| parse(&t.kind, &text))
                            .map(|value| game.tweak(&key, &value));
                        let why = match applied {
                            Some(Ok(())) => format!("in the game only: {e}"),
                            Some(Err(applied)) => format!("not applied: {applied}"),
                            None => format!("not applied: `{text}` does not read"),
                        };
                        self.note(&key, why, true);
                    }
                },
            }
        }
    }

    fn note(&mut self, key: &LiteralKey, text: String, problem: bool) {
        let note = Note {
            text,
            problem,
            at: Instant::now(),
        };
        self.notes.insert(key.clone(), note.clone());
        self.last = Some(note);
    }

    /// How many literals the section lists.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The section: one row per literal (name, editor, place), the last answer above them.
    pub(crate) fn ui(&mut self, ui: &mut egui::Ui) {
        if let Some(error) = &self.error {
            ui.label(egui::RichText::new(error).color(PROBLEM));
        }
        if self.list.is_empty() {
            ui.weak("none: #[relive_worker::tweak] on a function, an impl or a const makes its literals tweakable here");
            return;
        }
        // The last answer has a line of its own, empty without one, and one line long (the whole
        // on hover): the rows never move under the pointer when an answer comes or goes.
        match self.last.as_ref().filter(|n| n.at.elapsed() < NOTE_FOR) {
            Some(note) => {
                let color = if note.problem {
                    PROBLEM
                } else {
                    ui.visuals().weak_text_color()
                };
                ui.add(egui::Label::new(egui::RichText::new(&note.text).color(color)).truncate())
                    .on_hover_text(&note.text);
            }
            None => {
                ui.label(" ");
            }
        }
        let list = self.list.clone();
        egui::Grid::new("relive-literals")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                for literal in &list {
                    self.row(ui, literal);
                    ui.end_row();
                }
            });
    }

    fn row(&mut self, ui: &mut egui::Ui, literal: &Tweakable) {
        let key = &literal.key;
        let alone = self
            .list
            .iter()
            .filter(|t| t.key.file == key.file && t.key.item == key.item)
            .count()
            <= 1;
        let label = ui.label(name(key, alone));
        let file = key.file.rsplit('/').next().unwrap_or(&key.file);
        label.on_hover_text(format!("{}:{}:{}", key.file, literal.line, literal.column));
        let Some(value) = self
            .set
            .get(key)
            .cloned()
            .or_else(|| parse(&literal.kind, &literal.text))
        else {
            ui.label(&literal.text);
            ui.weak(format!("{file}:{}", literal.line));
            return;
        };
        // Ids of their own, not of their place: an editor keeps its drag or its typing when a
        // row above it comes or goes.
        let id = egui::Id::new(("relive-literal", &key.file, &key.item, key.index));
        let base = parse(&literal.kind, &literal.text);
        match value {
            LiteralValue::Float(mut v) => {
                let speed = (v.abs() * 0.005).max(0.001);
                let response = ui
                    .push_id(id, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut v)
                                .speed(speed)
                                .max_decimals(6)
                                .update_while_editing(false),
                        )
                    })
                    .inner;
                self.number(key, &response, LiteralValue::Float(v), base.as_ref());
            }
            LiteralValue::Int(v) => {
                let mut n = v as i64;
                let response = ui
                    .push_id(id, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut n)
                                .speed(0.25)
                                .update_while_editing(false),
                        )
                    })
                    .inner;
                self.number(
                    key,
                    &response,
                    LiteralValue::Int(i128::from(n)),
                    base.as_ref(),
                );
            }
            LiteralValue::Bool(mut b) => {
                if ui.checkbox(&mut b, "").changed() {
                    self.set.insert(key.clone(), LiteralValue::Bool(b));
                    self.edits.push(Edit::Write(key.clone(), b.to_string()));
                }
            }
            LiteralValue::Char(_) | LiteralValue::Str(_) => {
                let shown = match &value {
                    LiteralValue::Char(c) => c.to_string(),
                    LiteralValue::Str(s) => s.clone(),
                    _ => String::new(),
                };
                let mut text = self.typing.get(key).cloned().unwrap_or(shown);
                let response = ui.add(
                    egui::TextEdit::singleline(&mut text)
                        .id(id)
                        .desired_width(140.0),
                );
                if response.has_focus() {
                    self.typing.insert(key.clone(), text.clone());
                }
                if response.lost_focus() {
                    self.typing.remove(key);
                    let new = match value {
                        LiteralValue::Char(_) => {
                            let mut chars = text.chars();
                            match (chars.next(), chars.next()) {
                                (Some(c), None) => Some(LiteralValue::Char(c)),
                                _ => {
                                    self.note(key, "a char is one character".into(), true);
                                    None
                                }
                            }
                        }
                        _ => Some(LiteralValue::Str(text)),
                    };
                    if let Some(new) = new.filter(|n| *n != value) {
                        self.edits.push(Edit::Write(key.clone(), typed(&new)));
                        self.set.insert(key.clone(), new);
                    }
                }
            }
        }
        let place = ui.weak(format!("{file}:{}", literal.line));
        if let Some(note) = self.notes.get(key).filter(|n| n.at.elapsed() < NOTE_FOR) {
            let color = if note.problem {
                PROBLEM
            } else {
                ui.visuals().weak_text_color()
            };
            place.on_hover_text(egui::RichText::new(&note.text).color(color));
        }
    }

    /// A number's editor: in the game while dragged, written when let go or typed. `base`: the
    /// literal as the running build has it. A click, or a value typed as it was, writes nothing.
    fn number(
        &mut self,
        key: &LiteralKey,
        response: &egui::Response,
        value: LiteralValue,
        base: Option<&LiteralValue>,
    ) {
        let current = self.set.get(key).or(base).cloned();
        if response.changed() && current.as_ref() != Some(&value) {
            self.set.insert(key.clone(), value.clone());
            if response.dragged() {
                self.edits.push(Edit::Apply(key.clone(), value.clone()));
            } else {
                self.edits.push(Edit::Write(key.clone(), typed(&value)));
            }
        }
        if response.drag_stopped()
            && let Some(value) = self.set.get(key)
            && Some(value) != base
        {
            self.edits.push(Edit::Write(key.clone(), typed(value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_texts_read_as_their_values_and_values_type_back_as_literals() {
        assert_eq!(parse("int", "1_000"), Some(LiteralValue::Int(1000)));
        assert_eq!(parse("int", "-3i32"), Some(LiteralValue::Int(-3)));
        assert_eq!(parse("int", "0xff"), Some(LiteralValue::Int(255)));
        assert_eq!(parse("int", "0xffu8"), Some(LiteralValue::Int(255)));
        assert_eq!(parse("float", "2.5f32"), Some(LiteralValue::Float(2.5)));
        assert_eq!(parse("float", "-1e3"), Some(LiteralValue::Float(-1000.0)));
        assert_eq!(parse("bool", "true"), Some(LiteralValue::Bool(true)));
        assert_eq!(parse("char", "'\\n'"), Some(LiteralValue::Char('\n')));
        assert_eq!(
            parse("str", "\"a \\\"b\\\"\""),
            Some(LiteralValue::Str("a \"b\"".into()))
        );
        assert_eq!(typed(&LiteralValue::Float(450.0)), "450.0");
        assert_eq!(
            typed(&LiteralValue::Str("a \"b\"".into())),
            "\"a \\\"b\\\"\""
        );
        assert_eq!(typed(&LiteralValue::Char('x')), "'x'");
    }

    #[test]
    fn consts_go_by_their_name_and_other_literals_by_their_place() {
        let key = |item: &str, index| LiteralKey {
            krate: "w".into(),
            file: "src/lib.rs".into(),
            item: item.into(),
            index,
        };
        assert_eq!(name(&key("SPEED", 0), true), "SPEED");
        assert_eq!(name(&key("COLOR", 1), false), "COLOR#1");
        assert_eq!(name(&key("update", 3), false), "update#3");
        assert_eq!(name(&key("Player::step", 0), true), "Player::step#0");
    }
}
