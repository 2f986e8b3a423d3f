//! Notices new builds and prepares them off the frame path.
//!
//! A `notify` watcher on the library's directory forwards changes of the library file to a loader
//! thread. The loader thread checks that the file is a complete library, copies it to a fresh
//! versioned path, loads it and checks its fingerprint, then raises a flag. The frame thread pays
//! one atomic load per call to see that flag (see [`crate::session::attention`]); the swap itself is
//! [`crate::Worker`]'s. After a swap the loader thread also checks, off the frame path, that the old
//! image left the process's mappings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use relive_worker::Interface;

use crate::error::Error;
use crate::loader::copies::Copies;
use crate::loader::library::Library;
use crate::session::attention::{Attention, BUILD_READY};
use crate::session::bus::Bus;
use crate::session::event::Event;

/// How long a file that is not a complete library may stay so before the failure is reported:
/// a writer that is still at work sends more events within this time.
const SETTLE: Duration = Duration::from_millis(250);

/// A new version, loaded and checked, waiting for the frame boundary.
pub(crate) struct Prepared {
    pub(crate) lib: Library,
    pub(crate) version: u64,
    pub(crate) detected: Instant,
    pub(crate) prepare: Duration,
}

pub(crate) enum Command {
    /// The library file changed at this instant.
    Changed(Instant),
    /// The frame thread swapped to `current` and closed `closed`.
    Swapped {
        current: PathBuf,
        closed: (u64, PathBuf),
    },
    /// A prepared library was refused; its copy can go.
    Discard(PathBuf),
    Stop,
}

/// The watcher and the loader thread of one worker.
pub(crate) struct Loader {
    ready: Attention,
    running: Arc<AtomicU64>,
    prepared: Receiver<Prepared>,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    // Dropped with the loader: stops the file events.
    _watcher: notify::RecommendedWatcher,
}

impl Loader {
    /// Starts watching `source` (the built library). `copies` and `next_version` continue from the
    /// first load.
    pub(crate) fn start<C: ?Sized + Interface + 'static>(
        source: &Path,
        copies: Copies,
        next_version: u64,
        bus: Bus,
        ready: Attention,
    ) -> Result<Loader, Error> {
        let (commands, command_rx) = channel();
        let (prepared_tx, prepared) = channel();
        let running = Arc::new(AtomicU64::new(next_version.saturating_sub(1)));

        let dir = source.parent().unwrap_or(Path::new(".")).to_owned();
        let file = source.to_owned();
        let events = commands.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            let relevant = matches!(
                event.kind,
                EventKind::Create(_)
                    | EventKind::Modify(_)
                    | EventKind::Access(notify::event::AccessKind::Close(_))
            ) && event.paths.iter().any(|p| p == &file);
            if relevant {
                let _ = events.send(Command::Changed(Instant::now()));
            }
        })
        .map_err(|source| Error::Watch {
            path: dir.clone(),
            source,
        })?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|source| Error::Watch { path: dir, source })?;

        let state = LoaderThread {
            source: source.to_owned(),
            copies,
            next_version,
            last_seen: None,
            bus,
            ready: ready.clone(),
            running: running.clone(),
            prepared: prepared_tx,
        };
        let thread = std::thread::Builder::new()
            .name("relive-loader".to_owned())
            .spawn(move || state.run::<C>(command_rx))
            .map_err(|e| Error::io("cannot start the loader thread for", source, e))?;
        Ok(Loader {
            ready,
            running,
            prepared,
            commands,
            thread: Some(thread),
            _watcher: watcher,
        })
    }

    /// Whether a prepared version is waiting: one atomic load.
    #[inline(always)]
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.get() & BUILD_READY != 0
    }

    /// Takes the newest prepared version, if any, closing older ones that were never swapped in.
    pub(crate) fn take(&self) -> Option<Prepared> {
        self.ready.take(BUILD_READY);
        let mut newest: Option<Prepared> = None;
        while let Ok(p) = self.prepared.try_recv() {
            if let Some(skipped) = newest.replace(p) {
                self.discard(skipped);
            }
        }
        newest
    }

    /// Blocks until a prepared version is waiting or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Prepared> {
        if let Some(p) = self.take() {
            return Some(p);
        }
        self.prepared.recv_timeout(timeout).ok()
    }

    /// Closes a prepared version that will not be used and removes its copy.
    pub(crate) fn discard(&self, prepared: Prepared) {
        let path = prepared.lib.path().to_owned();
        let _ = prepared.lib.before_unload();
        let _ = prepared.lib.close();
        let _ = self.commands.send(Command::Discard(path));
    }

    /// Records that `current` (version `version`) now runs and `closed` was closed.
    pub(crate) fn swapped(&self, version: u64, current: PathBuf, closed: (u64, PathBuf)) {
        self.running.store(version, Ordering::Relaxed);
        let _ = self.commands.send(Command::Swapped { current, closed });
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Prepared versions nobody took are closed with the channel.
        while let Ok(p) = self.prepared.try_recv() {
            let _ = p.lib.before_unload();
            let _ = p.lib.close();
        }
    }
}

/// Identity of the file at one moment: a new build has a new inode, size or mtime.
type FileId = (u64, u64, u64, i64, i64);

fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

struct LoaderThread {
    source: PathBuf,
    copies: Copies,
    next_version: u64,
    last_seen: Option<FileId>,
    bus: Bus,
    ready: Attention,
    running: Arc<AtomicU64>,
    prepared: Sender<Prepared>,
}

impl LoaderThread {
    fn run<C: ?Sized + Interface + 'static>(mut self, commands: Receiver<Command>) {
        // A build that looked incomplete: (first event, last event, why). Reported when no event
        // came for SETTLE: a writer still at work keeps sending events.
        let mut unsettled: Option<(Instant, Instant, String)> = None;
        loop {
            let command = match &unsettled {
                Some((_, last, _)) => {
                    let left = SETTLE.saturating_sub(last.elapsed());
                    match commands.recv_timeout(left) {
                        Ok(c) => c,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Some((_, _, reason)) = unsettled.take() {
                                self.fail(reason);
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match commands.recv() {
                    Ok(c) => c,
                    Err(_) => return,
                },
            };
            match command {
                Command::Changed(at) => {
                    // Coalesce a burst of events into one attempt.
                    let mut rest = Vec::new();
                    while let Ok(c) = commands.try_recv() {
                        match c {
                            Command::Changed(_) => {}
                            Command::Stop => return,
                            other => rest.push(other),
                        }
                    }
                    for c in rest {
                        self.handle_other(c);
                    }
                    let first = unsettled.as_ref().map_or(at, |(first, _, _)| *first);
                    unsettled = self
                        .attempt::<C>(first)
                        .err()
                        .map(|reason| (first, Instant::now(), reason));
                }
                Command::Stop => return,
                other => self.handle_other(other),
            }
        }
    }

    fn handle_other(&mut self, command: Command) {
        match command {
            Command::Swapped { current, closed } => {
                self.copies.prune(&current);
                let (version, path) = closed;
                match crate::unload::maps::is_mapped(&path) {
                    Ok(false) => self.bus.emit(Event::Unloaded { version }),
                    Ok(true) => {
                        let why = stale_why(&path);
                        self.bus.emit(Event::StaleMapping { version, path, why });
                    }
                    Err(e) => log::warn!(
                        "cannot read /proc/self/maps to check version {version} left: {e}"
                    ),
                }
            }
            Command::Discard(path) => self.copies.discard(&path),
            Command::Changed(_) | Command::Stop => {}
        }
    }

    /// Tries to prepare the file as it is now. `Err(reason)` when it is not (yet) a complete
    /// library; other failures are reported at once.
    fn attempt<C: ?Sized + Interface>(&mut self, detected: Instant) -> Result<(), String> {
        let Some(id) = file_id(&self.source) else {
            return Ok(()); // removed: the next build brings it back
        };
        if self.last_seen == Some(id) {
            return Ok(());
        }
        if let Err(reason) = crate::loader::elf::check(&self.source) {
            return Err(format!(
                "{} is not a loadable library: {reason}",
                self.source.display()
            ));
        }
        self.last_seen = Some(id);
        let version = self.next_version;
        self.next_version += 1;
        if let Err(e) = crate::loader::shared_libs::check(&self.source) {
            self.fail_version(version, e.to_string());
            return Ok(());
        }
        let copy = match self.copies.add(&self.source, version) {
            Ok(copy) => copy,
            Err(e) => {
                self.fail_version(version, e.to_string());
                return Ok(());
            }
        };
        match Library::open::<C>(&copy) {
            Ok(lib) => {
                // Fault the new image in here rather than on the frame thread during the swap.
                // SAFETY: `lib` keeps the library loaded for the whole call.
                if let Err(e) = unsafe { crate::unload::maps::prefault(lib.path()) } {
                    log::debug!("cannot prefault {}: {e}", lib.path().display());
                }
                let prepared = Prepared {
                    lib,
                    version,
                    detected,
                    prepare: detected.elapsed(),
                };
                if self.prepared.send(prepared).is_ok() {
                    self.ready.raise(BUILD_READY);
                }
            }
            Err(e) => {
                self.copies.discard(&copy);
                self.fail_version(version, e.to_string());
            }
        }
        Ok(())
    }

    fn fail(&mut self, reason: String) {
        // The incomplete file is not retried until it changes.
        self.last_seen = file_id(&self.source);
        let version = self.next_version;
        self.next_version += 1;
        self.fail_version(
            version,
            format!("{reason}; the previous version keeps running"),
        );
    }

    fn fail_version(&self, version: u64, reason: String) {
        self.bus.emit(Event::ReloadFailed {
            version,
            running: self.running.load(Ordering::Relaxed),
            reason,
        });
    }
}

/// Why a closed version may still be mapped.
fn stale_why(path: &Path) -> String {
    if crate::loader::elf::is_nodelete(path) {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        format!(
            "the library is marked NODELETE (DF_1_NODELETE: a `-z nodelete` link flag, or a \
             toolchain that marks every Rust library so, rust-lang/rust#158402), so dlclose never \
             unmaps it: every reload now keeps its version, {:.1} MB each; `cargo relive run \
             --restart-above MB` restarts the host with its state past a memory budget",
            size as f64 / 1e6
        )
    } else {
        "each reload will leak memory; a thread the worker started still runs its code (stop and \
         join it in the state's Drop), or something outside relive holds the library"
            .to_owned()
    }
}
