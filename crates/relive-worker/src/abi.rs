//! The host↔worker interface: the only types that cross the library boundary.
//!
//! This module is a stability boundary. Every type is `#[repr(C)]`, every function is
//! `extern "C"`, and the host reads nothing from a library before the handshake
//! ([`EXPORTS_SYMBOL`] with [`ABI_VERSION`] and the size of [`Exports`]) succeeded. A change to any
//! type here bumps [`ABI_VERSION`].
//!
//! Ownership across the boundary:
//! - the state lives in the worker's image, behind an opaque pointer; only the worker's
//!   `drop_state` frees it;
//! - bytes and messages travel through a [`Sink`], a callback the host owns, so no allocation made
//!   by one side is ever freed by the other;
//! - the context is a `*mut &mut C` pointing at a fat reference on the host's stack: its vtable
//!   lives in the host, which outlives every worker version.

use std::ffi::c_void;

/// Version of this interface. The host refuses a library that answers with another one.
pub const ABI_VERSION: u32 = 4;

/// Name of the one symbol a worker library exports (NUL-terminated for `dlsym`).
pub const EXPORTS_SYMBOL: &[u8] = b"relive_worker_exports_v1\0";

/// The entry point was carried out.
pub const STATUS_OK: u32 = 0;
/// The entry point panicked; the sink received [`PART_MESSAGE`] and [`PART_LOCATION`].
pub const STATUS_PANICKED: u32 = 1;
/// The entry point failed without panicking (e.g. the state could not be decoded); the sink
/// received a [`PART_MESSAGE`].
pub const STATUS_FAILED: u32 = 2;
/// The handshake failed: the host and the worker disagree on [`ABI_VERSION`] or on the size of
/// [`Exports`]. Nothing was written.
pub const STATUS_ABI_MISMATCH: u32 = 3;

/// Sink part: a human-readable message (a panic message or an error).
pub const PART_MESSAGE: u32 = 0;
/// Sink part: where a panic happened, as `file:line:column`.
pub const PART_LOCATION: u32 = 1;
/// Sink part: a chunk of the encoded state, written in order.
pub const PART_STATE: u32 = 2;

/// A borrowed UTF-8 string that crosses the boundary.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawStr {
    /// Start of the bytes.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl RawStr {
    /// Borrows `s`, which must outlive every use of the result.
    pub const fn new(s: &str) -> Self {
        RawStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Copies the string out, replacing invalid UTF-8.
    ///
    /// # Safety
    ///
    /// `ptr` must point at `len` readable bytes (or `len` must be 0).
    pub unsafe fn to_string_lossy(&self) -> String {
        if self.len == 0 || self.ptr.is_null() {
            return String::new();
        }
        // SAFETY: the caller guarantees `ptr..ptr+len` is readable.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Where a worker entry point writes what it returns: messages, locations and state bytes.
///
/// The host owns `data` and the function; the worker only calls `write` during the entry point
/// that received the sink.
#[repr(C)]
pub struct Sink {
    /// Opaque host data passed back to `write`.
    pub data: *mut c_void,
    /// Appends `len` bytes at `ptr` to part `part` (one of the `PART_*` constants).
    pub write: unsafe extern "C" fn(data: *mut c_void, part: u32, ptr: *const u8, len: usize),
}

/// Calls a worker function: `ctx` is a `*mut &mut C`, `state` the opaque state pointer.
pub type CallFn =
    unsafe extern "C" fn(ctx: *mut c_void, state: *mut c_void, sink: *const Sink) -> u32;

/// One function the worker exports besides the state hooks (`update`, `draw`, …).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Function {
    /// The name the host looks it up by.
    pub name: RawStr,
    /// The panic-catching shim that calls the user's function.
    pub call: CallFn,
}

/// Everything a worker library exports, filled in by [`EXPORTS_SYMBOL`].
///
/// The strings and the function table point into the worker's image: they are valid until the
/// library is closed, and the host copies what it keeps.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Exports {
    /// `release (commit-hash)` of the rustc that built the worker.
    pub rustc: RawStr,
    /// Target triple of the worker's build.
    pub target: RawStr,
    /// Code-generation flags of the worker's build (`RUSTFLAGS` without lint levels).
    pub flags: RawStr,
    /// `unwind` or `abort`: the worker's panic strategy.
    pub panic_strategy: RawStr,
    /// Version of relive-worker the worker was built with.
    pub relive_version: RawStr,
    /// `type_name` of the context type the worker expects.
    pub context_type: RawStr,
    /// Fingerprint of the interface crate's sources, as the worker saw them.
    pub interface_fingerprint: u64,
    /// `type_name` of the worker's state type.
    pub state_type: RawStr,
    /// The state version the worker declares (see `migrate`).
    pub state_version: u32,
    /// Creates a default state: writes the state pointer to `out`.
    pub create: unsafe extern "C" fn(out: *mut *mut c_void, sink: *const Sink) -> u32,
    /// Drops a state created by this library.
    pub drop_state: unsafe extern "C" fn(state: *mut c_void, sink: *const Sink) -> u32,
    /// Encodes the state and writes it as [`PART_STATE`] chunks; the state is left untouched.
    pub save: unsafe extern "C" fn(state: *const c_void, sink: *const Sink) -> u32,
    /// Decodes a state saved by any version (declared as `from_version`) and writes the new state
    /// pointer to `out`.
    pub load: unsafe extern "C" fn(
        bytes: *const u8,
        len: usize,
        from_version: u32,
        out: *mut *mut c_void,
        sink: *const Sink,
    ) -> u32,
    /// Called once right before the library is closed: flushes the worker's own stdout.
    pub before_unload: unsafe extern "C" fn(sink: *const Sink) -> u32,
    /// The worker's `before_save` (a no-op without one): runs in the old version right before
    /// its state is saved for a reload.
    /// `ctx` points at the host's `&mut` context, or is null outside a frame.
    pub before_save:
        unsafe extern "C" fn(ctx: *mut c_void, state: *mut c_void, sink: *const Sink) -> u32,
    /// The worker's `after_load` (a no-op without one): runs in the new version right after it
    /// loaded the state of a reload.
    /// `ctx` as for `before_save`.
    pub after_load:
        unsafe extern "C" fn(ctx: *mut c_void, state: *mut c_void, sink: *const Sink) -> u32,
    /// Called once after the handshake: routes the worker's `log` records to the host's logger.
    pub set_logger: unsafe extern "C" fn(logger: *const HostLogger),
    /// Sets a tweakable literal (`#[relive_worker::tweak]`): [`STATUS_OK`], or
    /// [`STATUS_FAILED`] with a [`PART_MESSAGE`] saying which part of the target did not match.
    pub tweak: unsafe extern "C" fn(
        target: *const TweakTarget,
        value: *const TweakValue,
        sink: *const Sink,
    ) -> u32,
    /// Lists the tweakable literals as [`PART_STATE`] chunks: MessagePack of
    /// `[(crate, file, item, [(kind, line, column, text, set)])]`.
    pub tweaks: unsafe extern "C" fn(sink: *const Sink) -> u32,
    /// The exported functions.
    pub functions: *const Function,
    /// Number of entries at `functions`.
    pub function_count: usize,
}

/// Which tweakable literal: the table (crate, file relative to the crate's `Cargo.toml`, item)
/// and the literal's index in it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TweakTarget {
    /// `CARGO_PKG_NAME` of the crate.
    pub krate: RawStr,
    /// The file, relative to the crate's `Cargo.toml` (`src/lib.rs`).
    pub file: RawStr,
    /// The table's name within its marked item (`update`, `Player::step`, `SPEED`).
    pub item: RawStr,
    /// The literal's index in the table.
    pub index: u32,
}

/// A tweak value: [`TWEAK_INT`] (`lo`, `hi` the two halves of an `i128`), [`TWEAK_FLOAT`]
/// (`lo` an `f64`'s bits), [`TWEAK_BOOL`] (`lo` 0 or 1), [`TWEAK_CHAR`] (`lo` the scalar
/// value), [`TWEAK_STR`] (`text`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TweakValue {
    /// One of the `TWEAK_*` kinds.
    pub kind: u32,
    /// See the kinds.
    pub lo: u64,
    /// See the kinds.
    pub hi: u64,
    /// See the kinds.
    pub text: RawStr,
}

/// [`TweakValue`] kind: an integer.
pub const TWEAK_INT: u32 = 1;
/// [`TweakValue`] kind: a float.
pub const TWEAK_FLOAT: u32 = 2;
/// [`TweakValue`] kind: a bool.
pub const TWEAK_BOOL: u32 = 3;
/// [`TweakValue`] kind: a char.
pub const TWEAK_CHAR: u32 = 4;
/// [`TweakValue`] kind: a string.
pub const TWEAK_STR: u32 = 5;

/// Signature of [`EXPORTS_SYMBOL`]: fills `out` if `abi_version` and `exports_size` match this
/// library's, and returns one of the `STATUS_*` constants.
pub type ExportsFn =
    unsafe extern "C" fn(abi_version: u32, exports_size: usize, out: *mut Exports) -> u32;

/// Log levels across the boundary: `log::Level as u32` (1 = error … 5 = trace); 0 = off.
pub type LevelRepr = u32;

/// The host's logger, as the worker sees it: two functions in the host's image, which outlives
/// every worker version. The worker keeps a copy; the host keeps nothing of the worker's.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct HostLogger {
    /// The host's `log::max_level()` when the version loaded, as a [`LevelRepr`]; informational:
    /// the worker asks `enabled` for every record, so later changes of the host's level apply.
    pub max_level: LevelRepr,
    /// Whether the host's logger wants records of this level and target.
    pub enabled: unsafe extern "C" fn(level: LevelRepr, target: RawStr) -> bool,
    /// Logs one record: its level, target, formatted message, file and line (0: unknown).
    pub log: unsafe extern "C" fn(
        level: LevelRepr,
        target: RawStr,
        message: RawStr,
        file: RawStr,
        line: u32,
    ),
}
