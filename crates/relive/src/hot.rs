//! [`Worker`]: the hot-reloading host side of one worker library.

use std::ffi::c_void;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use relive_worker::Interface;
use relive_worker::abi::CallFn;

use crate::error::Error;
use crate::loader::copies::Copies;
use crate::loader::library::{CallError, Library};
use crate::session::attention::{
    Attention, BUILD_READY, CONTROL, FROZEN, HISTORY, LOOP, QUIT, SNAPSHOT_DUE, STANDING,
    SUPERVISED,
};
use crate::session::bus::Bus;
use crate::session::event::{Event, SwapTimings};
use crate::session::supervise::Supervisor;
use crate::session::watch::{Loader, Prepared};

mod aside;
pub use aside::SnapshotAside;
mod commands;
mod inspect;
mod looping;
mod rewind;
pub use rewind::HistoryState;
mod state;
mod tweak;
use crate::{Func, Status};

/// A worker library that is reloaded while the host runs, with its state carried across.
///
/// `C` is the context trait object the host implements, e.g. `dyn base::Context`. Each call
/// ([`update`](Worker::update), [`call`](Worker::call)) first swaps in a newer build if one is
/// ready; checking costs one atomic load. The swap saves the state in the old version, loads it in
/// the new one, and only then drops the old state and closes the old library: when the new code
/// cannot read the state, the old version keeps running with it.
pub struct Worker<C: ?Sized + Interface + 'static> {
    lib: Library,
    version: u64,
    state: NonNull<c_void>,
    /// Names handed out as [`Func`]s; index 0 is `update`.
    names: Vec<String>,
    /// `names` resolved in `lib`; a function `lib` does not export is [`missing_function`].
    resolved: Vec<CallFn>,
    attention: Attention,
    supervisor: Option<Supervisor>,
    /// Requests sent to the supervisor ([`Worker::write_literal`]), for their numbers.
    requests: u64,
    /// When the last swap happened.
    last_swap: Option<Instant>,
    /// The states of the last frames, for [`Worker::rewind`], while kept.
    history: Option<crate::state::history::History>,
    /// A paused game's state, encoded by its first paused frame: the next paused frames put it
    /// back without encoding the state again. Dropped by anything else that calls the worker or
    /// replaces the state (raised as [`FROZEN`]).
    frozen: Option<crate::state::snapshot::Snapshot>,
    /// Whether a recovery snapshot is being read aside.
    recovery_aside: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Why the history turned itself off, when it did.
    history_off: Option<String>,
    /// The loop, while one is asked for, records or plays.
    looping: Option<looping::Loop>,
    /// The engine's wrapped reads, for a loop of a worker that calls its engine directly.
    engine_reads: Option<&'static relive_worker::tape::EngineReads>,
    /// The size and the time of the last encode of the state on this thread (a snapshot, the
    /// history's frame), and the time of the one before, for [`Worker::last_encode`].
    last_encode: std::cell::Cell<Option<(usize, Duration, Duration)>>,
    loader: Loader,
    bus: Bus,
    source: PathBuf,
    _context: PhantomData<fn(&mut C)>,
}

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Loads the worker crate `crate_name`, found through `RELIVE_WORKER_LIB` or next to the
    /// running executable in cargo's target directory (see [`crate::locate`]).
    pub fn new(crate_name: &str) -> Result<Self, Error> {
        Worker::open(crate::loader::locate::locate(crate_name)?)
    }

    /// Loads the worker library at `path` (the file cargo builds) and watches it for new builds.
    ///
    /// The library must lie in the running executable's cargo target directory (the nearest
    /// ancestor of the executable with cargo's `CACHEDIR.TAG`): relive loads only what the project
    /// built, never a file from elsewhere.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let source = std::fs::canonicalize(path.as_ref())
            .map_err(|e| Error::io("cannot find", path.as_ref(), e))?;
        crate::loader::locate::check_trusted(&source)?;
        crate::loader::shared_libs::check(&source)?;
        let mut copies = Copies::new(&source)?;
        let copy = copies.add(&source, 1)?;
        let lib = match Library::open::<C>(&copy) {
            Ok(lib) => lib,
            Err(e) => {
                copies.discard(&copy);
                return Err(e);
            }
        };
        let bus = Bus::default();
        let state = match lib.create() {
            Ok(state) => state,
            Err(e) => {
                let err = call_error(e, "create", 1);
                let _ = lib.close();
                return Err(err);
            }
        };
        let attention = Attention::default();
        let loader = match Loader::start::<C>(&source, copies, 2, bus.clone(), attention.clone()) {
            Ok(loader) => loader,
            Err(e) => {
                // SAFETY: the state was just created by this library.
                let _ = unsafe { lib.drop_state(state) };
                let _ = lib.close();
                return Err(e);
            }
        };
        // Before the first event, so that a supervisor hears it.
        let supervisor = Supervisor::from_env(&bus, &attention);
        if supervisor.is_some() {
            attention.raise(SUPERVISED);
        }
        bus.emit(Event::Loaded {
            version: 1,
            path: lib.path().to_owned(),
        });
        if let Some(message) = crate::unload::allocator::check_once() {
            bus.emit(Event::Warning { message });
        }
        let update = lib.function("update").unwrap_or(missing_function);
        let mut worker = Worker {
            lib,
            version: 1,
            state: NonNull::new(state).unwrap_or(NonNull::dangling()),
            names: vec!["update".to_owned()],
            resolved: vec![update],
            attention,
            supervisor,
            requests: 0,
            last_swap: None,
            history: None,
            history_off: None,
            recovery_aside: Default::default(),
            frozen: None,
            looping: None,
            engine_reads: None,
            last_encode: std::cell::Cell::new(None),
            loader,
            bus,
            source,
            _context: PhantomData,
        };
        worker.sync_heartbeat();
        worker.restore_from_supervisor();
        if let Some(budget) = worker.supervisor.as_ref().and_then(|s| s.history_budget) {
            worker.keep_history(budget);
        }
        Ok(worker)
    }

    /// Tells the watchdog the running version and the function names.
    fn sync_heartbeat(&self) {
        if let Some(s) = &self.supervisor {
            s.heartbeat
                .version
                .store(self.version, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut names) = s.heartbeat.names.lock() {
                names.clone_from(&self.names);
            }
        }
    }

    /// Handles what the attention word raised: a new build, a snapshot, a request to quit.
    #[cold]
    fn attend(&mut self, raised: u32, ctx: &mut C) {
        let swapped = raised & BUILD_READY != 0
            && !self.loop_defers_reload()
            && match self.loader.take() {
                Some(prepared) => self.swap(prepared, Some(ctx)).is_ok(),
                None => false,
            };
        if swapped {
            self.write_recovery_snapshot(false);
        }
        if raised & SNAPSHOT_DUE != 0 && self.attention.take(SNAPSHOT_DUE) {
            self.write_recovery_snapshot(false);
        }
        if raised & CONTROL != 0 && self.attention.take(CONTROL) {
            self.answer_commands();
        }
        if raised & QUIT != 0 && self.attention.take(QUIT) {
            self.write_recovery_snapshot(true);
            let _ = self.lib.before_unload();
            let _ = std::io::stdout().flush();
            std::process::exit(Supervisor::quit_code());
        }
    }

    /// Runs the worker's `update`, after swapping in a new build if one is ready.
    ///
    /// A panic in the worker is returned as [`Error::Panicked`]; the state stays as the panic left
    /// it and the next call (or the next build) continues from it.
    #[inline]
    pub fn update(&mut self, ctx: &mut C) -> Result<(), Error> {
        self.call(Func(0), ctx)
    }

    /// Whether a new build is loaded and waiting for the next call: one atomic load, cheap enough
    /// for every frame (a status overlay can show it).
    #[inline]
    pub fn is_new_build_ready(&self) -> bool {
        self.loader.is_ready()
    }

    /// Looks up an exported function by name, for [`Worker::call`]. The handle stays valid across
    /// reloads; a version that no longer exports it answers [`Error::NoSuchFunction`].
    pub fn func(&mut self, name: &str) -> Result<Func, Error> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(Func(i));
        }
        let f = self
            .lib
            .function(name)
            .ok_or_else(|| Error::NoSuchFunction {
                name: name.to_owned(),
            })?;
        self.names.push(name.to_owned());
        self.resolved.push(f);
        self.sync_heartbeat();
        Ok(Func(self.names.len() - 1))
    }

    /// Calls an exported function, after swapping in a new build if one is ready.
    #[inline]
    pub fn call(&mut self, f: Func, ctx: &mut C) -> Result<(), Error> {
        // One load and one test when nothing is pending and no supervisor watches; everything
        // else (a new build, a snapshot, a command, the heartbeat) is on `call_attended`.
        let raised = self.attention.get();
        if raised != 0 {
            return self.call_attended(raised, f, ctx);
        }
        let Some(&shim) = self.resolved.get(f.0) else {
            return Err(self.no_such_function(f));
        };
        // SAFETY: `shim` was resolved in `self.lib` (resolved is rebuilt at every swap) and
        // `self.state` was created by it.
        match unsafe { self.lib.call(shim, ctx, self.state.as_ptr()) } {
            Ok(()) => Ok(()),
            Err(e) => Err(self.report(e, f)),
        }
    }

    /// [`Worker::call`] when the attention word has bits raised: attends to them, then calls
    /// with the supervisor's heartbeat kept.
    #[inline(never)]
    fn call_attended(&mut self, raised: u32, f: Func, ctx: &mut C) -> Result<(), Error> {
        if raised & FROZEN != 0 && self.attention.take(FROZEN) {
            self.frozen = None;
        }
        if raised & !STANDING != 0 {
            self.attend(raised, &mut *ctx);
        }
        if f.0 == 0 && raised & LOOP != 0 {
            self.loop_before_update(&mut *ctx);
        }
        let Some(&shim) = self.resolved.get(f.0) else {
            return Err(self.no_such_function(f));
        };
        let heartbeat = self.supervisor.as_ref().map(|s| &*s.heartbeat);
        if let Some(h) = heartbeat {
            h.enter(f.0);
        }
        let result = if raised & LOOP != 0 {
            self.call_on_tape(shim, ctx)
        } else {
            // SAFETY: as in `call`.
            unsafe { self.lib.call(shim, ctx, self.state.as_ptr()) }
        };
        if let Some(h) = heartbeat {
            h.leave();
        }
        match result {
            Ok(()) => {
                if f.0 == 0 && raised & LOOP != 0 {
                    self.loop_after_update();
                }
                if f.0 == 0 && raised & HISTORY != 0 {
                    self.record_history();
                }
                Ok(())
            }
            Err(e) => Err(self.report(e, f)),
        }
    }

    #[cold]
    fn no_such_function(&self, f: Func) -> Error {
        Error::NoSuchFunction {
            name: self
                .names
                .get(f.0)
                .cloned()
                .unwrap_or_else(|| format!("#{}", f.0)),
        }
    }

    #[cold]
    fn report(&self, e: CallError, f: Func) -> Error {
        if self.lib.function(&self.names[f.0]).is_none() {
            // `missing_function` answered: this version does not export it.
            return self.no_such_function(f);
        }
        let err = call_error(e, &self.names[f.0], self.version);
        if let Error::Panicked {
            function,
            message,
            location,
            ..
        } = &err
        {
            self.bus.emit(Event::Panicked {
                version: self.version,
                function: function.clone(),
                message: message.clone(),
                location: location.clone(),
                count: 1,
            });
        }
        err
    }

    /// Swaps in the newest prepared build now, if there is one. `Ok(true)` when a swap happened.
    ///
    /// [`update`](Worker::update) and [`call`](Worker::call) do this on their own; a failure is
    /// then reported as an [`Event::ReloadFailed`] and the old version keeps running.
    pub fn reload(&mut self) -> Result<bool, Error> {
        match self.loader.take() {
            Some(prepared) => self.swap(prepared, None).map(|()| true),
            None => Ok(false),
        }
    }

    /// Waits up to `timeout` for a new build to be prepared, then swaps it in. `Ok(true)` when a
    /// swap happened. Meant for tools and tests; a game loop just calls [`Worker::update`].
    pub fn wait_and_reload(&mut self, timeout: Duration) -> Result<bool, Error> {
        match self.loader.wait(timeout) {
            Some(prepared) => self.swap(prepared, None).map(|()| true),
            None => Ok(false),
        }
    }

    /// Swaps in `prepared`; `ctx` is the host's context when it happens in a frame (for the
    /// worker's `before_save` and `after_load` hooks).
    fn swap(&mut self, prepared: Prepared, mut ctx: Option<&mut C>) -> Result<(), Error> {
        let start = Instant::now();
        let Prepared {
            lib: new,
            version,
            detected,
            prepare,
        } = prepared;
        let fail = |this: &Self, new: Library, err: Error| {
            this.bus.emit(Event::ReloadFailed {
                version,
                running: this.version,
                reason: err.to_string(),
            });
            let closed = new.path().to_owned();
            let _ = new.before_unload();
            let _ = new.close();
            let _ = std::fs::remove_file(closed);
            Err(err)
        };

        // The old version's `before_save` hook; if the reload then fails, its `after_load` runs
        // on the same state, so the old version goes on as after a reload.
        // SAFETY: the state was created by `self.lib`.
        if let Err(e) = unsafe {
            self.lib
                .before_save(ctx.as_deref_mut(), self.state.as_ptr())
        } {
            let err = call_error(e, "before_save", self.version);
            return fail(self, new, err);
        }
        let undo = |this: &Self, ctx: Option<&mut C>| {
            // SAFETY: the state was created by `this.lib`.
            if let Err(e) = unsafe { this.lib.after_load(ctx, this.state.as_ptr()) } {
                this.report_unload(e, "after_load", this.version);
            }
        };
        // SAFETY: the state was created by `self.lib`.
        let bytes = match unsafe { self.lib.save(self.state.as_ptr()) } {
            Ok(bytes) => bytes,
            Err(e) => {
                let err = match e {
                    CallError::Panicked { .. } => call_error(e, "save", self.version),
                    CallError::Failed(message) => Error::Save {
                        version: self.version,
                        message,
                    },
                };
                undo(self, ctx.as_deref_mut());
                return fail(self, new, err);
            }
        };
        let saved = Instant::now();
        let new_state = match new.load(&bytes, self.lib.state_version()) {
            Ok(state) => state,
            Err(CallError::Failed(message)) => {
                let err = Error::IncompatibleState {
                    version,
                    from_version: self.version,
                    from_state_version: self.lib.state_version(),
                    state_version: new.state_version(),
                    message: crate::error::decode_message::plain(&message),
                    at: crate::state::misfit::find(&new, &bytes, self.lib.state_version()),
                };
                undo(self, ctx.as_deref_mut());
                return fail(self, new, err);
            }
            Err(e) => {
                let err = call_error(e, "load", version);
                undo(self, ctx.as_deref_mut());
                return fail(self, new, err);
            }
        };
        // SAFETY: `new_state` was just created by `new`.
        if let Err(e) = unsafe { new.after_load(ctx.as_deref_mut(), new_state) } {
            let err = call_error(e, "after_load", version);
            // SAFETY: created by `new`, not used since.
            let _ = unsafe { new.drop_state(new_state) };
            undo(self, ctx);
            return fail(self, new, err);
        }
        let loaded = Instant::now();

        let resolved = self
            .names
            .iter()
            .map(|n| new.function(n).unwrap_or(missing_function))
            .collect();
        self.frozen = None;
        let old_lib = std::mem::replace(&mut self.lib, new);
        let old_state = std::mem::replace(
            &mut self.state,
            NonNull::new(new_state).unwrap_or(NonNull::dangling()),
        );
        let old_version = std::mem::replace(&mut self.version, version);
        self.resolved = resolved;

        // SAFETY: `old_state` was created by `old_lib` and nothing refers to it any more.
        if let Err(e) = unsafe { old_lib.drop_state(old_state.as_ptr()) } {
            self.report_unload(e, "drop", old_version);
        }
        if let Err(e) = old_lib.before_unload() {
            self.report_unload(e, "before_unload", old_version);
        }
        let old_path = old_lib.path().to_owned();
        if let Err(e) = old_lib.close() {
            log::warn!("{e}");
        }
        let done = Instant::now();
        self.last_swap = Some(done);
        self.bus.emit(Event::Reloaded {
            version,
            state_bytes: bytes.len(),
            timings: SwapTimings {
                prepare,
                detect_to_swap: done - detected,
                pause: done - start,
                save: saved - start,
                load: loaded - saved,
                unload: done - loaded,
            },
        });
        self.sync_heartbeat();
        // After `Reloaded`, so that subscribers see it before the unload check's event.
        self.loader
            .swapped(version, self.lib.path().to_owned(), (old_version, old_path));
        Ok(())
    }

    fn report_unload(&self, e: CallError, function: &str, version: u64) {
        if let CallError::Panicked { message, location } = e {
            self.bus.emit(Event::Panicked {
                version,
                function: function.to_owned(),
                message,
                location,
                count: 1,
            });
        }
    }

    /// The running version: 1 for the first load, counting every build relive tried since.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The versioned copy of the running library.
    pub fn library_path(&self) -> &Path {
        self.lib.path()
    }

    /// The library file relive watches for new builds.
    pub fn source_path(&self) -> &Path {
        &self.source
    }

    /// A channel receiving every [`Event`] from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.bus.subscribe()
    }

    /// Whether `cargo relive run` supervises this host. It prints relive's status lines itself
    /// then, so a host that would print [`Worker::status`] to the same terminal can leave that to
    /// it (a game that draws the status in its own window draws it either way).
    pub fn is_supervised(&self) -> bool {
        self.supervisor.is_some()
    }

    /// What relive is doing right now, for the game's own UI: building, the first error of a
    /// failed build and where it is, a refused reload, a panic (with how often it repeated), the
    /// last reload and its timings. Under `cargo relive run` this includes the builds; without
    /// it, what happened to this worker. `None` only in ship mode ([`crate::StaticWorker`]).
    pub fn status(&self) -> Option<Status> {
        Some(self.bus.status())
    }
}

impl<C: ?Sized + Interface + 'static> Drop for Worker<C> {
    fn drop(&mut self) {
        // The final state, for `cargo relive run` (nothing happens when not supervised).
        self.write_recovery_snapshot(true);
        // SAFETY: the state was created by `self.lib` and is dropped once, here.
        let _ = unsafe { self.lib.drop_state(self.state.as_ptr()) };
        let _ = self.lib.before_unload();
        // The library itself closes when the field drops; the loader thread stops after it.
    }
}

/// Stands for a function the loaded version does not export, so that a call needs no check on its
/// path: it fails, and [`Worker::call`]'s error path reports [`Error::NoSuchFunction`].
///
/// # Safety
///
/// Any arguments: none is read.
unsafe extern "C" fn missing_function(
    _ctx: *mut c_void,
    _state: *mut c_void,
    _sink: *const relive_worker::abi::Sink,
) -> u32 {
    relive_worker::abi::STATUS_FAILED
}

/// Turns a worker call's failure into an [`Error`].
fn call_error(e: CallError, function: &str, version: u64) -> Error {
    match e {
        CallError::Panicked { message, location } => Error::Panicked {
            function: function.to_owned(),
            version,
            message,
            location,
        },
        CallError::Failed(message) => Error::Failed {
            function: function.to_owned(),
            version,
            message,
        },
    }
}
