//! relive's in-window inspector: the running game's state as an [egui](https://docs.rs/egui)
//! panel over the game, read from the worker's own serde output and edited through the worker's
//! own decode (what `cargo relive state set` does), with time controls (pause, step, a slider
//! over the kept history, loop record / play / stop), plots of any number over the history, and
//! relive's status (the last reload and its phases, a failed build, a panic).
//!
//! Everything here lives in the host: nothing is compiled into the worker, whose rebuild stays
//! what it was. A ship build (the `static` feature, which `cargo relive build` turns on through
//! the host's `static` feature) compiles the panel out: the front end's `update` calls the game's
//! `update` and nothing else, and the binary holds no egui code.
//!
//! The engine-agnostic part is [`Inspector`]: [`Inspector::ui`] draws the panel into an
//! `egui::Context` the host owns, [`Inspector::update`] runs the game's frame (or a frozen one,
//! while paused or scrubbing) and applies the edits. The `macroquad` feature adds
//! [`macroquad::Overlay`], which owns the egui context, draws it in macroquad's window, opens and
//! closes on a key (F1), and keeps the game from also acting on input the panel takes.
//!
//! ```ignore
//! let mut inspector = relive_inspector::macroquad::Overlay::new()
//!     .isolate(&base::prelude::RELIVE_READS); // engine-direct: the worker reads input itself
//! loop {
//!     let _ = inspector.update(&mut game, &mut ());
//!     inspector.draw();
//!     next_frame().await;
//! }
//! ```

#![deny(missing_docs)]

#[cfg(not(feature = "static"))]
mod core;
#[cfg(not(feature = "static"))]
mod literals;
#[cfg(not(feature = "static"))]
pub mod model;
#[cfg(not(feature = "static"))]
mod panel;
#[cfg(not(feature = "static"))]
mod read;
#[cfg(not(feature = "static"))]
mod time;
#[cfg(not(feature = "static"))]
mod widgets;

#[cfg(not(feature = "static"))]
pub use crate::core::Inspector;

#[cfg(feature = "macroquad")]
pub mod macroquad;
