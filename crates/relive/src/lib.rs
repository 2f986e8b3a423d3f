//! Stateful hot reloading for Rust: the host side.
//!
//! A relive program has three crates: an interface crate (a context trait the host implements,
//! declared with [`relive_worker::context`] or [`relive_worker::interface!`]), a worker crate (the logic and its state, exported
//! with [`relive_worker::export!`], built as a `cdylib` and a `lib`) and a host binary (window,
//! input, files: everything that must outlive a reload). While the host runs, a new build of the
//! worker is swapped in at the next call, and the state is carried across by serializing it in the
//! old code and deserializing it in the new code.
//!
//! # Usage
//!
//! In the host's `Cargo.toml`, the worker is an optional dependency used only by ship builds.
//! relive itself comes from a checkout (a path dependency) or from its git repository
//! (`relive = { git = "<URL of the relive repository>" }`) until it is published on crates.io;
//! from then on, `relive = "0.1"`. `cargo relive new` writes these lines.
//!
//! ```toml
//! [dependencies]
//! relive = { path = "../relive/crates/relive" } # `relive = "0.1"` once published on crates.io
//! base = { path = "../base" }
//! worker = { path = "../worker", optional = true }
//!
//! [features]
//! static = ["dep:worker", "relive/static"]
//! ```
//!
//! In the host's code, [`worker!`] names the worker type for both modes:
//!
//! ```no_run
//! # pub trait Context { fn show(&mut self, line: &str); }
//! # relive_worker::interface!(dyn Context);
//! // `Context` is the interface crate's trait, `base::Context` in a real project.
//! relive::worker!(type Game = worker for dyn Context);
//!
//! struct Terminal;
//! impl Context for Terminal {
//!     fn show(&mut self, line: &str) {
//!         println!("{line}");
//!     }
//! }
//!
//! fn main() -> Result<(), relive::Error> {
//!     let mut game = Game::new("worker")?;
//!     let events = game.subscribe();
//!     loop {
//!         if let Err(e) = game.update(&mut Terminal) {
//!             eprintln!("{e}"); // a panic in the worker: fix the code and save
//!         }
//!         while let Ok(event) = events.try_recv() {
//!             eprintln!("{event:?}");
//!         }
//!     }
//! }
//! ```
//!
//! Without the `static` feature `Game` is [`Worker<dyn base::Context>`](Worker), which loads
//! `libworker.so` and reloads it when it is rebuilt; with it, `Game` is
//! [`StaticWorker<worker::ReliveExports>`](StaticWorker), a plain function call.
//!
//! # Rewind and loop
//!
//! [`Worker::keep_history`] keeps the state after each frame for [`Worker::rewind`] (and
//! [`Worker::history_state`], which looks without going back). [`Worker::loop_start`],
//! [`Worker::loop_end`] and [`Worker::loop_stop`] record a span of play (the start state and
//! every value the worker reads through a context declared with
//! [`relive_worker::context`], or through engine functions wrapped with `relive_tape::reads!`
//! and handed over with [`Worker::record_reads`]) and play it again and again, each new build
//! from the next pass. A game can bind them to keys; `cargo relive rewind` and `cargo relive
//! loop` reach the same from the command line. In a ship build none of it is compiled in.
//!
//! # Safety model
//!
//! The user writes no `unsafe`. One internal module touches the dynamic loader. A library is loaded only after its ELF headers are complete, from a fresh copy, and is
//! used only after its fingerprint (compiler, target, codegen flags, panic strategy, relive version,
//! context type, interface sources) equals the host's. The host never holds a pointer into a worker
//! image after closing it: the state is an opaque pointer dropped by the library that created it,
//! and function handles ([`Func`]) are names resolved again in each version.
//!
//! # Known problems
//!
//! - Linux x86_64 with glibc only. Host and worker must come from the same compiler and flags;
//!   a mismatch is refused, never loaded.
//! - A panic in the host's context implementation while the worker is on the stack aborts (each
//!   copy of std catches only its own panics).
//! - The worker's threads must be joined before it is reloaded; a stale mapping is reported as
//!   [`Event::StaleMapping`].
//! - Thread-local destructors of the worker are skipped (their values leak) so that old versions
//!   can be unmapped; the host executable must export `__cxa_thread_atexit_impl` for that (rust-lld
//!   and GNU ld do by default; relive warns when it is not in effect).

#![deny(missing_docs)]

// The source is in folders by concern, layered one way (each uses only those before it):
// `unload` (what lets a version leave the process), `loader` (one build, checked and opened),
// `state` (snapshots, history), `session` (events, status, the loader thread, the supervisor) and
// `hot` (the `Worker`). `error`, `literal` and `static_worker` stand beside them; see
// ARCHITECTURE.md.
mod error;
mod literal;
mod static_worker;

#[cfg(not(feature = "static"))]
mod hot;
#[cfg(not(feature = "static"))]
mod loader;
mod session;
mod state;
#[cfg(not(feature = "static"))]
mod unload;

#[cfg(not(feature = "static"))]
#[doc(hidden)]
pub mod fuzzing;

pub use error::{Error, FingerprintPart};
#[cfg(not(feature = "static"))]
pub use hot::{HistoryState, SnapshotAside, Worker};
pub use literal::{LiteralKey, LiteralValue, LiteralWrite, Tweakable, TweakedLiteral};
#[cfg(not(feature = "static"))]
pub use loader::copies::STAGED_ENV;
#[cfg(not(feature = "static"))]
pub use loader::{locate, shared_libs};
pub use relive_worker::{Exports, Interface};
pub use session::event::{Event, SwapTimings};
pub use session::status::Status;
#[cfg(not(feature = "static"))]
pub use session::supervise;
pub use state::history::{LoopState, Rewind};
pub use state::snapshot::{Format, Snapshot};
pub use static_worker::StaticWorker;
#[cfg(not(feature = "static"))]
pub use unload::tls::interposer_active;

/// A handle to an exported worker function, from `func(name)`; valid across reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func(pub(crate) usize);

/// Names the worker type for the host, hot or static depending on the host's `static` feature.
///
/// `relive::worker!(type Game = worker_crate for dyn base::Context);` expands to
/// `type Game = relive::Worker<dyn base::Context>;` normally and to
/// `type Game = relive::StaticWorker<worker_crate::ReliveExports>;` when the host crate is built
/// with its `static` feature (which must also enable `relive/static` and the worker dependency).
#[macro_export]
macro_rules! worker {
    ($vis:vis type $name:ident = $krate:ident for $ctx:ty) => {
        #[cfg(not(feature = "static"))]
        $vis type $name = $crate::Worker<$ctx>;
        #[cfg(feature = "static")]
        $vis type $name = $crate::StaticWorker<$krate::ReliveExports>;
    };
}
