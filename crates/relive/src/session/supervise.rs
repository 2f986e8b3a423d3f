//! The host's side of `cargo relive run`: crash-recovery snapshots, a clean exit on Ctrl-C or on
//! the supervisor's request, and events sent to the supervisor.
//!
//! Nothing here is active unless the supervisor set its environment variables:
//!
//! | variable | effect |
//! |---|---|
//! | `RELIVE_SNAPSHOT` | write the state there (binary) every `RELIVE_SNAPSHOT_INTERVAL_MS` (default 1000), after each reload, and on exit |
//! | `RELIVE_RESTORE` | start from this snapshot instead of a default state |
//! | `RELIVE_CONTROL` | a Unix socket: every [`Event`] is written to it as a JSON line |
//!
//! With `RELIVE_SNAPSHOT` set, the first SIGINT, SIGTERM or SIGHUP is handled at the next call
//! into the worker (the state is written, then the process exits with 128 + the signal's number);
//! the same signal again a second or more later, while the host is stuck, ends the process at once.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::session::attention::{Attention, CONTROL, QUIT, SNAPSHOT_DUE};
use crate::session::bus::Bus;
use crate::session::event::Event;

/// Where to write crash-recovery snapshots.
pub const SNAPSHOT_ENV: &str = "RELIVE_SNAPSHOT";
/// How often, in milliseconds.
pub const SNAPSHOT_INTERVAL_ENV: &str = "RELIVE_SNAPSHOT_INTERVAL_MS";
/// A snapshot to start from.
pub const RESTORE_ENV: &str = "RELIVE_RESTORE";
/// The supervisor's Unix socket.
pub const CONTROL_ENV: &str = "RELIVE_CONTROL";
/// The secret the host sends as its first line on the control socket, proving it is the host
/// the supervisor started.
pub const CONTROL_TOKEN_ENV: &str = "RELIVE_CONTROL_TOKEN";

/// The rewind history's budget in bytes (`cargo relive run --history MB`); 0 turns it off.
pub const HISTORY_ENV: &str = "RELIVE_HISTORY_BYTES";

/// How long a call may run before the watchdog reports it, in milliseconds (default 1000).
pub const WATCHDOG_ENV: &str = "RELIVE_WATCHDOG_MS";

/// What the frame thread tells the watchdog: two plain atomic stores per call.
#[derive(Default)]
pub(crate) struct Heartbeat {
    /// Calls started so far.
    calls: AtomicU64,
    /// Whether a call is running, and which function (index + 1; 0 when none).
    running: AtomicUsize,
    /// The running version.
    pub(crate) version: AtomicU64,
    /// Function names by index.
    pub(crate) names: Mutex<Vec<String>>,
}

impl Heartbeat {
    #[inline(always)]
    pub(crate) fn enter(&self, function: usize) {
        self.calls.store(
            self.calls.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        self.running.store(function + 1, Ordering::Relaxed);
    }

    #[inline(always)]
    pub(crate) fn leave(&self) {
        self.running.store(0, Ordering::Relaxed);
    }
}

/// Reports a call that does not return, once per stall.
fn spawn_watchdog(heartbeat: Arc<Heartbeat>, bus: Bus, limit: Duration, stop: Receiver<()>) {
    let tick = (limit / 4).max(Duration::from_millis(10));
    let spawned = std::thread::Builder::new()
        .name("relive-watchdog".to_owned())
        .spawn(move || {
            let mut last = (u64::MAX, 0);
            let mut since: Option<std::time::Instant> = None;
            let mut reported = false;
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(tick) {
                let now = (
                    heartbeat.calls.load(Ordering::Relaxed),
                    heartbeat.running.load(Ordering::Relaxed),
                );
                if now.1 == 0 || now != last {
                    last = now;
                    since = None;
                    reported = false;
                    continue;
                }
                let started = *since.get_or_insert_with(std::time::Instant::now);
                let stuck = started.elapsed() + tick;
                if !reported && stuck >= limit && traced() {
                    // A debugger holds the process (a breakpoint, single steps): the time it
                    // stood still is the user's, not an endless loop. Count again from here.
                    since = None;
                    continue;
                }
                if !reported && stuck >= limit {
                    reported = true;
                    let function = heartbeat
                        .names
                        .lock()
                        .ok()
                        .and_then(|n| n.get(now.1 - 1).cloned())
                        .unwrap_or_default();
                    bus.emit(Event::Stuck {
                        version: heartbeat.version.load(Ordering::Relaxed),
                        function,
                        stuck_ms: u64::try_from(stuck.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the watchdog: {e}");
    }
}

/// Whether a debugger is attached to this process (`TracerPid` in `/proc/self/status`).
fn traced() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_some_and(|pid| pid.trim() != "0")
    })
}

/// Lets any process of this user attach a debugger to this one (`cargo relive debug`, `gdb -p`,
/// an IDE's attach) where Yama's `ptrace_scope` is 1 (Ubuntu's default), which otherwise allows
/// only ancestors: the host's ancestor is the supervisor, not the user's debugger. Only for a
/// host that `cargo relive run` started; scopes 2 and 3 still need root. Without Yama the call
/// fails with `EINVAL` and changes nothing.
fn allow_debuggers() {
    // SAFETY: prctl(2) with PR_SET_PTRACER takes a pid (or PR_SET_PTRACER_ANY) and reads no
    // memory of ours; it changes only who may ptrace this process.
    let _ = unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) };
}

/// The signal that asked for the exit (0: none).
static QUIT_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// A stop signal repeated this long after the first ends the process at once.
const REPEAT_MEANS_NOW_MS: u64 = 1000;

/// Milliseconds on the monotonic clock; async-signal-safe (clock_gettime(2)).
fn monotonic_ms() -> u64 {
    // SAFETY: timespec is plain data; clock_gettime(2) fills it and is async-signal-safe.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1000
        + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000
}

/// What the snapshot writer writes, in the order sent: encoded state (and whom to tell when it
/// is on disk), or a read aside that gives it when done (`None`: nothing to write).
enum SnapshotJob {
    Bytes(Vec<u8>, Option<Sender<()>>),
    Later(Box<dyn FnOnce() -> Option<Vec<u8>> + Send>),
}

pub(crate) struct Supervisor {
    /// The rewind history's budget, when the supervisor asks for one.
    pub(crate) history_budget: Option<usize>,
    pub(crate) snapshot: Option<PathBuf>,
    pub(crate) restore: Option<PathBuf>,
    stop_timer: Option<Sender<()>>,
    pub(crate) heartbeat: Arc<Heartbeat>,
    /// Commands from the supervisor, waiting for the frame thread.
    pub(crate) commands: Arc<Mutex<Vec<serde_json::Value>>>,
    /// The connection to the supervisor, shared with the event forwarder.
    pub(crate) control: Option<Arc<Mutex<UnixStream>>>,
    /// The supervisor's answers to this host's requests (a literal's write-back), in order.
    pub(crate) answers: Arc<Mutex<Vec<serde_json::Value>>>,
    stop_watchdog: Option<Sender<()>>,
    /// Writes recovery snapshots off the frame thread; answers on the enclosed channel when done.
    writer: Option<Sender<SnapshotJob>>,
    signals: Vec<signal_hook::SigId>,
}

impl Supervisor {
    /// Reads the environment; `None` when not supervised.
    pub(crate) fn from_env(bus: &Bus, attention: &Attention) -> Option<Supervisor> {
        let snapshot = std::env::var_os(SNAPSHOT_ENV).map(PathBuf::from);
        let restore = std::env::var_os(RESTORE_ENV).map(PathBuf::from);
        let control = std::env::var_os(CONTROL_ENV).map(PathBuf::from);
        if snapshot.is_none() && restore.is_none() && control.is_none() {
            return None;
        }
        let commands = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let mut control_stream = None;
        if let Some(path) = control {
            let hello = serde_json::json!({
                "hello": std::env::var(CONTROL_TOKEN_ENV).unwrap_or_default(),
                "pid": std::process::id(),
            });
            match UnixStream::connect(&path) {
                Ok(stream) => {
                    // Before anything else: the supervisor takes this connection as the host's
                    // only with the session's secret.
                    let mut line = hello.to_string().into_bytes();
                    line.push(b'\n');
                    if (&stream).write_all(&line).is_err() {
                        log::warn!("cannot greet the supervisor at {}", path.display());
                    }
                    match stream.try_clone() {
                        Ok(reader) => receive_commands(
                            reader,
                            commands.clone(),
                            answers.clone(),
                            attention.clone(),
                            bus.clone(),
                        ),
                        Err(e) => log::warn!("cannot read commands from the supervisor: {e}"),
                    }
                    let stream = Arc::new(Mutex::new(stream));
                    forward_events(bus, stream.clone());
                    control_stream = Some(stream);
                }
                Err(e) => log::warn!(
                    "cannot connect to the supervisor at {}: {e}",
                    path.display()
                ),
            }
        }
        let mut stop_timer = None;
        let mut writer = None;
        let mut signals = Vec::new();
        if let Some(path) = &snapshot {
            let (tx, rx) = channel::<SnapshotJob>();
            let path = path.clone();
            let spawned = std::thread::Builder::new()
                .name("relive-snapshot-writer".to_owned())
                .spawn(move || {
                    for job in rx {
                        let (bytes, done) = match job {
                            SnapshotJob::Bytes(bytes, done) => (Some(bytes), done),
                            SnapshotJob::Later(make) => (make(), None),
                        };
                        if let Some(bytes) = bytes
                            && let Err(e) =
                                crate::state::snapshot::write_atomic(&path, &bytes, false)
                        {
                            log::warn!("cannot write the recovery snapshot: {e}");
                        }
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                });
            if spawned.is_ok() {
                writer = Some(tx);
            }
            let interval = std::env::var(SNAPSHOT_INTERVAL_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .unwrap_or(Duration::from_secs(1));
            let (tx, rx) = channel::<()>();
            let timer_attention = attention.clone();
            let spawned = std::thread::Builder::new()
                .name("relive-snapshots".to_owned())
                .spawn(move || {
                    while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                        timer_attention.raise(SNAPSHOT_DUE);
                    }
                });
            if spawned.is_ok() {
                stop_timer = Some(tx);
            }
            for signal in [
                signal_hook::consts::SIGINT,
                signal_hook::consts::SIGTERM,
                signal_hook::consts::SIGHUP,
            ] {
                // Per signal: Ctrl-C in the terminal and the supervisor's SIGTERM may both arrive
                // for one request. The same signal again, a second or more after the first, while
                // the first was not honoured, means "now" (the host is stuck); sooner, it is the
                // same request delivered twice (a dying supervisor's parent-death signal can come
                // twice) and must not cost the final save.
                let first_at = Arc::new(AtomicU64::new(0));
                let attention = attention.clone();
                // SAFETY: the handler only uses async-signal-safe operations: clock_gettime(2),
                // atomic loads and stores, and signal-hook's emulation of the default action
                // (which re-raises the signal with the default disposition).
                let id = unsafe {
                    signal_hook::low_level::register(signal, move || {
                        let now = monotonic_ms();
                        let first = first_at.load(Ordering::SeqCst);
                        if first == 0 {
                            first_at.store(now.max(1), Ordering::SeqCst);
                            QUIT_SIGNAL.store(signal, Ordering::SeqCst);
                            attention.raise(QUIT);
                        } else if now.saturating_sub(first) >= REPEAT_MEANS_NOW_MS {
                            let _ = signal_hook::low_level::emulate_default_handler(signal);
                        }
                    })
                };
                match id {
                    Ok(id) => signals.push(id),
                    Err(e) => log::warn!("cannot handle signal {signal}: {e}"),
                }
            }
        }
        allow_debuggers();
        let heartbeat = Arc::new(Heartbeat::default());
        let limit = std::env::var(WATCHDOG_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(1));
        let (stop_watchdog, stop_rx) = channel();
        spawn_watchdog(heartbeat.clone(), bus.clone(), limit, stop_rx);
        Some(Supervisor {
            history_budget: std::env::var(HISTORY_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|b| *b > 0),
            snapshot,
            restore,
            stop_timer,
            heartbeat,
            commands,
            control: control_stream,
            answers,
            stop_watchdog: Some(stop_watchdog),
            writer,
            signals,
        })
    }

    /// Writes an encoded recovery snapshot (not `fsync`ed: it guards against the process dying,
    /// not the machine); with `wait`, returns once it is on disk.
    pub(crate) fn write_snapshot(&self, bytes: Vec<u8>, wait: bool) {
        let Some(writer) = &self.writer else { return };
        let (done_tx, done_rx) = channel();
        if writer
            .send(SnapshotJob::Bytes(bytes, wait.then_some(done_tx)))
            .is_ok()
            && wait
        {
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        }
    }

    /// Has the writer write what `make` gives, after what was sent before and before what is
    /// sent after (a read aside finishing late never overwrites a newer snapshot).
    pub(crate) fn write_snapshot_later(&self, make: Box<dyn FnOnce() -> Option<Vec<u8>> + Send>) {
        if let Some(writer) = &self.writer {
            let _ = writer.send(SnapshotJob::Later(make));
        }
    }

    /// The exit code for the signal that asked to quit: 128 + its number.
    pub(crate) fn quit_code() -> i32 {
        128 + QUIT_SIGNAL.load(Ordering::SeqCst)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_timer.take();
        self.stop_watchdog.take();
        self.writer.take();
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Sends every event to the supervisor as a JSON line, from a thread of its own.
fn forward_events(bus: &Bus, stream: Arc<Mutex<UnixStream>>) {
    let events = bus.subscribe();
    let spawned = std::thread::Builder::new()
        .name("relive-control".to_owned())
        .spawn(move || {
            for event in events {
                let Ok(line) = serde_json::to_value(&event) else {
                    continue;
                };
                if !send_line(&stream, &line) {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the event forwarder: {e}");
    }
}

/// Writes one JSON line to the supervisor; `false` when the connection is gone.
/// `CLOCK_MONOTONIC` in nanoseconds: the one clock the supervisor and its host share (a save
/// seen by one, its effect in the other).
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

pub(crate) fn send_line(stream: &Mutex<UnixStream>, value: &serde_json::Value) -> bool {
    let Ok(mut line) = serde_json::to_vec(value) else {
        return true;
    };
    line.push(b'\n');
    let Ok(mut stream) = stream.lock() else {
        return false;
    };
    stream.write_all(&line).is_ok()
}

/// Queues the supervisor's commands for the frame thread, which answers them at its next call;
/// takes its build reports (`{"status": …}`) into the status at once.
fn receive_commands(
    stream: UnixStream,
    queue: Arc<Mutex<Vec<serde_json::Value>>>,
    answers: Arc<Mutex<Vec<serde_json::Value>>>,
    attention: Attention,
    bus: Bus,
) {
    use std::io::BufRead;
    let spawned = std::thread::Builder::new()
        .name("relive-commands".to_owned())
        .spawn(move || {
            for line in std::io::BufReader::new(stream).lines() {
                let Ok(line) = line else { return };
                let Ok(command) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if command.get("status").is_some() {
                    bus.on_supervisor(&command);
                    continue;
                }
                if command.get("answer").is_some() {
                    if let Ok(mut answers) = answers.lock() {
                        answers.push(command);
                    }
                    continue;
                }
                if let Ok(mut queue) = queue.lock() {
                    queue.push(command);
                }
                attention.raise(CONTROL);
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the command reader: {e}");
    }
}
