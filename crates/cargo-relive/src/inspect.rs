//! `cargo relive inspect`: the running game's state as a tree that refreshes while the game runs.
//!
//! ↑/↓ (or k/j) move, ←/→ (or Enter) fold and unfold, `e` edits a number, string or bool in place
//! (Enter sets it through the worker's own decode, Esc cancels), space flips a bool, q quits.
//!
//! `[` and `]` scrub through the rewind history (a frame at a time; PgUp and PgDn a second at a
//! time): the tree shows the state kept for that frame while the game plays on; `r` rewinds the
//! game to it, Esc returns to the live state.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{List, ListItem, ListState, Paragraph};
use serde_json::{Value, json};

use crate::control;
use crate::project::Project;

/// One visible line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// JSON pointer of the value.
    pub pointer: String,
    /// Nesting depth.
    pub depth: usize,
    /// The key or index.
    pub label: String,
    /// The value, or a summary for an object or array.
    pub text: String,
    /// Whether it has children.
    pub container: bool,
}

/// Flattens `value` into rows, skipping the children of folded containers.
pub fn rows(value: &Value, folded: &BTreeSet<String>) -> Vec<Row> {
    let mut out = Vec::new();
    walk(
        value,
        String::new(),
        "state".to_owned(),
        0,
        folded,
        &mut out,
    );
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(
    value: &Value,
    pointer: String,
    label: String,
    depth: usize,
    folded: &BTreeSet<String>,
    out: &mut Vec<Row>,
) {
    let (text, children): (String, Vec<(String, &Value)>) = match value {
        Value::Object(map) => (
            format!("{{…}} {} fields", map.len()),
            map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        ),
        Value::Array(items) => (
            format!("[…] {} items", items.len()),
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        scalar => (scalar.to_string(), Vec::new()),
    };
    let container = value.is_object() || value.is_array();
    let is_folded = folded.contains(&pointer);
    out.push(Row {
        pointer: pointer.clone(),
        depth,
        label,
        text,
        container,
    });
    if container && !is_folded {
        for (key, child) in children {
            walk(
                child,
                format!("{pointer}/{}", escape(&key)),
                key,
                depth + 1,
                folded,
                out,
            );
        }
    }
}

/// The JSON to set for `input` typed over `old`: a string stays a string, anything else is JSON.
pub fn edited_value(old: &Value, input: &str) -> Value {
    match old {
        Value::String(_) => json!(input),
        _ => serde_json::from_str(input).unwrap_or_else(|_| json!(input)),
    }
}

/// The frame of the history being looked at, and the frames kept then.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scrub {
    frame: u64,
    oldest: u64,
    newest: u64,
}

/// Frames in a second of play at the usual 60 frames a second (PgUp, PgDn).
const SECOND: u64 = 60;

struct App {
    state: Value,
    /// The history frame shown instead of the live state.
    scrub: Option<Scrub>,
    header: String,
    folded: BTreeSet<String>,
    selected: usize,
    editing: Option<String>,
    message: String,
}

/// Runs the inspector until `q`.
pub fn run(project: &Project) -> Result<i32> {
    // Fail before taking over the terminal when there is nothing to inspect.
    let first = control::request_full(project, json!({ "cmd": "get", "pointer": "" }))?;
    let mut app = App {
        state: Value::Null,
        scrub: None,
        header: String::new(),
        folded: BTreeSet::new(),
        selected: 0,
        editing: None,
        message: String::new(),
    };
    app.absorb(first);
    let mut terminal = ratatui::init();
    let result = app.event_loop(project, &mut terminal);
    ratatui::restore();
    result.map(|()| 0)
}

impl App {
    fn absorb(&mut self, answer: Value) {
        self.state = answer["ok"].clone();
        let reloaded = answer["reloaded_s_ago"]
            .as_f64()
            .map_or("not reloaded yet".to_owned(), |s| {
                format!("reloaded {s:.1}s ago")
            });
        // A loop, or something the user has to act on, is worth the header's room.
        let status = match answer["status"]["status"].as_str() {
            Some(
                "looping" | "loop_recording" | "loop_refused" | "build_failed" | "panicked"
                | "reload_refused",
            ) => format!(" · {}", answer["status_line"].as_str().unwrap_or("")),
            _ => String::new(),
        };
        self.header = format!(
            "worker v{} · {reloaded}{status} · ↑↓ move  ←→ fold  e edit  space flip  [ ] history  \
             q/Esc quit",
            answer["version"].as_u64().unwrap_or(0)
        );
    }

    fn event_loop(
        &mut self,
        project: &Project,
        terminal: &mut ratatui::DefaultTerminal,
    ) -> Result<()> {
        let mut refreshed = Instant::now();
        loop {
            let rows = rows(&self.state, &self.folded);
            self.selected = self.selected.min(rows.len().saturating_sub(1));
            terminal.draw(|frame| self.draw(frame, &rows))?;
            if event::poll(Duration::from_millis(100))?
                && let Event::Key(key) = event::read()?
                && key.kind != KeyEventKind::Release
                && !self.key(project, key.code, &rows)
            {
                return Ok(());
            }
            if self.editing.is_none() && refreshed.elapsed() >= Duration::from_millis(250) {
                refreshed = Instant::now();
                match self.scrub {
                    // The same frame again: how far back it is now, or the oldest kept once it
                    // has left the history.
                    Some(scrub) => self.show_history(
                        project,
                        json!({ "cmd": "history", "frame": scrub.frame }),
                        Some(scrub.frame),
                    ),
                    None => self.refresh(project),
                }
            }
        }
    }

    /// Handles a key; `false` to quit.
    fn key(&mut self, project: &Project, code: KeyCode, rows: &[Row]) -> bool {
        let row = rows.get(self.selected).cloned();
        if let Some(input) = &mut self.editing {
            match code {
                KeyCode::Enter => {
                    let input = input.clone();
                    self.editing = None;
                    if let Some(row) = row {
                        let old = self
                            .state
                            .pointer(&row.pointer)
                            .cloned()
                            .unwrap_or_default();
                        self.set(project, &row.pointer, edited_value(&old, &input));
                    }
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char(c) => input.push(c),
                _ => {}
            }
            return true;
        }
        if let Some(scrub) = self.scrub {
            match code {
                KeyCode::Esc => {
                    self.scrub = None;
                    self.message = "live".to_owned();
                    self.refresh(project);
                    return true;
                }
                KeyCode::Char('r') => {
                    self.rewind_to(project, scrub.frame);
                    return true;
                }
                KeyCode::Char('e' | ' ') => {
                    self.message = format!(
                        "this is frame {} of the history: `r` rewinds the game here, Esc returns \
                         to the live state, where values can be edited",
                        scrub.frame
                    );
                    return true;
                }
                _ => {}
            }
        }
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return false,
            KeyCode::Char('[') => self.scrub_by(project, -1),
            KeyCode::Char(']') => self.scrub_by(project, 1),
            KeyCode::PageUp => self.scrub_by(project, -(SECOND as i64)),
            KeyCode::PageDown => self.scrub_by(project, SECOND as i64),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(rows.len().saturating_sub(1))
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Enter => {
                if let Some(row) = row.filter(|r| r.container)
                    && !self.folded.remove(&row.pointer)
                {
                    self.folded.insert(row.pointer);
                }
            }
            KeyCode::Char('e') => {
                if let Some(row) = row.filter(|r| !r.container) {
                    let value = self
                        .state
                        .pointer(&row.pointer)
                        .cloned()
                        .unwrap_or_default();
                    self.editing = Some(match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                }
            }
            KeyCode::Char(' ') => {
                if let Some(row) = row
                    && let Some(b) = self.state.pointer(&row.pointer).and_then(Value::as_bool)
                {
                    self.set(project, &row.pointer, json!(!b));
                }
            }
            _ => {}
        }
        true
    }

    /// Moves the history frame shown by `step` frames (back when negative); past the newest
    /// frame, back to the live state.
    fn scrub_by(&mut self, project: &Project, step: i64) {
        let command = match self.scrub {
            None if step >= 0 => return,
            None => json!({ "cmd": "history", "frames": step.unsigned_abs() }),
            Some(scrub) => {
                let frame = scrub.frame.saturating_add_signed(step).max(scrub.oldest);
                if step > 0 && frame > scrub.newest {
                    self.scrub = None;
                    self.message = "live".to_owned();
                    self.refresh(project);
                    return;
                }
                json!({ "cmd": "history", "frame": frame })
            }
        };
        self.message.clear();
        self.show_history(project, command, None);
    }

    /// Shows the history state `command` asks for. `wanted`: the frame that was shown, to say
    /// so when it is no longer kept.
    fn show_history(&mut self, project: &Project, command: Value, wanted: Option<u64>) {
        match control::request(project, command) {
            Ok(kept) => {
                let scrub = Scrub {
                    frame: kept["frame"].as_u64().unwrap_or(0),
                    oldest: kept["oldest"].as_u64().unwrap_or(0),
                    newest: kept["newest"].as_u64().unwrap_or(0),
                };
                // Said once; a refusal shown meanwhile stays.
                if wanted.is_some_and(|w| w < scrub.frame) && self.message.is_empty() {
                    self.message = "that frame is no longer kept: this is the oldest one, and \
                                    `r` rewinds there"
                        .to_owned();
                }
                self.state = kept["state"].clone();
                let back = scrub.newest - scrub.frame;
                self.header = format!(
                    "history: {back} frame{} back (of {} kept) · [ ] frame  PgUp PgDn second  \
                     r rewind here  Esc live  q quit",
                    if back == 1 { "" } else { "s" },
                    scrub.newest - scrub.oldest + 1,
                );
                self.scrub = Some(scrub);
            }
            Err(e) => self.message = format!("{e:#}"),
        }
    }

    /// Rewinds the game to history frame `frame` and shows the live state again; when it is
    /// refused (a loop plays), the frame stays shown with the reason.
    fn rewind_to(&mut self, project: &Project, frame: u64) {
        match control::request(project, json!({ "cmd": "rewind", "frame": frame })) {
            Ok(answer) => {
                self.message = format!(
                    "rewound {} frames; play goes on from there",
                    answer["frames_back"].as_u64().unwrap_or(0)
                );
                self.scrub = None;
                self.refresh(project);
            }
            Err(e) => self.message = format!("{e:#}"),
        }
    }

    fn refresh(&mut self, project: &Project) {
        match control::request_full(project, json!({ "cmd": "get", "pointer": "" })) {
            Ok(answer) => self.absorb(answer),
            Err(e) => self.message = format!("{e:#}"),
        }
    }

    fn set(&mut self, project: &Project, pointer: &str, value: Value) {
        let shown = value.to_string();
        self.message = match control::request(
            project,
            json!({ "cmd": "set", "pointer": pointer, "value": value }),
        ) {
            Ok(_) => format!("set {pointer} = {shown}"),
            Err(e) => format!("refused: {e:#}"),
        };
        self.refresh(project);
    }

    fn draw(&self, frame: &mut ratatui::Frame<'_>, rows: &[Row]) {
        let [header, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        frame.render_widget(Paragraph::new(self.header.as_str()), header);
        let items: Vec<ListItem<'_>> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let marker = match (row.container, self.folded.contains(&row.pointer)) {
                    (true, true) => "▸ ",
                    (true, false) => "▾ ",
                    _ => "  ",
                };
                let value = match (&self.editing, i == self.selected) {
                    (Some(input), true) => format!("{input}▏"),
                    _ => row.text.clone(),
                };
                ListItem::new(Line::from(format!(
                    "{}{marker}{}: {value}",
                    "  ".repeat(row.depth),
                    row.label
                )))
            })
            .collect();
        let list =
            List::new(items).highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(list, body, &mut state);
        frame.render_widget(Paragraph::new(self.message.as_str()), footer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_lists_every_value_with_its_pointer_and_folds() {
        let state = json!({"player": {"x": 3, "name": "hero"}, "items": [true, null], "a/b": 1});
        let all = rows(&state, &BTreeSet::new());
        let pointers: Vec<&str> = all.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "",
                "/player",
                "/player/x",
                "/player/name",
                "/items",
                "/items/0",
                "/items/1",
                "/a~1b"
            ]
        );
        assert_eq!(all[2].text, "3");
        assert_eq!(all[3].text, "\"hero\"");
        assert_eq!(all[2].depth, 2);
        let folded: BTreeSet<String> = ["/player".to_owned()].into();
        assert_eq!(rows(&state, &folded).len(), 6);
    }

    #[test]
    fn an_edited_string_stays_a_string_and_other_values_are_json() {
        assert_eq!(edited_value(&json!("hero"), "42"), json!("42"));
        assert_eq!(edited_value(&json!(1), "42"), json!(42));
        assert_eq!(edited_value(&json!(1.5), "2.25"), json!(2.25));
        assert_eq!(edited_value(&json!(false), "true"), json!(true));
        assert_eq!(edited_value(&json!(1), "oops"), json!("oops"));
    }
}
