//! The state inside a `Worker`: taken out as a snapshot, put back from one, as JSON.

use std::ffi::c_void;
use std::path::Path;
use std::ptr::NonNull;

use relive_worker::Interface;

use super::{Worker, call_error};
use crate::error::Error;
use crate::loader::library::CallError;
use crate::state::snapshot::{Format, Snapshot};

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Takes the current state out as a [`Snapshot`] (the state stays in place).
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let started = std::time::Instant::now();
        // SAFETY: the state was created by `self.lib`.
        match unsafe { self.lib.save(self.state.as_ptr()) } {
            Ok(bytes) => {
                note_encode(&self.last_encode, bytes.len(), started.elapsed());
                Ok(Snapshot {
                    state_type: self.lib.state_type().to_owned(),
                    state_version: self.lib.state_version(),
                    bytes,
                })
            }
            Err(CallError::Failed(message)) => Err(Error::Save {
                version: self.version,
                message,
            }),
            Err(e) => Err(call_error(e, "save", self.version)),
        }
    }

    /// The size in bytes and the time of the last encode of the state on the game's thread (by
    /// [`Worker::snapshot`] or the history's frame), if there was one: what a reader decides by
    /// whether to read in the frame or [aside](Worker::snapshot_aside).
    pub fn last_encode(&self) -> Option<(usize, std::time::Duration)> {
        self.last_encode.get().map(|(bytes, took, _)| (bytes, took))
    }

    /// Whether the last encode of the state on the game's thread ([`Worker::last_encode`]) was
    /// large enough (over 256 KB), or it and the one before slow enough (over 4 ms: one encode
    /// slowed by the machine does not count), that the frame is better off reading the state
    /// [aside](Worker::snapshot_aside): what relive's recovery snapshots and the in-window
    /// inspector decide by.
    pub fn encode_is_slow(&self) -> bool {
        self.last_encode.get().is_some_and(|(bytes, took, before)| {
            bytes > 256 << 10 || took.min(before) > crate::state::history::MAX_ENCODE
        })
    }

    /// Replaces the state with one decoded from `snapshot` (through the worker's tolerant decode
    /// and `migrate`). On failure the current state is unchanged.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        let new_state = self.decode(snapshot)?;
        self.replace_state(new_state);
        Ok(())
    }

    /// A new state decoded from `snapshot` by the running library; a refusal names the path
    /// where the decoder failed.
    pub(super) fn decode(&self, snapshot: &Snapshot) -> Result<*mut c_void, Error> {
        match self.lib.load(&snapshot.bytes, snapshot.state_version) {
            Ok(state) => Ok(state),
            Err(CallError::Failed(message)) => {
                let at =
                    crate::state::misfit::find(&self.lib, &snapshot.bytes, snapshot.state_version)
                        .map(|p| format!(" (at `{p}`)"))
                        .unwrap_or_default();
                Err(Error::BadValue {
                    message: format!("{}{at}", crate::error::decode_message::plain(&message)),
                })
            }
            Err(e) => Err(call_error(e, "load", self.version)),
        }
    }

    /// Replaces the state with a fresh `Default` one. The only way relive ever resets a state.
    pub fn reset(&mut self) -> Result<(), Error> {
        let new_state = self
            .lib
            .create()
            .map_err(|e| call_error(e, "create", self.version))?;
        self.replace_state(new_state);
        Ok(())
    }

    pub(super) fn replace_state(&mut self, new_state: *mut c_void) {
        self.frozen = None;
        let old = std::mem::replace(
            &mut self.state,
            NonNull::new(new_state).unwrap_or(NonNull::dangling()),
        );
        // SAFETY: the old state was created by `self.lib` and nothing refers to it any more.
        if let Err(e) = unsafe { self.lib.drop_state(old.as_ptr()) } {
            self.report_unload(e, "drop", self.version);
        }
    }

    /// Writes the state to `path` atomically.
    pub fn save_snapshot(&self, path: impl AsRef<Path>, format: Format) -> Result<(), Error> {
        self.snapshot()?.write(path.as_ref(), format)
    }

    /// Restores the state from a snapshot file of either format.
    pub fn load_snapshot(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let snapshot = Snapshot::read(path.as_ref())?;
        self.restore(&snapshot)
    }

    /// The state as JSON, produced from the worker's serde implementation.
    pub fn state_json(&self) -> Result<serde_json::Value, Error> {
        self.snapshot()?.to_json()
    }

    /// Replaces the state with `value`, decoded by the worker like a reload would. A value that
    /// does not fit the state type is refused with the decoder's message.
    pub fn set_state_json(&mut self, value: &serde_json::Value) -> Result<(), Error> {
        let snapshot = Snapshot::from_json(self.lib.state_type(), self.lib.state_version(), value)?;
        self.restore(&snapshot)
    }
}

/// Records an encode of the state on the game's thread in `last` (a `Worker`'s), keeping the
/// time of the one before.
pub(super) fn note_encode(
    last: &std::cell::Cell<Option<(usize, std::time::Duration, std::time::Duration)>>,
    bytes: usize,
    took: std::time::Duration,
) {
    let before = last.get().map_or(took, |(_, took, _)| took);
    last.set(Some((bytes, took, before)));
}
