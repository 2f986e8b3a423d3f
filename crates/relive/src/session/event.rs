//! What the host reports about its worker: loads, reloads, failures and panics.
//!
//! Every [`Event`] is also logged through `log`; [`crate::Worker::subscribe`] hands out a channel
//! for tools (the CLI writes them as JSON lines).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Timings of one swap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SwapTimings {
    /// From the file system event to the new library loaded and checked (off the frame path).
    #[serde(with = "micros")]
    pub prepare: Duration,
    /// From the file system event to the swap done.
    #[serde(with = "micros")]
    pub detect_to_swap: Duration,
    /// The pause of the calling thread: save, load, drop and close.
    #[serde(with = "micros")]
    pub pause: Duration,
    /// Encoding the state in the old version.
    #[serde(with = "micros")]
    pub save: Duration,
    /// Decoding it in the new version.
    #[serde(with = "micros")]
    pub load: Duration,
    /// Dropping the old state and closing the old library.
    #[serde(with = "micros")]
    pub unload: Duration,
}

mod micros {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

/// One thing that happened to the worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The first version was loaded.
    Loaded {
        /// Version number (1 for the first).
        version: u64,
        /// The versioned copy that was loaded.
        path: PathBuf,
    },
    /// A new version replaced the running one, with the state carried over.
    Reloaded {
        /// The new version.
        version: u64,
        /// Size of the carried state in bytes.
        state_bytes: usize,
        /// How long it took.
        timings: SwapTimings,
    },
    /// Tweakable literals were set in the running version (a save that changed only those, or
    /// `cargo relive tweak`), without a rebuild.
    Tweaked {
        /// The running version.
        version: u64,
        /// What changed.
        literals: Vec<crate::TweakedLiteral>,
        /// From the save to the new values in effect, in milliseconds (under `cargo relive run`).
        effect_ms: Option<f64>,
    },
    /// A new build was refused or could not take over; the previous version keeps running.
    ReloadFailed {
        /// The version number the build would have had.
        version: u64,
        /// The version still running.
        running: u64,
        /// Why, in words.
        reason: String,
    },
    /// A worker function panicked; the state is kept.
    Panicked {
        /// The running version.
        version: u64,
        /// The function.
        function: String,
        /// The panic message.
        message: String,
        /// `file:line:column`, if known.
        location: Option<String>,
        /// How many times in a row it panicked here: 1 when first reported; a panic that repeats
        /// (every frame, say) is counted, and reported again with its count once something else
        /// happens.
        count: u64,
    },
    /// The old version's image was still mapped after it was closed (it will leak).
    StaleMapping {
        /// The version that stayed mapped.
        version: u64,
        /// Its copy.
        path: PathBuf,
        /// The likely cause, in words.
        why: String,
    },
    /// A call into the worker has not returned for much longer than a frame (an endless loop?).
    /// Reported once per stall, by the supervised host's watchdog.
    Stuck {
        /// The running version.
        version: u64,
        /// The function that is running.
        function: String,
        /// How long it has been running, in milliseconds.
        stuck_ms: u64,
    },
    /// The state was restored from a snapshot when the host started (`cargo relive run` does
    /// this after a crash or a host restart).
    Restored {
        /// The running version.
        version: u64,
        /// The snapshot.
        path: PathBuf,
    },
    /// The snapshot to start from could not be read; the host started from a default state and
    /// the snapshot was moved aside, not overwritten.
    RestoreFailed {
        /// Where the unreadable snapshot is now.
        kept_at: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// Something about this host that can go wrong, said once (a host allocator the worker does
    /// not share, say).
    Warning {
        /// What, and what to do.
        message: String,
    },
    /// The state went back to an earlier frame ([`crate::Worker::rewind`]).
    Rewound {
        /// The running version (whose code decoded the earlier state).
        version: u64,
        /// How many frames back.
        frames_back: u64,
        /// The frame it is at now.
        frame: u64,
    },
    /// A loop started recording ([`crate::Worker::loop_start`]), at the `update` after it was
    /// asked for.
    LoopRecording {
        /// The running version.
        version: u64,
    },
    /// A loop's recording ended and plays ([`crate::Worker::loop_end`]).
    LoopPlaying {
        /// Frames recorded.
        frames: u64,
        /// Memory the recording takes.
        bytes: u64,
    },
    /// A pass of a loop begins, from the start state, played by `version`.
    LoopPass {
        /// The pass (1 for the first).
        pass: u64,
        /// Frames in the recording.
        frames: u64,
        /// The version playing it.
        version: u64,
    },
    /// A loop stopped; live play goes on.
    LoopStopped {
        /// Passes played.
        passes: u64,
    },
    /// A loop's recording was refused; live play goes on.
    LoopRefused {
        /// Why (names the method read).
        reason: String,
    },
    /// An old version was closed and is gone from the process's mappings.
    Unloaded {
        /// The version.
        version: u64,
    },
}
