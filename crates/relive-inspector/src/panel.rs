//! The panel's layout: relive's status and notes at the top, the time controls, the watch list,
//! the plots, the state's tree with its filter, and the tweakable literals.

use std::sync::Arc;

use relive::{Interface, Worker};

use crate::core::Inspector;
use crate::model::{Filter, display_path};
use crate::widgets::{PROBLEM, Row};

/// The panel's width when it first opens (the user can drag its edge).
const WIDTH: f32 = 380.0;

impl Inspector {
    /// Draws the panel into `ctx` for this frame, reading `game` (its status, history and
    /// loop); what the user does is applied by the next [`Inspector::update`].
    pub fn ui<C: ?Sized + Interface + 'static>(&mut self, ctx: &egui::Context, game: &Worker<C>) {
        egui::SidePanel::right("relive-inspector")
            .resizable(true)
            .default_width(WIDTH)
            .show(ctx, |ui| {
                ui.heading("relive inspector");
                self.status_ui(ui, game);
                // The panel's note has a line of its own, empty without one: the controls
                // below never move under the pointer when a note comes or goes.
                match self.note_at("").cloned() {
                    Some(note) => {
                        let color = if note.problem {
                            PROBLEM
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.label(egui::RichText::new(note.text).color(color));
                    }
                    None => {
                        ui.label(" ");
                    }
                }
                ui.separator();
                self.time_ui(ui, game);
                ui.separator();
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        if !self.watch.is_empty() {
                            egui::CollapsingHeader::new("Watch")
                                .id_salt("relive-watch")
                                .default_open(true)
                                .show(ui, |ui| self.watch_ui(ui, game));
                        }
                        if !self.plots.is_empty() {
                            egui::CollapsingHeader::new("Plots")
                                .id_salt("relive-plots")
                                .default_open(true)
                                .show(ui, |ui| self.plots_ui(ui));
                        }
                        egui::CollapsingHeader::new("State")
                            .id_salt("relive-state")
                            .default_open(true)
                            .show(ui, |ui| self.state_ui(ui, game));
                        egui::CollapsingHeader::new(format!("Literals ({})", self.literals.len()))
                            .id_salt("relive-literals")
                            .default_open(true)
                            .show(ui, |ui| self.literals.ui(ui));
                    });
            });
    }

    /// The filter and the tree (of the frame the slider shows, while it is dragged).
    fn state_ui<C: ?Sized + Interface + 'static>(&mut self, ui: &mut egui::Ui, game: &Worker<C>) {
        if let Some(error) = &self.state_error {
            ui.label(egui::RichText::new(error).color(PROBLEM));
        }
        let scrubbing = self.scrub_state.clone();
        let Some(state) = scrubbing
            .as_ref()
            .map(|(_, s)| Arc::clone(s))
            .or_else(|| self.state.clone())
        else {
            if self.state_error.is_none() {
                ui.label("reading the state…");
            }
            return;
        };
        ui.horizontal(|ui| {
            ui.label("Filter");
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .id_salt("relive-filter")
                    .hint_text("path, e.g. speed")
                    .desired_width(160.0),
            );
            if !self.filter.is_empty() && ui.small_button("✖").clicked() {
                self.filter.clear();
            }
        });
        let filter = Filter::new(&state, &self.filter);
        if !filter.is_empty() {
            ui.label(format!("{} matching", filter.matches));
        }
        if let Some((frame, _)) = &scrubbing {
            ui.label(format!(
                "frame {frame} (release the slider to go back to it)"
            ));
        }
        let size = if self.state_bytes >= 10_000 {
            format!("{} KB as JSON", self.state_bytes / 1000)
        } else {
            format!("{} bytes as JSON", self.state_bytes)
        };
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let read = if self.refresh_in_frame < self.refresh_cost {
            format!(
                "{size}, read aside in {:.0} ms ({:.2} ms of it in the game's frame)",
                ms(self.refresh_cost),
                ms(self.refresh_in_frame)
            )
        } else {
            format!("{size}, read in {:.2} ms", ms(self.refresh_cost))
        };
        // One line, whatever its length (the whole on hover): the tree below does not move
        // when the way the state is read changes.
        ui.add(egui::Label::new(egui::RichText::new(read).weak()).truncate());
        let editable = scrubbing.is_none();
        ui.add_enabled_ui(editable, |ui| {
            Row::children(self, ui, game, &state, "", &filter);
        });
    }

    /// The pinned paths, each with its editor, or what happened to it.
    fn watch_ui<C: ?Sized + Interface + 'static>(&mut self, ui: &mut egui::Ui, game: &Worker<C>) {
        let Some(state) = self.state.clone() else {
            return;
        };
        let filter = Filter::default();
        for pointer in self.watch.clone() {
            ui.horizontal(|ui| {
                if ui.small_button("✖").on_hover_text("unpin").clicked() {
                    self.watch.retain(|w| *w != pointer);
                }
                match state.pointer(&pointer) {
                    Some(value) => Row {
                        key: display_path(&pointer),
                        pointer: &pointer,
                        value,
                    }
                    .show(self, ui, game, &filter),
                    None => {
                        ui.label(
                            egui::RichText::new(format!(
                                "{}: no such value in v{}'s state (renamed or removed?)",
                                display_path(&pointer),
                                game.version()
                            ))
                            .color(PROBLEM),
                        );
                    }
                }
            });
        }
    }
}
