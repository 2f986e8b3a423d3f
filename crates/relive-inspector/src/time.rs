//! The panel's time controls (pause, step, the history slider, the loop), its plots and
//! relive's status.

use relive::{Interface, LoopState, Status, Worker};

use crate::core::{Action, Inspector};
use crate::model::display_path;
use crate::widgets::PROBLEM;

impl Inspector {
    /// relive's status: the running version and the last reload with its phases, a failed
    /// build with its error and where, a panic with where and how often.
    pub(crate) fn status_ui<C: ?Sized + Interface + 'static>(
        &self,
        ui: &mut egui::Ui,
        game: &Worker<C>,
    ) {
        let Some(status) = game.status() else {
            ui.label(format!("v{}", game.version()));
            return;
        };
        let color = if status.is_problem() {
            PROBLEM
        } else {
            ui.visuals().text_color()
        };
        let text = match &status {
            Status::BuildFailed {
                version,
                rendered: Some(rendered),
                ..
            } => {
                ui.label(
                    egui::RichText::new(format!("build failed (v{version} keeps running)"))
                        .color(color),
                );
                // The compiler's whole first error, as the terminal shows it.
                let rendered = crate::model::without_ansi(rendered);
                ui.label(
                    egui::RichText::new(rendered.trim_end())
                        .monospace()
                        .color(color),
                );
                return;
            }
            // egui's font has no arrow; the terminal's `→` reads as `->` here.
            other => other.to_string().replace('\u{2192}', "->"),
        };
        // One line, whatever its length (the whole on hover): the controls below stay where
        // they are while the status changes.
        ui.add(egui::Label::new(egui::RichText::new(&text).color(color)).truncate())
            .on_hover_text(text);
    }

    /// Pause, step, the slider over the kept history, and the loop's buttons.
    pub(crate) fn time_ui<C: ?Sized + Interface + 'static>(
        &mut self,
        ui: &mut egui::Ui,
        game: &Worker<C>,
    ) {
        ui.horizontal(|ui| {
            let label = if self.paused { "▶ Play" } else { "⏸ Pause" };
            if ui.button(label).clicked() {
                self.actions.push(Action::Pause(!self.paused));
            }
            if ui
                .add_enabled(self.paused, egui::Button::new("⏭ Step"))
                .on_hover_text("one frame of play")
                .clicked()
            {
                self.actions.push(Action::Step);
            }
            match game.loop_state() {
                LoopState::Off => {
                    if ui
                        .button("⏺ Record loop")
                        .on_hover_text("record from now; end it to play it again and again")
                        .clicked()
                    {
                        self.actions.push(Action::LoopStart);
                    }
                }
                LoopState::Armed | LoopState::Recording { .. } => {
                    let frames = match game.loop_state() {
                        LoopState::Recording { frames } => frames,
                        _ => 0,
                    };
                    if ui
                        .button(format!("⏹ End loop ({frames} frames)"))
                        .on_hover_text("play the recording from its start, again and again")
                        .clicked()
                    {
                        self.actions.push(Action::LoopEnd);
                    }
                }
                LoopState::Playing {
                    pass,
                    frame,
                    frames,
                } => {
                    ui.label(format!("loop pass {pass}, {frame}/{frames}"));
                    if ui.button("⏹ Stop loop").clicked() {
                        self.actions.push(Action::LoopStop);
                    }
                }
            }
        });
        let Some((oldest, newest)) = game.history_frames() else {
            match game.history_off() {
                Some(why) => ui.weak(format!("no history to scrub: {why}")),
                None if game.is_supervised() => ui.weak(
                    "no history kept in this session (`cargo relive run --history MB` keeps one)",
                ),
                None => ui.weak("no history kept (run under `cargo relive run` to scrub)"),
            };
            return;
        };
        let mut frame = self.scrub.unwrap_or(newest);
        ui.spacing_mut().slider_width = (ui.available_width() - 110.0).max(100.0);
        let response = ui
            .add(
                egui::Slider::new(&mut frame, oldest..=newest.max(oldest))
                    .text("frame")
                    .clamping(egui::SliderClamping::Always),
            )
            .on_hover_text("drag to see a frame of the last seconds; release to go back to it");
        if response.dragged() {
            self.actions.push(Action::Scrub(frame));
        } else if response.drag_stopped() || (response.changed() && self.scrub.is_none()) {
            self.actions.push(Action::RewindTo(frame));
        } else if self.scrub.is_some() && !response.dragged() {
            // The drag ended off the slider.
            self.actions.push(Action::RewindTo(frame));
        }
    }

    /// Each plot: the value over the kept frames, live.
    pub(crate) fn plots_ui(&mut self, ui: &mut egui::Ui) {
        let mut remove = None;
        for (i, plot) in self.plots.iter().enumerate() {
            ui.horizontal(|ui| {
                if ui
                    .small_button("✖")
                    .on_hover_text("remove the plot")
                    .clicked()
                {
                    remove = Some(i);
                }
                let last = plot.points.last().map(|p| p[1]);
                ui.label(match last {
                    Some(y) => format!("{} = {y:.3}", display_path(&plot.pointer)),
                    None => format!("{}: no value", display_path(&plot.pointer)),
                });
            });
            if plot.points.is_empty() {
                ui.label(egui::RichText::new("no number at this path now").color(PROBLEM));
                continue;
            }
            egui_plot::Plot::new(("relive-plot", &plot.pointer))
                .height(110.0)
                .allow_scroll(false)
                .show(ui, |p| {
                    p.line(egui_plot::Line::new(egui_plot::PlotPoints::from(
                        plot.points.clone(),
                    )));
                });
        }
        if let Some(i) = remove {
            self.plots.remove(i);
        }
    }
}
