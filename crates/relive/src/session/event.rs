//! What the host reports about its worker: loads, reloads, failures and panics.
//!
//! Every [`Event`] is also logged through `log`; [`crate::Worker::subscribe`] hands out a channel
//! for tools (the CLI writes them as JSON lines).

use std::path::PathBuf;
#[cfg(not(feature = "static"))]
use std::sync::mpsc::{Receiver, Sender, channel};
#[cfg(not(feature = "static"))]
use std::sync::{Arc, Mutex};
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

/// What a failure event says, for a host that listens to nothing else; `None` for news that is
/// not a problem.
#[cfg(not(feature = "static"))]
fn problem(event: &Event) -> Option<String> {
    match event {
        Event::ReloadFailed {
            version,
            running,
            reason,
        } => Some(format!(
            "version {version} was refused, version {running} keeps running: {reason}"
        )),
        Event::Panicked {
            version,
            function,
            message,
            location,
            count,
        } => Some(format!(
            "version {version} panicked in `{function}`{}: {message}{}",
            if *count > 1 {
                format!(" {count} times in a row")
            } else {
                String::new()
            },
            location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default()
        )),
        Event::StaleMapping { version, path, why } => Some(format!(
            "version {version} stayed mapped after it was closed ({}): {why}",
            path.display()
        )),
        Event::Warning { message } => Some(message.clone()),
        Event::RestoreFailed { kept_at, reason } => Some(format!(
            "cannot restore the state: {reason}; started fresh, the snapshot is kept at {}",
            kept_at.display()
        )),
        _ => None,
    }
}

/// The subscribers of one worker.
#[cfg(not(feature = "static"))]
#[derive(Clone, Default)]
pub(crate) struct Bus {
    senders: Arc<Mutex<Vec<Sender<Event>>>>,
    board: Arc<Mutex<crate::session::status::Board>>,
}

#[cfg(not(feature = "static"))]
impl Bus {
    pub(crate) fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = channel();
        self.lock().push(tx);
        rx
    }

    /// The status for the host's UI.
    pub(crate) fn status(&self) -> crate::Status {
        self.board().status()
    }

    /// Takes in the supervisor's report about a build.
    pub(crate) fn on_supervisor(&self, report: &serde_json::Value) {
        self.board().on_supervisor(report);
    }

    /// Logs `event` and sends it to the subscribers, unless it repeats the panic just reported
    /// (then it is counted; the count is reported once something else happens).
    pub(crate) fn emit(&self, event: Event) {
        let report = self.board().on_event(&event);
        match report {
            crate::session::status::Report::Repeat => return,
            crate::session::status::Report::Send(Some(summary)) => self.send(summary),
            crate::session::status::Report::Send(None) => {}
        }
        self.send(event);
    }

    fn board(&self) -> std::sync::MutexGuard<'_, crate::session::status::Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, event: Event) {
        match &event {
            Event::Loaded { version, path } => {
                log::info!("version {version}: loaded {}", path.display())
            }
            Event::Reloaded {
                version, timings, ..
            } => {
                log::info!(
                    "version {version}: reloaded in {:?} (pause {:?})",
                    timings.detect_to_swap,
                    timings.pause
                )
            }
            Event::ReloadFailed { reason, .. } => log::error!("{reason}"),
            Event::Tweaked { literals, .. } => {
                for l in literals {
                    log::info!("tweaked {} {} -> {} at {}", l.name, l.old, l.new, l.at)
                }
            }
            Event::Panicked {
                version,
                function,
                message,
                count,
                ..
            } => {
                if *count > 1 {
                    log::error!(
                        "version {version}: worker panicked in `{function}` {count} times in a row: {message}"
                    )
                } else {
                    log::error!("version {version}: worker panicked in `{function}`: {message}")
                }
            }
            Event::StaleMapping { version, path, why } => log::warn!(
                "version {version} is still mapped after dlclose ({}): {why}",
                path.display()
            ),
            Event::Unloaded { version } => log::debug!("version {version}: unmapped"),
            Event::LoopRecording { version } => log::info!("loop: recording (version {version})"),
            Event::LoopPlaying { frames, bytes } => {
                log::info!("loop: playing {frames} frames ({bytes} bytes recorded)")
            }
            Event::LoopPass { pass, version, .. } => {
                log::debug!("loop: pass {pass}, version {version}")
            }
            Event::LoopStopped { passes } => log::info!("loop: stopped after {passes} passes"),
            Event::LoopRefused { reason } => log::warn!("loop refused: {reason}"),
            Event::Warning { message } => log::warn!("{message}"),
            Event::Rewound {
                frames_back, frame, ..
            } => log::info!("rewound {frames_back} frames, to frame {frame}"),
            Event::Stuck {
                version,
                function,
                stuck_ms,
            } => log::error!("version {version}: `{function}` has been running for {stuck_ms} ms"),
            Event::Restored { path, .. } => log::info!("state restored from {}", path.display()),
            Event::RestoreFailed { kept_at, reason } => log::error!(
                "cannot restore the state: {reason}; started from a default state, the snapshot is kept at {}",
                kept_at.display()
            ),
        }
        let mut senders = self.lock();
        senders.retain(|tx| tx.send(event.clone()).is_ok());
        // A host with no logger and no subscriber would see nothing of a failure: say it on
        // stderr (a host that wants otherwise sets a logger or subscribes).
        if senders.is_empty()
            && log::max_level() == log::LevelFilter::Off
            && let Some(line) = problem(&event)
        {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "relive: {line}");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sender<Event>>> {
        self.senders.lock().unwrap_or_else(|e| e.into_inner())
    }
}
