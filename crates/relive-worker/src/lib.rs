//! The worker side of relive: stateful hot reloading for Rust.
//!
//! A relive worker is a crate built as a `cdylib` (loaded and reloaded by the host while it runs)
//! and as a plain `lib` (linked statically into the shipped game). This crate gives it one macro,
//! [`export!`], which turns a state type and a few functions into the library's exports, and one
//! attribute for the interface crate, [`macro@context`], which fingerprints the API the host and
//! the worker share and lets a loop record what the worker reads through it ([`interface!`] does
//! the first without the second).
//!
//! # Usage
//!
//! The interface crate (called `base`) declares the context trait the host implements, and the
//! worker crate holds the state and the logic. Here both sit in one file:
//!
//! ```
//! // In the interface crate:
//! #[relive_worker::context]
//! pub trait Context {
//!     fn print(&mut self, line: &str);
//! }
//!
//! // In the worker crate:
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default)] // a field added later starts from `State::default()`
//! pub struct State {
//!     frame: u64,
//! }
//!
//! fn update(ctx: &mut dyn Context, state: &mut State) {
//!     state.frame += 1;
//!     ctx.print(&format!("frame {}", state.frame));
//! }
//!
//! fn draw(ctx: &mut dyn Context, state: &mut State) {
//!     ctx.print(&"#".repeat(state.frame as usize));
//! }
//!
//! relive_worker::export! {
//!     state: State,
//!     context: dyn Context,
//!     update: update,
//!     functions: [draw],
//! }
//!
//! # fn main() {
//! // The static (ship) mode calls the same functions directly:
//! use relive_worker::Exports;
//! struct Out(Vec<String>);
//! impl Context for Out {
//!     fn print(&mut self, line: &str) { self.0.push(line.to_owned()) }
//! }
//! let (mut out, mut state) = (Out(Vec::new()), State::default());
//! ReliveExports::update(&mut out, &mut state);
//! let (name, draw) = ReliveExports::FUNCTIONS[1];
//! draw(&mut out, &mut state);
//! assert_eq!(name, "draw");
//! assert_eq!(out.0, ["frame 1", "#"]);
//! # }
//! ```
//!
//! # Safety model
//!
//! The user writes no `unsafe`. The state never leaves the worker's image as a Rust value: the
//! host holds an opaque pointer and moves state between versions as bytes (MessagePack with field
//! names, so fields can be added, removed and renamed). Every entry point catches panics, so a
//! panic becomes an error on the host and never unwinds across `extern "C"`.
//!
//! # Known problems
//!
//! - Linux: a panic raised by the host's context implementation while a worker function is on the
//!   stack aborts the process (the worker's copy of std does not catch another copy's panics).
//!   Context methods must not panic.
//! - A worker built with `panic = "abort"` cannot recover from a panic; the host refuses such a
//!   library when the host itself unwinds.
//! - A thread the worker spawned and did not join keeps its version mapped (the host counts such
//!   threads and closes the version at a later reload, once they end). Keep its handle in the
//!   state (`#[serde(skip)]`) and stop and join it in the state's `Drop` to let each version go.
//! - `static`s and `OnceLock`s of the worker start fresh in every version; keep what must survive
//!   in the state or on the host.
//!
//! # Logging
//!
//! The worker's `log` macros work as in any crate: each loaded version installs a logger that hands
//! the records to the host's logger (whatever the host set up with `env_logger`, `tracing`'s log
//! bridge, …), filtered by the host's levels. `tracing` events reach the host the same way when
//! the worker enables tracing's `log` feature (no tracing subscriber is ever set inside a worker,
//! so tracing hands its events to `log`); spans are not carried.
//!
//! # Large states
//!
//! A worker is a debug build, where serde walks a `Vec<u64>` one element at a time through
//! unoptimized code: 100 MiB take seconds to save and load. Mark such fields
//! `#[serde(with = "relive_worker::bulk")]` to carry them as one block of bytes ([`bulk`]).

#![deny(missing_docs)]

#[doc(hidden)]
pub mod __private;
#[doc(hidden)]
#[path = "tweak.rs"]
pub mod __tweak;
pub mod abi;
pub mod bulk;
mod codec;
mod logging;
mod macros;
pub use relive_tape as tape;

/// Declares the context trait of an interface crate (in place of [`interface!`]) so that what the
/// worker reads through it can be recorded and replayed: a loop (`cargo relive loop`).
///
/// ```
/// #[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
/// pub enum Key { Left, Right }
///
/// #[relive_worker::context]
/// pub trait Context {
///     /// A read: recorded while a loop records, answered from the recording while it replays.
///     fn key(&self) -> Option<Key>;
///     /// A write (returns nothing): always reaches the host.
///     fn draw(&mut self, x: u16, y: u16, text: &str);
/// }
/// # fn main() {}
/// ```
///
/// It implements [`Interface`] for `dyn Context` as [`interface!`] does (the fingerprint of
/// `src/lib.rs`, or of the files given: `#[relive_worker::context(files = ["src/lib.rs",
/// "src/input.rs"])]`), and the context trait for [`tape::Taped`]. A method that returns a value
/// is a read; its type must be serde's `Serialize + Deserialize` to be recorded. A read that
/// cannot be recorded (its type has no serde impls, it returns a reference, or it takes a `&mut`
/// argument the host may write into) still works; a loop whose recording reads it is refused with
/// the method's name.
pub use relive_macros::context;

pub use relive_tape::reads;

/// Makes every literal of a function, an `impl` block, an inline module or a `const` tweakable:
/// while `cargo relive run` runs, a save that changes only such literals takes effect at the
/// next frame, without a rebuild (the rebuild follows, and its literals agree).
///
/// ```
/// use relive_worker::tweak;
///
/// #[tweak]
/// const SPEED: f32 = 300.0;
///
/// #[tweak]
/// fn step(x: f32, dt: f32) -> f32 {
///     (x + SPEED * dt).min(640.0) // `SPEED` and `640.0` are both tweakable here
/// }
///
/// #[tweak]
/// fn label(x: f32) -> String {
///     format!("{x:.0} of {SPEED}, {}", SPEED / 2.0) // `SPEED` and `2.0` are tweakable here too
/// }
/// # fn main() {
/// #     assert_eq!(step(0.0, 0.5), 150.0);
/// #     assert_eq!(label(1.0), "1 of 300, 150");
/// # }
/// ```
///
/// Numbers, bools, chars and strings are tweakable where a value computed at run time may stand;
/// literals in patterns, types, array lengths, generic arguments, attributes, the inputs of
/// macros other than the standard formatting ones (`format!`, `println!`, `write!`, `assert!`, …)
/// and `vec!`, `const` blocks and `const fn`s, and under a `&` made of literals only, are left as they are.
/// A marked `const` keeps its compiled value where a constant is needed (`[0; SIZE]`), and its
/// uses by name in marked items of the same file read the tweaked one. A ship build (feature
/// `static`) compiles every literal as itself.
pub use relive_macros::tweak;

pub use codec::{DecodeError, EncodeError, OldState, decode, encode};

/// The interface the host and the worker share, implemented by [`interface!`] for the context
/// trait object (`dyn Context`).
pub trait Interface {
    /// Fingerprint of the interface crate's sources: when it differs between the host and a
    /// worker, the host was built against another version of the interface and must restart.
    const FINGERPRINT: u64;

    /// The context's method names, by index, when its reads can be recorded for a loop (the
    /// trait was declared with [`macro@context`]); `None` when they cannot (declared with
    /// [`interface!`], or no context).
    const TAPE: Option<&'static [&'static str]> = None;

    /// Runs `run` with `ctx` wrapped so that what the worker reads through it is recorded on
    /// `tape`, or answered from it (see [`tape`]). [`macro@context`] implements it; the default
    /// runs `run(ctx)` and records nothing.
    fn with_tape(ctx: &mut Self, tape: &tape::Tape, run: &mut dyn FnMut(&mut Self)) {
        let _ = tape;
        run(ctx)
    }
}

/// No context: for a worker that calls its engine directly (a shared `dylib` engine crate, see the
/// porting guide) and needs nothing from the host but the call. `export! { context: (), .. }` and
/// `relive::Worker<()>` on the host.
impl Interface for () {
    const FINGERPRINT: u64 = __private::fnv1a(__private::FNV_OFFSET, b"()");
}

/// The state's codec compiled in the crate that defines the state type, with [`codec!`].
///
/// serde's impls are generic: without this, relive's codec for the state is instantiated in the
/// worker crate and runs at its opt-level (0 in the dev loop, ≈ 190 ns per number). Put the state
/// types in a crate of their own, give it `[profile.dev.package.<that crate>] opt-level = 3` in
/// the workspace's `Cargo.toml`, call `relive_worker::codec!(State);` there and
/// `export! { .., codec: state::State }` in the worker: the codec then runs optimized, and the
/// worker's rebuild does not compile it (see BENCHMARKS.md, "Large states").
pub trait Codec: Sized {
    /// Encodes the state the way relive carries it.
    fn encode_state(&self) -> Result<Vec<u8>, EncodeError>;
    /// Decodes a state encoded by any version (the same tolerant decode as relive's default).
    fn decode_state(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// A user's function: what [`export!`] lists under `update` and `functions`.
pub type WorkerFn<C, S> = fn(&mut C, &mut S);

/// A user's function with the name it is exported under.
pub type NamedFn<C, S> = (&'static str, WorkerFn<C, S>);

/// What a worker exports, implemented by [`export!`] on a type named `ReliveExports`.
///
/// The host's static mode (`relive::StaticWorker`) calls these directly; the hot mode reaches the
/// same functions through the `extern "C"` shims in [`abi::Exports`].
pub trait Exports: 'static {
    /// The context trait object, e.g. `dyn base::Context`.
    type Context: ?Sized + Interface;
    /// The state carried across reloads.
    type State: serde::Serialize + serde::de::DeserializeOwned + Default + 'static;
    /// The state version the worker declares; bump it when a [`Self::restore`] needs to migrate.
    const STATE_VERSION: u32;
    /// The exported functions by name; the first one is `update`.
    const FUNCTIONS: &'static [NamedFn<Self::Context, Self::State>];

    /// Runs one frame: the `update` function.
    fn update(ctx: &mut Self::Context, state: &mut Self::State);

    /// Turns a state saved by any version into this version's state.
    ///
    /// The default decodes it as this version's type, which tolerates added fields (with
    /// `#[serde(default)]`), removed fields and renamed fields (with `#[serde(alias = "old")]`).
    /// `export!` overrides it with the worker's `migrate` function when the saved version differs
    /// from [`Self::STATE_VERSION`].
    fn restore(old: OldState<'_>) -> Result<Self::State, DecodeError> {
        Self::decode_state(old.bytes())
    }

    /// Whether the state has a [`Codec`] of its own (`export!`'s `codec: T`).
    const OWN_CODEC: bool = false;

    /// Encodes the state for a reload, a snapshot or the host's tools. The default is relive's
    /// codec instantiated in the worker crate (at its opt-level); `export!`'s `codec: T` uses the
    /// state crate's [`Codec`] instead.
    fn encode_state(state: &Self::State) -> Result<Vec<u8>, EncodeError> {
        encode(state)
    }

    /// Decodes a state of this version's type (what [`Exports::restore`] does by default). As
    /// [`Exports::encode_state`], `export!`'s `codec: T` hands it to the state crate's [`Codec`].
    fn decode_state(bytes: &[u8]) -> Result<Self::State, DecodeError> {
        decode(bytes)
    }

    /// Runs in the old version right before its state is saved for a reload (not for snapshots):
    /// join threads, put what `#[serde(skip)]` fields hold into saved fields. `ctx` is the host's
    /// context when the reload happens in a frame (`update`/`call`, the game loop), `None` when a
    /// tool reloads (`reload()`, `wait_and_reload()`). `export!`'s `before_save`; a no-op by
    /// default.
    fn before_save(_ctx: Option<&mut Self::Context>, _state: &mut Self::State) {}

    /// Runs in the new version right after it loaded the state of a reload: rebuild caches,
    /// trait objects and threads that `#[serde(skip)]` left at their defaults. `ctx` as for
    /// [`Exports::before_save`]. `export!`'s `after_load`; a no-op by default.
    fn after_load(_ctx: Option<&mut Self::Context>, _state: &mut Self::State) {}
}

/// Facts of the build that must match between the host and the worker.
///
/// Each side compiles this crate, so each carries its own build's facts; the host compares its
/// copy with the one a library exports before it calls anything else in it.
pub mod build {
    /// `release (commit-hash)` of the rustc that built this crate.
    pub const RUSTC: &str = env!("RELIVE_BUILD_RUSTC");
    /// The target triple.
    pub const TARGET: &str = env!("RELIVE_BUILD_TARGET");
    /// Code-generation flags (`RUSTFLAGS` without lint levels).
    pub const FLAGS: &str = env!("RELIVE_BUILD_FLAGS");
    /// This crate's version: host and worker must use the same relive.
    pub const RELIVE_VERSION: &str = env!("CARGO_PKG_VERSION");
}

/// The guide's chapters (`docs/guide/src`), whose Rust samples run as this crate's doctests: each
/// sample compiles, or says why it cannot (`rust,ignore`).
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../../docs/guide/src/layouts.md")]
    pub struct Layouts;
    #[doc = include_str!("../../../docs/guide/src/porting.md")]
    pub struct Porting;
    #[doc = include_str!("../../../docs/guide/src/state.md")]
    pub struct State;
    #[doc = include_str!("../../../docs/guide/src/rewind-and-loop.md")]
    pub struct RewindAndLoop;
    #[doc = include_str!("../../../docs/guide/src/inspector-and-tweaks.md")]
    pub struct InspectorAndTweaks;
    #[doc = include_str!("../../../docs/guide/src/debugging.md")]
    pub struct Debugging;
    #[doc = include_str!("../../../docs/guide/src/fast-reloads.md")]
    pub struct FastReloads;
    #[doc = include_str!("../../../docs/guide/src/events-and-protocol.md")]
    pub struct EventsAndProtocol;
    #[doc = include_str!("../../../docs/guide/src/getting-started.md")]
    pub struct GettingStarted;
    #[doc = include_str!("../../../docs/guide/src/cli.md")]
    pub struct Cli;
    #[doc = include_str!("../../../docs/guide/src/troubleshooting.md")]
    pub struct Troubleshooting;
    #[doc = include_str!("../../../README.md")]
    pub struct Readme;
}
