//! What relive is doing for this host right now, for the game's own UI: building, a failed build
//! (its first error and where), a refused reload, a panic (where, how often), the last reload.
//!
//! The host reads it with [`crate::Worker::status`] and draws it however it draws things. Under
//! `cargo relive run` the supervisor tells the host when a build starts and how it ended (a line on
//! the control connection); the rest comes from the host's own [`Event`]s.

use std::fmt;
#[cfg(not(feature = "static"))]
use std::time::{Duration, Instant};

use serde::Serialize;

#[cfg(not(feature = "static"))]
use crate::session::event::Event;

/// relive's current status, as a game shows it (see [`crate::Worker::status`]).
///
/// `Display` gives one line such as `build failed: expected expression at worker/src/lib.rs:12:5
/// (v2 keeps running)`; [`Status::is_problem`] tells whether to draw it as an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Version `version` runs; nothing else has happened yet.
    Running {
        /// The running version.
        version: u64,
    },
    /// Version `version` runs on a state restored from a snapshot (the last session's, or the
    /// one saved before a restart or a crash): the game goes on where it was.
    Restored {
        /// The running version.
        version: u64,
    },
    /// A saved change is being compiled; `version` keeps running meanwhile.
    Building {
        /// The running version.
        version: u64,
    },
    /// The last build failed; `version` keeps running with its state.
    BuildFailed {
        /// The running version.
        version: u64,
        /// The compiler's first error, e.g. `expected expression`.
        error: String,
        /// Where: `file:line:column`, when the compiler said.
        location: Option<String>,
        /// The whole first error as the compiler writes it to a terminal (source lines, carets,
        /// notes), under `cargo relive run`; an in-game panel shows it (`Display` does not).
        #[serde(skip_serializing_if = "Option::is_none")]
        rendered: Option<String>,
    },
    /// A new build was built but refused (it cannot read the state, another interface …);
    /// `version` keeps running.
    ReloadRefused {
        /// The running version.
        version: u64,
        /// Why, in words.
        reason: String,
    },
    /// A worker function panicked (`count` times in a row at the same place); the state is kept.
    Panicked {
        /// The running version.
        version: u64,
        /// The function that panicked.
        function: String,
        /// The panic message.
        message: String,
        /// `file:line:column`, when known.
        location: Option<String>,
        /// How many times in a row.
        count: u64,
    },
    /// The state went back `frames_back` frames (`cargo relive rewind`, [`crate::Worker::rewind`]).
    Rewound {
        /// The running version.
        version: u64,
        /// How many frames back.
        frames_back: u64,
    },
    /// A loop records (`cargo relive loop start`, [`crate::Worker::loop_start`]).
    LoopRecording {
        /// The running version.
        version: u64,
    },
    /// A loop plays its recording again and again; each new build plays from the next pass.
    Looping {
        /// The version playing.
        version: u64,
        /// The pass (1 for the first).
        pass: u64,
        /// Frames in the recording.
        frames: u64,
    },
    /// A loop's recording was refused (it read something that cannot be recorded); play is live.
    LoopRefused {
        /// The running version.
        version: u64,
        /// Why, naming what was read.
        reason: String,
    },
    /// Tweakable literals were set without a rebuild (`what`: `SPEED 300.0 → 450.0 at
    /// worker/src/lib.rs:9`); `compiled_in` once the rebuild that follows is swapped in (its
    /// literals are the new ones: nothing changed on screen).
    Tweaked {
        /// The running version.
        version: u64,
        /// The literals, old and new values, and where.
        what: String,
        /// From the save to the effect, in milliseconds, when known.
        effect_ms: Option<f64>,
        /// The version running has the new values compiled in.
        compiled_in: bool,
    },
    /// Version `version` was swapped in with the state carried.
    Reloaded {
        /// The new version.
        version: u64,
        /// The pause of the frame thread for the swap, in milliseconds.
        swap_ms: f64,
        /// How long the build took, in milliseconds (under `cargo relive run`).
        build_ms: Option<f64>,
        /// From the save of the file to the new code running, in milliseconds (under
        /// `cargo relive run`).
        edit_to_effect_ms: Option<f64>,
    },
}

impl Status {
    /// Whether this is something the user has to act on (a failed build, a refused reload, a
    /// panic): draw it as an error.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            Status::BuildFailed { .. }
                | Status::ReloadRefused { .. }
                | Status::Panicked { .. }
                | Status::LoopRefused { .. }
        )
    }

    /// Whether this status says something `previous` did not: anything but a repeated panic's
    /// count. A host that prints its status as lines prints it when this is true.
    pub fn is_news_since(&self, previous: &Status) -> bool {
        match (self, previous) {
            (
                Status::Panicked {
                    version,
                    function,
                    message,
                    location,
                    ..
                },
                Status::Panicked {
                    version: v,
                    function: f,
                    message: m,
                    location: l,
                    ..
                },
            ) => !same_panic_site((*version, function, message, location), (*v, f, m, l)),
            // The next pass of the same loop played by the same version is not news.
            (
                Status::Looping {
                    version, frames, ..
                },
                Status::Looping {
                    version: v,
                    frames: f,
                    ..
                },
            ) => (version, frames) != (v, f),
            _ => self != previous,
        }
    }

    /// The running version.
    pub fn version(&self) -> u64 {
        match self {
            Status::Running { version }
            | Status::Restored { version }
            | Status::Building { version }
            | Status::BuildFailed { version, .. }
            | Status::ReloadRefused { version, .. }
            | Status::Panicked { version, .. }
            | Status::Rewound { version, .. }
            | Status::LoopRecording { version }
            | Status::Looping { version, .. }
            | Status::LoopRefused { version, .. }
            | Status::Tweaked { version, .. }
            | Status::Reloaded { version, .. } => *version,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Running { version } => write!(f, "v{version} running"),
            Status::Restored { version } => {
                write!(
                    f,
                    "v{version} running, on the state restored from its snapshot"
                )
            }
            Status::Building { version } => write!(f, "building... (v{version} runs meanwhile)"),
            Status::BuildFailed {
                version,
                error,
                location,
                ..
            } => {
                write!(f, "build failed: {error}")?;
                if let Some(location) = location {
                    write!(f, " at {location}")?;
                }
                write!(f, " (v{version} keeps running)")
            }
            Status::ReloadRefused { version, reason } => {
                write!(f, "reload refused: {reason} (v{version} keeps running)")
            }
            Status::Panicked {
                version,
                function,
                message,
                location,
                count,
            } => {
                write!(f, "v{version} panicked in `{function}`: {message}")?;
                if let Some(location) = location {
                    write!(f, " at {location}")?;
                }
                if *count > 1 {
                    write!(f, " ({count} times)")?;
                }
                write!(f, "; the state is kept, fix it and save")
            }
            Status::Rewound {
                version,
                frames_back,
            } => write!(f, "rewound {frames_back} frames (v{version} runs)"),
            Status::LoopRecording { version } => write!(f, "loop: recording (v{version} runs)"),
            Status::Looping {
                version,
                pass,
                frames,
            } => write!(
                f,
                "loop: pass {pass} of {frames} frames, played by v{version}"
            ),
            Status::LoopRefused { version, reason } => {
                write!(f, "loop refused: {reason} (v{version} plays live)")
            }
            Status::Tweaked {
                version,
                what,
                effect_ms,
                compiled_in,
            } => {
                write!(f, "tweaked {what}")?;
                if *compiled_in {
                    write!(f, " (v{version} has it compiled in)")
                } else if let Some(ms) = effect_ms {
                    write!(f, " in {ms:.0}ms, no rebuild (v{version})")
                } else {
                    write!(f, ", no rebuild (v{version})")
                }
            }
            Status::Reloaded {
                version,
                swap_ms,
                build_ms,
                edit_to_effect_ms,
            } => {
                write!(f, "reloaded v{version}: swap {swap_ms:.2}ms")?;
                if let Some(build) = build_ms {
                    write!(f, ", build {:.2}s", build / 1000.0)?;
                }
                if let Some(effect) = edit_to_effect_ms {
                    write!(f, ", edit to effect {:.2}s", effect / 1000.0)?;
                }
                Ok(())
            }
        }
    }
}

/// The status of one worker, updated by its events and by the supervisor's build reports; also
/// decides which panics are worth an event (a repeat of the last one is counted, not reported).
#[cfg(not(feature = "static"))]
#[derive(Debug)]
pub(crate) struct Board {
    status: Status,
    /// The panic being repeated (its `count` so far), apart from what is shown: a build starting
    /// meanwhile changes what is shown, not the run.
    run: Option<Event>,
    /// The last build's duration, and when the edit that started it happened (supervisor).
    build: Option<(Duration, Option<Instant>)>,
    /// The loop shown when a build started: shown again once the build is done, while the new
    /// version waits for the loop's next pass.
    loop_before_build: Option<Status>,
    /// The tweak shown when its rebuild started: shown until that build is swapped in (then
    /// said to be compiled in) or fails.
    tweak_before_build: Option<Status>,
}

/// Whether two panics are the same one repeating: the same version, function and place. The
/// message may differ between repeats (an index out of bounds names the index), so it counts
/// only when the place is unknown.
fn same_panic_site(
    a: (u64, &String, &String, &Option<String>),
    b: (u64, &String, &String, &Option<String>),
) -> bool {
    let (version, function, message, location) = a;
    let (v, f, m, l) = b;
    version == v && function == f && location == l && (location.is_some() || message == m)
}

#[cfg(not(feature = "static"))]
impl Default for Board {
    fn default() -> Self {
        Board {
            status: Status::Running { version: 1 },
            run: None,
            build: None,
            loop_before_build: None,
            tweak_before_build: None,
        }
    }
}

/// What to do with an event after the board has seen it.
#[cfg(not(feature = "static"))]
#[derive(Debug, PartialEq)]
pub(crate) enum Report {
    /// Send it (after the summary of the panics it ends, if any).
    Send(Option<Event>),
    /// A repeat of the panic already reported: counted, not sent.
    Repeat,
}

#[cfg(not(feature = "static"))]
impl Board {
    pub(crate) fn status(&self) -> Status {
        self.status.clone()
    }

    /// Takes in an event. A panic identical to the one just reported is a repeat; any other event
    /// ends a run of repeats, which is then summarized as one `Panicked` event with its count.
    pub(crate) fn on_event(&mut self, event: &Event) -> Report {
        if let Some(Event::Panicked {
            version,
            function,
            message,
            location,
            count,
        }) = &mut self.run
            && let Event::Panicked {
                version: v,
                function: f,
                message: m,
                location: l,
                ..
            } = event
            && same_panic_site((*v, f, m, l), (*version, function, message, location))
        {
            *count += 1;
            if let Status::Panicked { count: shown, .. } = &mut self.status {
                *shown = *count;
            }
            return Report::Repeat;
        }
        let next = match event {
            Event::Loaded { version, .. } => Status::Running { version: *version },
            Event::Restored { version, .. } => Status::Restored { version: *version },
            Event::Tweaked {
                version,
                literals,
                effect_ms,
            } => Status::Tweaked {
                version: *version,
                what: literals
                    .iter()
                    .map(|l| format!("{} {} \u{2192} {} at {}", l.name, l.old, l.new, l.at))
                    .collect::<Vec<_>>()
                    .join(", "),
                effect_ms: *effect_ms,
                compiled_in: false,
            },
            Event::Reloaded { version, .. }
                if matches!(self.status, Status::Tweaked { .. })
                    || matches!(self.tweak_before_build, Some(Status::Tweaked { .. })) =>
            {
                self.build = None;
                let shown = self
                    .tweak_before_build
                    .take()
                    .unwrap_or_else(|| self.status.clone());
                let Status::Tweaked {
                    what, effect_ms, ..
                } = shown
                else {
                    return Report::Send(None);
                };
                Status::Tweaked {
                    version: *version,
                    what,
                    effect_ms,
                    compiled_in: true,
                }
            }
            Event::Reloaded {
                version, timings, ..
            } => {
                let (build_ms, edit_to_effect_ms) = match self.build.take() {
                    Some((build, edit)) => (
                        Some(build.as_secs_f64() * 1000.0),
                        edit.map(|e| e.elapsed().as_secs_f64() * 1000.0),
                    ),
                    None => (None, None),
                };
                Status::Reloaded {
                    version: *version,
                    swap_ms: timings.pause.as_secs_f64() * 1000.0,
                    build_ms,
                    edit_to_effect_ms,
                }
            }
            Event::ReloadFailed {
                running, reason, ..
            } => Status::ReloadRefused {
                version: *running,
                reason: reason.clone(),
            },
            Event::Panicked {
                version,
                function,
                message,
                location,
                ..
            } => Status::Panicked {
                version: *version,
                function: function.clone(),
                message: message.clone(),
                location: location.clone(),
                count: 1,
            },
            Event::Rewound {
                version,
                frames_back,
                ..
            } => Status::Rewound {
                version: *version,
                frames_back: *frames_back,
            },
            Event::LoopRecording { version } => Status::LoopRecording { version: *version },
            Event::LoopPass {
                pass,
                frames,
                version,
            } => {
                if self.status.is_problem() && *pass > 1 {
                    // A failed build or a panic stays shown while the loop goes on.
                    return Report::Send(None);
                }
                Status::Looping {
                    version: *version,
                    pass: *pass,
                    frames: *frames,
                }
            }
            Event::LoopStopped { .. } => Status::Running {
                version: self.status.version(),
            },
            Event::LoopRefused { reason } => Status::LoopRefused {
                version: self.status.version(),
                reason: reason.clone(),
            },
            // Nothing the user has to act on (an old version unmapped, a failed restore, a stall the
            // supervisor reports): what is shown stays, a run of panics goes on.
            _ => return Report::Send(None),
        };
        self.loop_before_build = None;
        // The run of repeats this event ends, reported once with its count.
        let summary = self
            .run
            .take()
            .filter(|run| matches!(run, Event::Panicked { count, .. } if *count > 1));
        if let Event::Panicked { .. } = event {
            self.run = Some(event.clone());
        }
        self.status = next;
        Report::Send(summary)
    }

    /// Takes in what the supervisor reports about a build: `{"status": "building"}`,
    /// `{"status": "build_failed", "error": …, "location": …}` or
    /// `{"status": "built", "build_ms": …, "since_edit_ms": …}`.
    pub(crate) fn on_supervisor(&mut self, report: &serde_json::Value) {
        let version = self.status.version();
        let text = |key: &str| report[key].as_str().map(str::to_owned);
        match report["status"].as_str() {
            Some("building") => {
                // A tweak's rebuild: the tweak stays shown while it compiles.
                if matches!(self.status, Status::Tweaked { .. }) {
                    self.tweak_before_build = Some(self.status.clone());
                    return;
                }
                self.tweak_before_build = None;
                if matches!(
                    self.status,
                    Status::Looping { .. } | Status::LoopRecording { .. }
                ) {
                    self.loop_before_build = Some(self.status.clone());
                }
                self.status = Status::Building { version };
            }
            Some("build_failed") => {
                self.build = None;
                self.tweak_before_build = None;
                self.loop_before_build = None;
                self.status = Status::BuildFailed {
                    version,
                    error: text("error").unwrap_or_else(|| "see the terminal".to_owned()),
                    location: text("location"),
                    rendered: text("rendered"),
                };
            }
            Some("built") => {
                let ms = |key: &str| {
                    report[key]
                        .as_f64()
                        .map(|v| Duration::from_secs_f64(v / 1000.0))
                };
                let edit = ms("since_edit_ms").and_then(|age| Instant::now().checked_sub(age));
                self.build = ms("build_ms").map(|b| (b, edit));
                if let Some(shown) = self.loop_before_build.take()
                    && matches!(self.status, Status::Building { .. })
                {
                    self.status = shown;
                }
            }
            _ => {}
        }
    }
}

#[cfg(all(test, not(feature = "static")))]
mod tests;
