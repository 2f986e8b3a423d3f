//! Rewind inside a `Worker`: the history of the last frames' states, and going back in it.

use std::time::Instant;

use relive_worker::Interface;

use super::Worker;
use crate::error::Error;
use crate::session::attention::HISTORY;
use crate::session::event::Event;
use crate::state::history::{History, Rewind};
use crate::state::snapshot::Snapshot;

/// A state kept in the history ([`Worker::history_state`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryState {
    /// The state is the one after `update` number `frame`.
    pub frame: u64,
    /// The oldest frame kept.
    pub oldest: u64,
    /// The newest frame kept (the frame now).
    pub newest: u64,
    /// The state, as JSON.
    pub state: serde_json::Value,
}

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Keeps the state after each `update` in a ring of at most `budget` bytes and 10 s, for
    /// [`Worker::rewind`]; 0 turns it off. Each frame then pays for encoding its state (≈15 µs
    /// for 1 KB); a state too large to keep 32 of in the budget, or whose encoding takes more than
    /// 4 ms in 8 frames in a row, turns the ring off with a warning. `cargo relive run` keeps 64 MiB (`--history MB`).
    pub fn keep_history(&mut self, budget: usize) {
        self.history_off = None;
        if budget == 0 {
            self.history = None;
            self.attention.take(HISTORY);
        } else {
            self.history = Some(History::new(budget));
            self.attention.raise(HISTORY);
        }
    }

    /// Why the history turned itself off (the state too large for its budget, or too slow to
    /// encode every frame), when it did; `None` while it is on, or was turned off by the host.
    pub fn history_off(&self) -> Option<&str> {
        self.history_off.as_deref()
    }

    /// Goes back to the state of `back` frames (or seconds) ago, decoded by the code running now
    /// (as a reload would: across a reload too), and drops the later states: play continues from
    /// there. How many frames it went back. Refused, changing nothing, when the history is off
    /// or does not reach that far.
    pub fn rewind(&mut self, back: Rewind) -> Result<u64, Error> {
        if !matches!(self.loop_state(), crate::LoopState::Off) {
            return Err(Error::Rewind {
                reason: "a loop is on: stop it first".to_owned(),
            });
        }
        let Some(history) = &mut self.history else {
            return Err(Error::Rewind {
                reason: "no history is kept: `keep_history(budget)`, or `cargo relive run` (which keeps one)".to_owned(),
            });
        };
        let now = history.frame;
        let (frames, seconds) = history.span();
        let Some(entry) = history.take_back(back) else {
            return Err(Error::Rewind {
                reason: format!("the history reaches {frames} frames ({seconds:.1}s) back"),
            });
        };
        let frame = entry.frame;
        let snapshot = snapshot_of(&self.lib, entry);
        self.restore(&snapshot)?;
        self.bus.emit(Event::Rewound {
            version: self.version,
            frames_back: now - frame,
            frame,
        });
        Ok(now - frame)
    }

    /// The kept state `at` (frames or seconds back, or a frame number) as JSON, without going
    /// there: for scrubbing through the history (`cargo relive inspect`). With the frame it is
    /// the state after, and the oldest and newest frames kept. Refused as [`Worker::rewind`] is.
    pub fn history_state(&self, at: Rewind) -> Result<HistoryState, Error> {
        let Some(history) = &self.history else {
            return Err(Error::Rewind {
                reason: "no history is kept".to_owned(),
            });
        };
        let Some((entry, oldest, newest)) = history.peek(at) else {
            let (frames, seconds) = history.span();
            return Err(Error::Rewind {
                reason: format!("the history reaches {frames} frames ({seconds:.1}s) back"),
            });
        };
        Ok(HistoryState {
            frame: entry.frame,
            oldest,
            newest,
            state: snapshot_of(&self.lib, entry).to_json()?,
        })
    }

    /// Encodes the state after an `update` into the history (see [`Worker::keep_history`]).
    #[cold]
    pub(super) fn record_history(&mut self) {
        let started = Instant::now();
        // SAFETY: the state was created by `self.lib`.
        let saved = unsafe { self.lib.save(self.state.as_ptr()) };
        let state_version = self.lib.state_version();
        let Some(history) = &mut self.history else {
            return;
        };
        history.frame += 1;
        let Ok(bytes) = saved else {
            return;
        };
        super::state::note_encode(&self.last_encode, bytes.len(), started.elapsed());
        if started.elapsed() > crate::state::history::MAX_ENCODE {
            history.slow_in_a_row += 1;
        } else {
            history.slow_in_a_row = 0;
        }
        let too_slow = history.slow_in_a_row >= crate::state::history::SLOW_FRAMES;
        let why = if !history.fits(bytes.len()) {
            let mb = |b: usize| b.div_ceil(1 << 20);
            Some(format!(
                "the state ({:.1} MB encoded) is too large to keep 32 frames of in {} MB \
                 (`cargo relive run --history {}` would keep them)",
                bytes.len() as f64 / 1e6,
                mb(history.budget()),
                mb(bytes.len() * 32)
            ))
        } else if too_slow {
            Some(format!(
                "the state ({} KB encoded) took over {} ms to encode in {} frames in a row \
                 ({:.1} ms the last time)",
                bytes.len() / 1000,
                crate::state::history::MAX_ENCODE.as_millis(),
                crate::state::history::SLOW_FRAMES,
                started.elapsed().as_secs_f64() * 1e3
            ))
        } else {
            None
        };
        if let Some(why) = why {
            log::warn!("rewind is off: {why}");
            self.keep_history(0);
            self.history_off = Some(why);
            return;
        }
        history.push(state_version, bytes);
    }
}

/// A kept state as a snapshot of the running library's state type.
pub(super) fn snapshot_of(
    lib: &crate::loader::library::Library,
    entry: &crate::state::history::Entry,
) -> Snapshot {
    Snapshot {
        state_type: lib.state_type().to_owned(),
        state_version: entry.state_version,
        bytes: entry.bytes.clone(),
    }
}
