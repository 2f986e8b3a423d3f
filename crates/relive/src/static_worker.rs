//! [`StaticWorker`]: the ship mode, with the worker linked in as a normal crate.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use relive_worker::{Exports, OldState};

use crate::Func;
use crate::error::Error;
use crate::session::event::Event;
use crate::state::snapshot::{Format, Snapshot};

/// The same API as [`crate::Worker`], for a worker crate linked statically.
///
/// `update` is a direct (inlinable) call into the worker; there is no loader, no watcher, no FFI
/// shim, no `catch_unwind` and no serialization on the call path: a panic unwinds as in any Rust
/// program. Snapshots still work, through the same codec as the hot mode, so a save written while
/// developing loads in the shipped game.
pub struct StaticWorker<W: Exports> {
    state: W::State,
    _worker: PhantomData<W>,
}

impl<W: Exports> StaticWorker<W> {
    /// A ship build compiles every tweakable literal as itself: refused, saying so (the same
    /// call as [`crate::Worker::tweak`], so a host's code need not change).
    pub fn tweak(
        &mut self,
        _key: &crate::LiteralKey,
        _value: &crate::LiteralValue,
    ) -> Result<(), Error> {
        Err(Error::Tweak {
            message: "a ship build compiles every literal as itself: there is nothing to tweak"
                .to_owned(),
        })
    }

    /// None: a ship build compiles every literal as itself.
    pub fn tweakables(&self) -> Result<Vec<crate::Tweakable>, Error> {
        Ok(Vec::new())
    }

    /// Creates the worker with a default state. `_crate_name` is what [`crate::Worker::new`] takes;
    /// the static mode has nothing to look up.
    pub fn new(_crate_name: &str) -> Result<Self, Error> {
        Ok(StaticWorker {
            state: W::State::default(),
            _worker: PhantomData,
        })
    }

    /// Runs the worker's `update`.
    #[inline(always)]
    pub fn update(&mut self, ctx: &mut W::Context) -> Result<(), Error> {
        W::update(ctx, &mut self.state);
        Ok(())
    }

    /// Looks up an exported function by name.
    pub fn func(&mut self, name: &str) -> Result<Func, Error> {
        W::FUNCTIONS
            .iter()
            .position(|(n, _)| *n == name)
            .map(Func)
            .ok_or_else(|| Error::NoSuchFunction {
                name: name.to_owned(),
            })
    }

    /// Calls an exported function.
    #[inline(always)]
    pub fn call(&mut self, f: Func, ctx: &mut W::Context) -> Result<(), Error> {
        match W::FUNCTIONS.get(f.0) {
            Some((_, function)) => {
                function(ctx, &mut self.state);
                Ok(())
            }
            None => Err(Error::NoSuchFunction {
                name: format!("#{}", f.0),
            }),
        }
    }

    /// Always `false`: a static worker never changes.
    #[inline(always)]
    pub fn is_new_build_ready(&self) -> bool {
        false
    }

    /// Does nothing: a static worker never changes. Always `Ok(false)`.
    pub fn reload(&mut self) -> Result<bool, Error> {
        Ok(false)
    }

    /// Returns `Ok(false)` after `timeout`: a static worker never changes.
    pub fn wait_and_reload(&mut self, timeout: Duration) -> Result<bool, Error> {
        std::thread::sleep(timeout);
        Ok(false)
    }

    /// The state as a [`Snapshot`].
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let bytes = relive_worker::encode(&self.state).map_err(|e| Error::Save {
            version: 1,
            message: e.to_string(),
        })?;
        Ok(Snapshot {
            state_type: std::any::type_name::<W::State>().to_owned(),
            state_version: W::STATE_VERSION,
            bytes,
        })
    }

    /// Replaces the state with one decoded from `snapshot`; on failure the state is unchanged.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        self.state =
            W::restore(OldState::new(&snapshot.bytes, snapshot.state_version)).map_err(|e| {
                Error::BadValue {
                    message: e.to_string(),
                }
            })?;
        Ok(())
    }

    /// Replaces the state with a fresh `Default` one.
    pub fn reset(&mut self) -> Result<(), Error> {
        self.state = W::State::default();
        Ok(())
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

    /// The state as JSON.
    pub fn state_json(&self) -> Result<serde_json::Value, Error> {
        self.snapshot()?.to_json()
    }

    /// Replaces the state with `value`; a value that does not fit is refused.
    pub fn set_state_json(&mut self, value: &serde_json::Value) -> Result<(), Error> {
        let snapshot =
            Snapshot::from_json(std::any::type_name::<W::State>(), W::STATE_VERSION, value)?;
        self.restore(&snapshot)
    }

    /// Always 1: the static worker has one version.
    pub fn version(&self) -> u64 {
        1
    }

    /// A channel that never receives an event: nothing reloads in ship mode.
    pub fn subscribe(&self) -> Receiver<Event> {
        channel().1
    }

    /// Always refused: a ship build records no loop (nothing of loops is compiled in).
    pub fn loop_start(&mut self) -> Result<(), Error> {
        Err(Error::Loop {
            reason: "a ship build records no loop".to_owned(),
        })
    }

    /// Always refused, as [`StaticWorker::loop_start`].
    pub fn loop_end(&mut self) -> Result<usize, Error> {
        self.loop_start().map(|()| 0)
    }

    /// Always refused, as [`StaticWorker::loop_start`].
    pub fn loop_stop(&mut self) -> Result<u64, Error> {
        self.loop_start().map(|()| 0)
    }

    /// Does nothing: a ship build records no loop.
    pub fn record_reads(&mut self, _reads: &'static relive_worker::tape::EngineReads) {}

    /// Always [`crate::LoopState::Off`].
    pub fn loop_state(&self) -> crate::LoopState {
        crate::LoopState::Off
    }

    /// Always refused: a ship build keeps no history (nothing of rewind is compiled in).
    pub fn rewind(&mut self, _back: crate::Rewind) -> Result<u64, Error> {
        Err(Error::Rewind {
            reason: "a ship build keeps no history".to_owned(),
        })
    }

    /// Always `false`: a ship build runs on its own.
    pub fn is_supervised(&self) -> bool {
        false
    }

    /// Always `None`: a ship build has no reloads to report, so a game draws no status.
    pub fn status(&self) -> Option<crate::Status> {
        None
    }

    /// The state itself, which the static mode can lend out directly.
    pub fn state(&self) -> &W::State {
        &self.state
    }
}
