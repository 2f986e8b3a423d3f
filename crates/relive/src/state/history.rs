//! Rewind: the states of the last frames, kept so that play can go back and continue from there.
//!
//! After each `update` the state is encoded (the same bytes a reload carries) and kept in a ring
//! bounded by a memory budget. Rewinding decodes an earlier entry with the code running now (the
//! same tolerant decode and migrations as a reload), so going back across a reload works. It
//! reaches at most 10 s back. The ring costs nothing unless it is on: [`crate::Worker::keep_history`], or `cargo relive run`
//! (`--history MB`). A state too large to encode every frame turns it off, with a warning.

#[cfg(not(feature = "static"))]
use std::collections::VecDeque;
#[cfg(not(feature = "static"))]
use std::time::{Duration, Instant};

/// How far back to go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rewind {
    /// This many `update` calls back.
    Frames(u64),
    /// This long back (to the newest state at least that old).
    Seconds(f64),
    /// To the state after `update` number `n` (counted since the worker was opened), as
    /// [`crate::Worker::history_state`] reports it.
    ToFrame(u64),
}

impl std::str::FromStr for Rewind {
    type Err = String;

    /// `120f` or `120` (frames), `2s`, `1.5s`, `500ms`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "`{text}` is not an amount to rewind: frames (`120f` or `120`) or time (`2s`, `500ms`)"
            )
        };
        if let Some(ms) = text.strip_suffix("ms") {
            let ms: f64 = ms.trim().parse().map_err(|_| bad())?;
            return (ms.is_finite() && ms >= 0.0)
                .then_some(Rewind::Seconds(ms / 1000.0))
                .ok_or_else(bad);
        }
        if let Some(s) = text.strip_suffix('s') {
            let s: f64 = s.trim().parse().map_err(|_| bad())?;
            return (s.is_finite() && s >= 0.0)
                .then_some(Rewind::Seconds(s))
                .ok_or_else(bad);
        }
        let frames = text.strip_suffix('f').unwrap_or(text);
        frames.trim().parse().map(Rewind::Frames).map_err(|_| bad())
    }
}

/// Where a loop is, for the host's UI (`Worker::loop_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopState {
    /// No loop: live play.
    Off,
    /// `Worker::loop_start` was called; the recording starts at the next `update`.
    Armed,
    /// Recording: this many frames so far.
    Recording {
        /// Frames recorded.
        frames: usize,
    },
    /// Playing the recording.
    Playing {
        /// The pass being played (1 for the first).
        pass: u64,
        /// The frame of the pass being played (1-based).
        frame: usize,
        /// Frames in the recording.
        frames: usize,
    },
}

/// One kept state: after `update` number `frame`.
#[cfg(not(feature = "static"))]
pub(crate) struct Entry {
    pub(crate) frame: u64,
    pub(crate) at: Instant,
    pub(crate) state_version: u32,
    pub(crate) bytes: Vec<u8>,
}

/// The ring.
#[cfg(not(feature = "static"))]
pub(crate) struct History {
    entries: VecDeque<Entry>,
    bytes: usize,
    budget: usize,
    /// `update` calls so far.
    pub(crate) frame: u64,
    /// Frames in a row whose encoding took longer than [`MAX_ENCODE`].
    pub(crate) slow_in_a_row: u32,
}

/// How far back the ring reaches at most, whatever the budget.
#[cfg(not(feature = "static"))]
pub(crate) const MAX_AGE: Duration = Duration::from_secs(10);

/// The longest one frame's encoding may take, [`SLOW_FRAMES`] frames in a row, before the ring
/// turns itself off.
#[cfg(not(feature = "static"))]
pub(crate) const MAX_ENCODE: Duration = Duration::from_millis(4);

/// How many frames in a row may encode slower than [`MAX_ENCODE`]: one slow frame is the machine
/// (the thread descheduled, a build running beside the game), not the state.
#[cfg(not(feature = "static"))]
pub(crate) const SLOW_FRAMES: u32 = 8;

#[cfg(not(feature = "static"))]
impl History {
    pub(crate) fn new(budget: usize) -> History {
        History {
            entries: VecDeque::new(),
            bytes: 0,
            budget,
            frame: 0,
            slow_in_a_row: 0,
        }
    }

    /// The memory budget, in bytes.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Whether a state of `len` bytes is small enough to keep every frame: a budget holds at least
    /// 32 of them.
    pub(crate) fn fits(&self, len: usize) -> bool {
        len.saturating_mul(32) <= self.budget
    }

    /// Keeps the state after the current frame, dropping the oldest beyond the budget or older
    /// than [`MAX_AGE`].
    pub(crate) fn push(&mut self, state_version: u32, bytes: Vec<u8>) {
        let now = Instant::now();
        self.bytes += bytes.len();
        self.entries.push_back(Entry {
            frame: self.frame,
            at: now,
            state_version,
            bytes,
        });
        while self
            .entries
            .front()
            .is_some_and(|e| now.duration_since(e.at) > MAX_AGE)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.bytes.len();
            }
        }
        while self.bytes > self.budget {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.bytes.len(),
                None => break,
            }
        }
    }

    /// Frames and seconds kept.
    pub(crate) fn span(&self) -> (u64, f64) {
        match (self.entries.front(), self.entries.back()) {
            (Some(first), Some(last)) => (
                last.frame - first.frame,
                last.at.duration_since(first.at).as_secs_f64(),
            ),
            _ => (0, 0.0),
        }
    }

    /// Where the entry `back` before the newest is.
    fn index_of(&self, back: Rewind) -> Option<usize> {
        let newest = self.entries.back()?;
        match back {
            Rewind::Frames(n) => {
                let target = newest.frame.checked_sub(n)?;
                self.entries.iter().rposition(|e| e.frame == target)
            }
            // A frame that left the ring since it was looked at (or not played yet): the
            // nearest kept one.
            Rewind::ToFrame(target) => {
                let target = target.clamp(self.entries.front()?.frame, newest.frame);
                self.entries.iter().rposition(|e| e.frame == target)
            }
            Rewind::Seconds(s) => {
                let target = Duration::from_secs_f64(s.max(0.0));
                let now = newest.at;
                self.entries
                    .iter()
                    .rposition(|e| now.duration_since(e.at) >= target)
            }
        }
    }

    /// The entry `back` before the newest, leaving the ring as it is; with the oldest and newest
    /// frames kept.
    pub(crate) fn peek(&self, back: Rewind) -> Option<(&Entry, u64, u64)> {
        let entry = self.entries.get(self.index_of(back)?)?;
        Some((
            entry,
            self.entries.front()?.frame,
            self.entries.back()?.frame,
        ))
    }

    /// The entry `back` before the newest, dropping every newer one (play goes on from it);
    /// `None` when the ring does not reach that far (nothing is dropped then).
    pub(crate) fn take_back(&mut self, back: Rewind) -> Option<&Entry> {
        let index = self.index_of(back)?;
        while self.entries.len() > index + 1 {
            if let Some(dropped) = self.entries.pop_back() {
                self.bytes -= dropped.bytes.len();
            }
        }
        let kept = self.entries.back()?;
        self.frame = kept.frame;
        Some(kept)
    }
}

#[cfg(all(test, not(feature = "static")))]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_as_frames_or_time() {
        assert_eq!("120f".parse(), Ok(Rewind::Frames(120)));
        assert_eq!("120".parse(), Ok(Rewind::Frames(120)));
        assert_eq!("2s".parse(), Ok(Rewind::Seconds(2.0)));
        assert_eq!("500ms".parse(), Ok(Rewind::Seconds(0.5)));
        assert!("-1s".parse::<Rewind>().is_err());
        assert!("two".parse::<Rewind>().is_err());
    }

    #[test]
    fn the_ring_keeps_its_budget_and_rewinding_drops_what_came_after() {
        let mut h = History::new(100);
        for frame in 1..=20 {
            h.frame = frame;
            h.push(0, vec![frame as u8; 10]);
        }
        // 100 bytes: the last ten frames.
        assert_eq!(h.span().0, 9);
        assert!(h.take_back(Rewind::Frames(10)).is_none(), "beyond the ring");
        let entry = h.take_back(Rewind::Frames(3)).unwrap();
        assert_eq!((entry.frame, entry.bytes[0]), (17, 17));
        assert_eq!(h.frame, 17);
        assert_eq!(h.span().0, 6);
        // Looking does not drop anything; a frame number finds its entry.
        let (entry, oldest, newest) = h.peek(Rewind::ToFrame(13)).unwrap();
        assert_eq!((entry.bytes[0], oldest, newest), (13, 11, 17));
        assert_eq!(h.span().0, 6);
        // A frame beyond either end: the nearest kept.
        assert_eq!(h.peek(Rewind::ToFrame(18)).unwrap().0.frame, 17);
        assert_eq!(h.peek(Rewind::ToFrame(2)).unwrap().0.frame, 11);
        // Going there, to a frame that has left the ring: the oldest kept.
        assert_eq!(h.take_back(Rewind::ToFrame(2)).unwrap().frame, 11);
    }
}
