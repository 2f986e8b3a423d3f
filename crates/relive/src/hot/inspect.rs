//! What an inspector needs of a `Worker`: one value of the state changed in place, a frame drawn
//! without the state moving on (pause, and a frame of the history shown while scrubbing), and
//! the span of the kept history.

use relive_worker::Interface;

use super::Worker;
use crate::error::Error;
use crate::session::attention::STANDING;
use crate::state::history::Rewind;
use crate::state::snapshot::Snapshot;

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Sets the value at the JSON `pointer` (`/player/speed`) of the state to `value`, decoded by
    /// the worker's code like a reload would: what `cargo relive state set` does. A value of
    /// another kind than the one there (a string for a number, a float for an integer) or one
    /// the state's type refuses is refused with the field named, and nothing changes. The value
    /// the state holds there afterwards is returned (the worker's decode may have adjusted it).
    pub fn set_state_at(
        &mut self,
        pointer: &str,
        value: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let mut state = self.state_json()?;
        let slot = state.pointer_mut(pointer).ok_or_else(|| Error::Edit {
            message: format!("the state has no value at `{pointer}`"),
        })?;
        if let Some(refusal) = super::commands::kind_mismatch(pointer, slot, &value) {
            return Err(Error::Edit { message: refusal });
        }
        *slot = value;
        self.set_state_json(&state)?;
        Ok(self
            .state_json()?
            .pointer(pointer)
            .cloned()
            .unwrap_or_default())
    }

    /// Runs `update` for one frame and puts the state back as it was: the frame is drawn (a
    /// worker that draws in `update` shows its state), the game does not move on. For a paused
    /// game. Nothing is kept in the history and a loop does not advance; a new build is still
    /// swapped in and commands are still answered.
    ///
    /// The first paused frame encodes the state; the next ones put that back without encoding
    /// it again, until anything else calls the worker or changes the state.
    pub fn update_frozen(&mut self, ctx: &mut C) -> Result<(), Error> {
        self.attend_standing(ctx);
        let now = match self.frozen.take() {
            Some(kept) => kept,
            None => self.snapshot()?,
        };
        let result = self.call_frozen(&now, ctx);
        self.keep_frozen(now);
        result
    }

    /// Keeps `now`, the state the paused game goes back to, for the next paused frame.
    fn keep_frozen(&mut self, now: Snapshot) {
        self.frozen = Some(now);
        self.attention.raise(crate::session::attention::FROZEN);
    }

    /// Draws the frame of the history's state after update number `frame` (one `update` run
    /// on it, then thrown away) and puts the current state back: what a slider over the history
    /// shows while it is dragged. [`Worker::rewind`] with [`Rewind::ToFrame`] goes there for good.
    pub fn update_frozen_at(&mut self, frame: u64, ctx: &mut C) -> Result<(), Error> {
        self.attend_standing(ctx);
        let Some(history) = &self.history else {
            return Err(Error::Rewind {
                reason: "no history is kept".to_owned(),
            });
        };
        let Some((entry, _, _)) = history.peek(Rewind::ToFrame(frame)) else {
            return Err(Error::Rewind {
                reason: format!("frame {frame} is not kept"),
            });
        };
        let then = super::rewind::snapshot_of(&self.lib, entry);
        let now = match self.frozen.take() {
            Some(kept) => kept,
            None => self.snapshot()?,
        };
        self.restore(&then)?;
        let result = self.call_frozen(&now, ctx);
        self.keep_frozen(now);
        result
    }

    /// Whether `value` would be accepted as the state, decoded by the worker's code exactly as
    /// [`Worker::set_state_json`] decodes it, without changing anything: the decoder's refusal
    /// (with the path where it failed) when not. An inspector asks it which variants an enum
    /// has (serde's refusal of an unknown one lists them).
    pub fn check_state_json(&self, value: &serde_json::Value) -> Result<(), Error> {
        let snapshot = Snapshot::from_json(self.lib.state_type(), self.lib.state_version(), value)?;
        let state = self.decode(&snapshot)?;
        // SAFETY: the state was just created by `self.lib` and nothing else refers to it.
        if let Err(e) = unsafe { self.lib.drop_state(state) } {
            self.report_unload(e, "drop", self.version);
        }
        Ok(())
    }

    /// The oldest and the newest frame the history keeps (the newest is the state now), or
    /// `None` while it keeps none.
    pub fn history_frames(&self) -> Option<(u64, u64)> {
        let history = self.history.as_ref()?;
        history
            .peek(Rewind::Frames(0))
            .map(|(_, oldest, newest)| (oldest, newest))
    }

    /// Attends to what is raised (a build to swap in, a command), as `update` does first.
    fn attend_standing(&mut self, ctx: &mut C) {
        let raised = self.attention.get();
        if raised & !STANDING != 0 {
            self.attend(raised, ctx);
        }
    }

    /// Calls `update` on the state as it is, then puts `back` in its place.
    fn call_frozen(&mut self, back: &Snapshot, ctx: &mut C) -> Result<(), Error> {
        let Some(&shim) = self.resolved.first() else {
            return Err(self.no_such_function(crate::Func(0)));
        };
        let heartbeat = self.supervisor.as_ref().map(|s| &*s.heartbeat);
        if let Some(h) = heartbeat {
            h.enter(0);
        }
        // SAFETY: `shim` was resolved in `self.lib` (resolved is rebuilt at every swap) and
        // `self.state` was created by it.
        let result = unsafe { self.lib.call(shim, ctx, self.state.as_ptr()) };
        if let Some(h) = heartbeat {
            h.leave();
        }
        let called = result.map_err(|e| self.report(e, crate::Func(0)));
        // The state goes back also after a panic: a frozen frame changes nothing.
        self.restore(back)?;
        called
    }
}
