//! Where every [`Event`] of one worker goes: the status board behind `Worker::status`, the log,
//! and the subscribers' channels.
//!
//! The one module of the three that knows the other two: [`crate::session::event`] says what
//! happened, [`crate::session::status`] keeps the board, and the [`Bus`] feeds each event to the
//! board before it logs and sends it.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use crate::session::event::Event;

/// What a failure event says, for a host that listens to nothing else; `None` for news that is
/// not a problem.
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
#[derive(Clone, Default)]
pub(crate) struct Bus {
    senders: Arc<Mutex<Vec<Sender<Event>>>>,
    board: Arc<Mutex<crate::session::status::Board>>,
}

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
