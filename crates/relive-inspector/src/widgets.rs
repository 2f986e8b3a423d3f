//! The tree's rows: a node with its children, or a leaf with its editor (a number dragged or
//! typed, a checkbox, a string, an enum's variants, a colour), each with a menu (watch, plot,
//! `None`, edit as JSON, add and remove items).

use relive::{Interface, Worker};
use serde_json::Value;

use crate::core::{Action, Inspector};
use crate::model::{self, ColorShape, Filter, Number, child_pointer, display_path, last_key};

/// The colour of a problem (an edit refused, a value the game overwrote).
pub(crate) const PROBLEM: egui::Color32 = egui::Color32::from_rgb(255, 130, 110);

/// Items of a sequence shown at once (a page; the rest behind "more").
const PAGE: usize = 100;

/// Probing an enum's variants decodes the whole state: only for states up to this size.
const PROBE_UP_TO: usize = 256 * 1024;

/// One node of the tree.
pub(crate) struct Row<'a> {
    /// The label: the field's name or the item's index.
    pub(crate) key: String,
    pub(crate) pointer: &'a str,
    pub(crate) value: &'a Value,
}

impl Row<'_> {
    /// The children of `value` (at `pointer`), each as a row.
    pub(crate) fn children<C: ?Sized + Interface + 'static>(
        inspector: &mut Inspector,
        ui: &mut egui::Ui,
        game: &Worker<C>,
        value: &Value,
        pointer: &str,
        filter: &Filter,
    ) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_pointer = child_pointer(pointer, key);
                    Row {
                        key: key.clone(),
                        pointer: &child_pointer,
                        value: child,
                    }
                    .show(inspector, ui, game, filter);
                }
            }
            Value::Array(items) => {
                let shown = items.len().min(PAGE);
                for (i, child) in items.iter().enumerate().take(shown) {
                    let child_pointer = child_pointer(pointer, &i.to_string());
                    Row {
                        key: format!("[{i}]"),
                        pointer: &child_pointer,
                        value: child,
                    }
                    .show(inspector, ui, game, filter);
                }
                if items.len() > shown {
                    ui.weak(format!(
                        "… {} more (filter by index to reach one, e.g. `[{}]`)",
                        items.len() - shown,
                        items.len() - 1
                    ));
                }
                if ui
                    .small_button("+ item")
                    .on_hover_text("add a copy of the last item")
                    .clicked()
                {
                    match items.last() {
                        Some(last) => {
                            let mut grown = items.clone();
                            grown.push(last.clone());
                            inspector.actions.push(Action::Replace {
                                pointer: pointer.to_owned(),
                                value: Value::Array(grown),
                            });
                        }
                        None => {
                            inspector.json_edit = Some((pointer.to_owned(), "[]".to_owned()));
                        }
                    }
                }
            }
            leaf => {
                Row {
                    key: String::new(),
                    pointer,
                    value: leaf,
                }
                .show(inspector, ui, game, filter);
            }
        }
    }

    /// The row, when the filter keeps it: a collapsible node, or a leaf with its editor.
    pub(crate) fn show<C: ?Sized + Interface + 'static>(
        self,
        inspector: &mut Inspector,
        ui: &mut egui::Ui,
        game: &Worker<C>,
        filter: &Filter,
    ) {
        if !filter.keeps(self.pointer) {
            return;
        }
        let color = model::color_shape(&last_key(self.pointer), self.value);
        let response = match self.value {
            Value::Object(_) | Value::Array(_) if color.is_none() => {
                let header = egui::CollapsingHeader::new(format!(
                    "{}  {}",
                    self.key,
                    model::preview(self.value)
                ))
                .id_salt(("relive-node", self.pointer));
                let header = if filter.is_empty() {
                    header
                } else {
                    header.open(Some(true))
                };
                let shown = header.show(ui, |ui| {
                    Row::children(inspector, ui, game, self.value, self.pointer, filter);
                });
                shown.header_response
            }
            _ => {
                ui.horizontal(|ui| {
                    if !self.key.is_empty() {
                        ui.label(&self.key);
                    }
                    self.editor(inspector, ui, game, color)
                })
                .inner
            }
        };
        response.context_menu(|ui| self.menu(inspector, ui, game));
        if let Some(note) = inspector.note_at(self.pointer) {
            let color = if note.problem {
                PROBLEM
            } else {
                ui.visuals().weak_text_color()
            };
            ui.label(egui::RichText::new(&note.text).color(color).small());
        }
        if let Some((pointer, text)) = &mut inspector.json_edit
            && pointer == self.pointer
        {
            let mut done = None;
            ui.horizontal(|ui| {
                let edit = ui.add(
                    egui::TextEdit::singleline(text)
                        .id_salt(("relive-json", self.pointer))
                        .desired_width(200.0),
                );
                if ui.small_button("set").clicked()
                    || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
                {
                    done = Some(true);
                }
                if ui.small_button("cancel").clicked() {
                    done = Some(false);
                }
            });
            match done {
                Some(true) => {
                    let (pointer, text) = inspector.json_edit.take().unwrap_or_default();
                    match serde_json::from_str(&text) {
                        Ok(value) => inspector.actions.push(Action::Replace { pointer, value }),
                        Err(e) => inspector.note(&pointer, format!("not JSON: {e}"), true),
                    }
                }
                Some(false) => inspector.json_edit = None,
                None => {}
            }
        }
    }

    /// The leaf's editor; its response carries the row's menu.
    fn editor<C: ?Sized + Interface + 'static>(
        &self,
        inspector: &mut Inspector,
        ui: &mut egui::Ui,
        game: &Worker<C>,
        color: Option<ColorShape>,
    ) -> egui::Response {
        let pointer = self.pointer;
        let set = |inspector: &mut Inspector, value: Value| {
            inspector.actions.push(Action::Set {
                pointer: pointer.to_owned(),
                value,
            });
        };
        if let Some(shape) = color {
            let mut rgba = model::color_of(self.value, shape);
            let response = ui.color_edit_button_rgba_unmultiplied(&mut rgba);
            if response.changed() {
                set(inspector, model::color_value(rgba, shape, self.value));
            }
            ui.weak(format!(
                "{:.2} {:.2} {:.2} {:.2}",
                rgba[0], rgba[1], rgba[2], rgba[3]
            ));
            return response;
        }
        match self.value {
            Value::Bool(b) => {
                let mut b = *b;
                let response = ui.checkbox(&mut b, "");
                if response.changed() {
                    set(inspector, Value::Bool(b));
                }
                response
            }
            Value::Number(_) => self.number(inspector, ui),
            Value::String(s) => self.string(inspector, ui, game, s),
            Value::Null => {
                let response = ui.label("None");
                if let Some(previous) = inspector.remembered.get(pointer).cloned()
                    && ui
                        .small_button("Some")
                        .on_hover_text(format!("back to {previous}"))
                        .clicked()
                {
                    inspector.actions.push(Action::Replace {
                        pointer: pointer.to_owned(),
                        value: previous,
                    });
                }
                if ui
                    .small_button("set…")
                    .on_hover_text("type a value as JSON")
                    .clicked()
                {
                    inspector.json_edit = Some((pointer.to_owned(), String::new()));
                }
                response
            }
            other => ui.label(other.to_string()),
        }
    }

    /// A number: dragged (it follows the drag, not the game, until released) or typed; an
    /// integer stays an integer.
    fn number(&self, inspector: &mut Inspector, ui: &mut egui::Ui) -> egui::Response {
        let pointer = self.pointer;
        let Some(number) = Number::of(self.value) else {
            return ui.label(self.value.to_string());
        };
        let held = inspector
            .dragging
            .as_ref()
            .filter(|(p, _)| p == pointer)
            .map(|(_, v)| *v);
        let (response, value) = match number {
            Number::Float(f) => {
                let mut v = held.unwrap_or(f);
                let speed = (v.abs() * 0.005).max(0.01);
                let response = ui.add(egui::DragValue::new(&mut v).speed(speed).max_decimals(6));
                (response, Value::from(v))
            }
            Number::Unsigned(_) | Number::Signed(_) => {
                let mut v = held.map_or(number.as_f64() as i64, |h| h.round() as i64);
                let response = ui.add(egui::DragValue::new(&mut v).speed(0.25));
                (response, Value::from(v))
            }
        };
        // An edit that costs more than a frame has (a large state: the worker decodes all of
        // it) is applied when the drag ends; the number follows the drag meanwhile.
        // Before the first edit, a state large enough to be read aside is taken to be that slow.
        let slow = inspector.edit_cost > crate::core::EDIT_IN_FRAME
            || inspector.state_bytes > crate::read::ASIDE_FROM_BYTES;
        if response.drag_started() && slow {
            let why = if inspector.edit_cost > crate::core::EDIT_IN_FRAME {
                format!(
                    "an edit of this state takes {:.0} ms",
                    inspector.edit_cost.as_secs_f64() * 1e3
                )
            } else {
                format!(
                    "an edit decodes the whole state ({} KB)",
                    inspector.state_bytes / 1000
                )
            };
            inspector.note(pointer, format!("applied when you let go: {why}"), false);
        }
        let released = held.is_some() && !response.dragged();
        if response.dragged() {
            inspector.dragging = value.as_f64().map(|v| (pointer.to_owned(), v));
        } else if held.is_some() {
            inspector.dragging = None;
        }
        let apply = if slow && response.dragged() {
            false
        } else {
            response.changed() || (slow && released)
        };
        if apply && !model::still_holds(&value, self.value) {
            inspector.actions.push(Action::Set {
                pointer: pointer.to_owned(),
                value,
            });
        }
        response
    }

    /// A string: a text field that keeps what the user types while it has focus, or the
    /// variants of an enum (listed by the worker's own decoder) to pick from.
    fn string<C: ?Sized + Interface + 'static>(
        &self,
        inspector: &mut Inspector,
        ui: &mut egui::Ui,
        game: &Worker<C>,
        current: &str,
    ) -> egui::Response {
        let pointer = self.pointer;
        if !inspector.variants.contains_key(pointer)
            && looks_like_variant(current)
            && inspector.state_bytes <= PROBE_UP_TO
            && let Some(state) = &inspector.state
        {
            let found = probe_variants(game, state, pointer);
            inspector.variants.insert(pointer.to_owned(), found);
        }
        if let Some(Some(variants)) = inspector.variants.get(pointer).cloned() {
            let mut picked = current.to_owned();
            let response = egui::ComboBox::from_id_salt(("relive-variant", pointer))
                .selected_text(&picked)
                .show_ui(ui, |ui| {
                    for v in &variants {
                        ui.selectable_value(&mut picked, v.clone(), v);
                    }
                })
                .response;
            if picked != current {
                inspector.actions.push(Action::Replace {
                    pointer: pointer.to_owned(),
                    value: Value::String(picked),
                });
            }
            return response;
        }
        let mut text = inspector
            .typing
            .get(pointer)
            .cloned()
            .unwrap_or_else(|| current.to_owned());
        let response = ui.add(
            egui::TextEdit::singleline(&mut text)
                .id_salt(("relive-text", pointer))
                .desired_width(180.0),
        );
        if response.has_focus() {
            if response.changed() {
                inspector.actions.push(Action::Set {
                    pointer: pointer.to_owned(),
                    value: Value::String(text.clone()),
                });
            }
            inspector.typing.insert(pointer.to_owned(), text);
        } else {
            inspector.typing.remove(pointer);
        }
        response
    }

    /// The row's menu: watch, plot, `None`, edit as JSON, remove, copy the path.
    fn menu<C: ?Sized + Interface + 'static>(
        &self,
        inspector: &mut Inspector,
        ui: &mut egui::Ui,
        game: &Worker<C>,
    ) {
        let pointer = self.pointer;
        ui.label(egui::RichText::new(display_path(pointer)).strong());
        if ui.button("Watch").clicked() {
            inspector.watch(pointer);
            ui.close_menu();
        }
        if self.value.is_number() && ui.button("Plot").clicked() {
            inspector.add_plot(game, pointer);
            ui.close_menu();
        }
        if !self.value.is_null() && ui.button("Set to None").clicked() {
            inspector
                .remembered
                .insert(pointer.to_owned(), self.value.clone());
            inspector.actions.push(Action::Replace {
                pointer: pointer.to_owned(),
                value: Value::Null,
            });
            ui.close_menu();
        }
        if ui.button("Edit as JSON…").clicked() {
            inspector.json_edit = Some((pointer.to_owned(), self.value.to_string()));
            ui.close_menu();
        }
        if !pointer.is_empty() && ui.button("Remove").clicked() {
            inspector.actions.push(Action::Remove {
                pointer: pointer.to_owned(),
            });
            ui.close_menu();
        }
        if ui.button("Copy path").clicked() {
            ui.ctx().copy_text(pointer.to_owned());
            ui.close_menu();
        }
    }
}

/// Whether a string could be a unit variant's name (`Playing`, `GameOver`): worth asking the
/// decoder for the others.
fn looks_like_variant(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variants of the enum at `pointer`, as the worker's decoder lists them when it refuses a
/// name no enum has; `None` when it takes any string (a plain `String`).
fn probe_variants<C: ?Sized + Interface + 'static>(
    game: &Worker<C>,
    state: &Value,
    pointer: &str,
) -> Option<Vec<String>> {
    let mut probe = state.clone();
    *probe.pointer_mut(pointer)? = Value::String("relive inspector probe".to_owned());
    let message = game.check_state_json(&probe).err()?.to_string();
    variants_in(&message)
}

/// The names serde's "unknown variant" message lists: "expected one of `A`, `B`", "expected
/// `A` or `B`", "expected `A`".
pub(crate) fn variants_in(message: &str) -> Option<Vec<String>> {
    let (_, after) = message.split_once("unknown variant")?;
    let (_, expected) = after.split_once("expected")?;
    // Up to where relive adds the path: `(at `/mode`)`.
    let expected = expected.split(" (at ").next().unwrap_or(expected);
    let names: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::{looks_like_variant, variants_in};

    #[test]
    fn serde_s_unknown_variant_messages_give_the_variants() {
        assert_eq!(
            variants_in(
                "unknown variant `x`, expected one of `Menu`, `Playing`, `Over` (at `/mode`)"
            ),
            Some(vec!["Menu".into(), "Playing".into(), "Over".into()])
        );
        assert_eq!(
            variants_in("unknown variant `x`, expected `A` or `B`"),
            Some(vec!["A".into(), "B".into()])
        );
        assert_eq!(variants_in("invalid type: string, expected u32"), None);
        assert!(looks_like_variant("GameOver"));
        assert!(!looks_like_variant("hello world"));
        assert!(!looks_like_variant("lower"));
    }
}
