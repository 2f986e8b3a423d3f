//! The errors of the host runtime.
//!
//! [`decode_message`] puts the decoder's messages in words, for these errors and for a refused
//! reload's reason; neither uses anything else of the crate, so every module may use them.

use std::io;
use std::path::PathBuf;

pub(crate) mod decode_message;

/// Everything that can go wrong while loading, calling, swapping or snapshotting a worker.
///
/// None of these leaves the host without a working worker: a failed reload keeps the previous
/// version running with its state, a failed snapshot restore keeps the current state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The worker library was not found where it was looked for.
    #[error(
        "no worker library for crate `{crate_name}`: looked at {}; build the worker (`cargo build -p {crate_name}`) or set RELIVE_WORKER_LIB to its path",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// The worker crate's name.
        crate_name: String,
        /// Every path that was tried.
        tried: Vec<PathBuf>,
    },

    /// The library is not one this project built; relive does not load it.
    #[error("refusing to load {}: {reason}", path.display())]
    Untrusted {
        /// The library.
        path: PathBuf,
        /// Why it is not trusted.
        reason: String,
    },

    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// The file is not a complete shared library for this machine (truncated, still being
    /// written, or not ELF at all).
    #[error("{} is not a loadable library: {reason}; the previous version keeps running", path.display())]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The worker was linked against another build of a shared Rust library (the engine crate of
    /// the engine-direct layout) than the one this process loaded when it started.
    #[error(
        "the new worker was linked against a newer build of {name} ({}) than the one this host \
         loaded at its start ({}); the previous version keeps running. Restart the host to run \
         the new build (`cargo relive run` restarts it itself, with its state)",
        built.display(),
        loaded.display()
    )]
    SharedLibraryRebuilt {
        /// The library's file name.
        name: String,
        /// The build this process has loaded.
        loaded: PathBuf,
        /// The build the worker was linked against.
        built: PathBuf,
    },

    /// `dlopen` refused the library.
    #[error("cannot load {}: {message}", path.display())]
    Load {
        /// The versioned copy that was loaded.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },

    /// The library does not export relive's entry point.
    #[error(
        "{} exports no `relive_worker_exports_v1`: is `relive_worker::export!` in the worker crate, and is it built as a cdylib?",
        path.display()
    )]
    MissingExports {
        /// The library.
        path: PathBuf,
    },

    /// The worker was built with another version of relive's ABI.
    #[error("{} speaks another relive ABI than this host: rebuild the host and the worker with the same relive", path.display())]
    AbiMismatch {
        /// The library.
        path: PathBuf,
    },

    /// The worker was built differently from the host; loading it would be undefined behaviour.
    #[error("refusing {}: {} (worker: `{worker}`, host: `{host}`): {hint}", path.display(), part.differs())]
    FingerprintMismatch {
        /// The library.
        path: PathBuf,
        /// Which part of the fingerprint differs.
        part: FingerprintPart,
        /// The worker's value.
        worker: String,
        /// The host's value.
        host: String,
        /// What to do about it.
        hint: &'static str,
    },

    /// A worker entry point panicked. The state is still there and usable.
    #[error(
        "the worker panicked in `{function}` (version {version}): {message}{}",
        location_suffix(location)
    )]
    Panicked {
        /// The entry point (`update`, `save`, `load`, a function name, …).
        function: String,
        /// The worker version that panicked.
        version: u64,
        /// The panic message.
        message: String,
        /// `file:line:column`, when known.
        location: Option<String>,
    },

    /// A worker entry point reported an error without panicking.
    #[error("the worker (version {version}) failed in `{function}`: {message}")]
    Failed {
        /// The entry point.
        function: String,
        /// The worker version.
        version: u64,
        /// The worker's message.
        message: String,
    },

    /// The new code could not read the old state: the previous version keeps running with it.
    #[error(
        "version {version} cannot read the state saved by version {from_version} (state version {from_state_version} -> {state_version}){}: {message}; kept version {from_version} running with its state. {}",
        at.as_deref().map(|p| format!(" at `{p}`")).unwrap_or_default(),
        decode_message::advice(message)
    )]
    IncompatibleState {
        /// The version that failed to read the state.
        version: u64,
        /// The version whose state it was.
        from_version: u64,
        /// The state version the old worker declared.
        from_state_version: u32,
        /// The state version the new worker declares.
        state_version: u32,
        /// The decoder's message.
        message: String,
        /// The JSON pointer of the value that does not fit (`/player/hp`), when found.
        at: Option<String>,
    },

    /// The state could not be encoded by the running worker.
    #[error("the worker (version {version}) could not save its state: {message}")]
    Save {
        /// The running version.
        version: u64,
        /// The encoder's message.
        message: String,
    },

    /// A copy of the process could not read the state aside ([`crate::Worker::snapshot_aside`]);
    /// the game and its state are untouched.
    #[error("cannot read the state aside: {reason}")]
    ReadAside {
        /// What went wrong.
        reason: String,
    },

    /// The worker exports no function with that name.
    #[error(
        "the worker exports no function `{name}`; add it to `functions: [...]` in `relive_worker::export!`"
    )]
    NoSuchFunction {
        /// The requested name.
        name: String,
    },

    /// A snapshot file is damaged or of another kind.
    #[error("{} is not a usable relive snapshot: {reason}; the current state is unchanged", path.display())]
    BadSnapshot {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// [`crate::Worker::rewind`] could not go back that far.
    #[error("cannot rewind: {reason}; nothing changed")]
    Rewind {
        /// Why.
        reason: String,
    },

    /// A loop could not start, end or stop ([`crate::Worker::loop_start`]).
    #[error("loop: {reason}")]
    Loop {
        /// Why.
        reason: String,
    },

    /// An edit of one value of the state ([`crate::Worker::set_state_at`]) was refused before
    /// the worker saw it: no value at that path, or a value of another kind.
    #[error("{message}")]
    Edit {
        /// What was refused and why, with the path.
        message: String,
    },

    /// A tweakable literal could not be set ([`crate::Worker::tweak`]): the running build has no
    /// such literal, or one of another kind.
    #[error("{message}")]
    Tweak {
        /// What did not match.
        message: String,
    },

    /// A JSON value could not become the state.
    #[error("the value does not fit the state: {message}; the current state is unchanged")]
    BadValue {
        /// The decoder's message.
        message: String,
    },

    /// The file watcher could not be started.
    #[error("cannot watch {} for new builds: {source}", path.display())]
    Watch {
        /// The watched directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: notify::Error,
    },
}

fn location_suffix(location: &Option<String>) -> String {
    match location {
        Some(l) if !l.is_empty() => format!(" at {l}"),
        _ => String::new(),
    }
}

/// The part of a build fingerprint that differs between the host and a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FingerprintPart {
    /// The rustc release and commit.
    Rustc,
    /// The target triple.
    Target,
    /// The code-generation flags.
    Flags,
    /// The panic strategy.
    PanicStrategy,
    /// The relive version.
    ReliveVersion,
    /// The context type.
    ContextType,
    /// The interface crate's sources.
    Interface,
}

impl FingerprintPart {
    /// "the compiler differs", "the codegen flags (RUSTFLAGS) differ".
    pub fn differs(&self) -> String {
        let verb = if matches!(self, FingerprintPart::Flags) {
            "differ"
        } else {
            "differs"
        };
        format!("the {self} {verb}")
    }
}

impl std::fmt::Display for FingerprintPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FingerprintPart::Rustc => "compiler",
            FingerprintPart::Target => "target",
            FingerprintPart::Flags => "codegen flags (RUSTFLAGS)",
            FingerprintPart::PanicStrategy => "panic strategy",
            FingerprintPart::ReliveVersion => "relive version",
            FingerprintPart::ContextType => "context type",
            FingerprintPart::Interface => "interface crate",
        })
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
