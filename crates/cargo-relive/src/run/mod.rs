//! `cargo relive run`: build, start, watch, rebuild, reload, and keep the host alive.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use crate::debounce::{Change, Debouncer, Fired};
use crate::events::Events;
use crate::project::{CargoOptions, Project};
use crate::replay::Invocation;
use crate::status;

mod advice;
mod build;
mod engine_types;
mod host;
mod report;
mod setup;
mod shared;
mod socket;
mod tweak;
mod unchanged;
mod write_back;
pub use report::loop_stopped;

use host::terminal_settings;
use setup::{ensure_target_dir, lock, make_private_dir, spawn_signals, watch};
use socket::spawn_listener;

/// Options of `cargo relive run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// How to call cargo.
    pub cargo: CargoOptions,
    /// `-p`: the host package.
    pub host: Option<String>,
    /// `--events`: the JSON-lines file.
    pub events: Option<PathBuf>,
    /// How often the host writes its recovery snapshot.
    pub snapshot_interval: Duration,
    /// Arguments for the host.
    pub args: Vec<String>,
    /// `--fresh`: start from a new state instead of the last session's.
    pub fresh: bool,
    /// `--history`: the rewind history's budget in bytes (0: off).
    pub history_bytes: usize,
    /// `--restart-above`: restart the host (with its state) once it uses more memory than this.
    pub restart_above: Option<u64>,
}

/// What the supervisor loop hears about.
enum Msg {
    /// A file changed.
    File(PathBuf),
    /// The host sent an event.
    Host(Value),
    /// A host process ended.
    Exited { pid: u32, status: ExitStatus },
    /// The supervisor got a signal (Ctrl-C, SIGTERM, SIGHUP): its number.
    Signal(i32),
    /// A host connected to the control socket: where to send it commands.
    HostConnected(UnixStream),
    /// The host answered a command.
    Reply(Value),
    /// A `cargo relive state|save|load` client sent a command and waits on `stream`.
    Client { stream: UnixStream, command: Value },
}

/// How long the host gets to save its state and exit when asked.
const GRACE: Duration = Duration::from_secs(3);
/// Restarts after crashes stop when this many crashes in a row each come within [`QUICK_CRASH`] of
/// the (re)start: the restored state itself crashes the host.
const CRASH_LIMIT: usize = 3;
const QUICK_CRASH: Duration = Duration::from_secs(1);

struct Running {
    pid: u32,
    started: Instant,
}

struct Supervisor {
    project: Project,
    opts: RunOptions,
    events: Events,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    debouncer: Debouncer,
    staged_lib: PathBuf,
    snapshot: PathBuf,
    socket: PathBuf,
    host_exe: Option<PathBuf>,
    host: Option<Running>,
    /// The first edit of the build now staged, and that build's duration: for edit-to-effect.
    pending_edit: Option<(Instant, Duration)>,
    /// While a loop plays: the version that played its last pass (0 before the first), for a
    /// line when it changes.
    loop_version: Option<u64>,
    /// Crashes in a row that came within [`QUICK_CRASH`] of the host's start.
    quick_crashes: usize,
    /// The terminal's settings before the host could change them (raw mode), to restore after a
    /// host that could not restore them itself.
    terminal: Option<libc::termios>,
    /// cargo's last `rustc` command for the worker, replayed while only its sources change.
    replay: Option<Invocation>,
    /// The running host's control connection, for commands.
    host_control: Option<UnixStream>,
    /// Clients waiting for the host's answer, by command id.
    waiting: std::collections::HashMap<u64, UnixStream>,
    next_command: u64,
    /// Messages that came while a build ran, after the file events were taken out.
    backlog: std::collections::VecDeque<Msg>,
    /// The file watcher, on [`Project::watch_dirs`].
    watcher: notify::RecommendedWatcher,
    /// The last build of the host failed: the running host is older than its crates.
    host_outdated: bool,
    /// The secret the host proves itself with on the control socket.
    token: String,
    /// A build or a host start that failed for a passing reason (cargo or the host could not
    /// even be started: too many open files, say) is tried again then.
    retry: Option<(Instant, Change)>,
    /// Where `save NAME` and `load NAME` keep snapshots.
    saves: PathBuf,
    /// The host passed `--restart-above`: restart it with its state at the next turn.
    restart_due: bool,
    /// How the last worker build ran: `rustc replayed` or `cargo`.
    last_build_via: &'static str,
    /// How long the last worker build's link took, when the replay timed it.
    last_link: Option<Duration>,
    /// Whether the session said which linker the replay uses.
    told_linker: bool,
    /// The slow rebuilds in a row, for the advice on them.
    slow_builds: advice::SlowBuilds,
    /// The worker sources saved, and their contents at the last successful build.
    sources: unchanged::Sources,
    /// The text of each source whose tweaks were last sent to the host (by a save or a
    /// write-back): the same text saved again sends nothing.
    tweaked: std::collections::HashMap<PathBuf, String>,
    /// The replay filling its incremental cache after a new project's first build.
    warmup: Option<crate::replay::Warmup>,
    /// The Rust libraries staged with the running host (engine-direct layout).
    shared_staged: shared::Staged,
    /// The toolchain's libraries (a shared std), for the host's library path.
    toolchain_libs: Option<PathBuf>,
}

/// Runs the supervisor until the user quits; returns the exit code.
pub fn run(opts: RunOptions) -> Result<i32> {
    let project = Project::discover(&opts.cargo, opts.host.as_deref())?;
    let state_dir = project.target_dir.join("relive").join(&project.host);
    let stage = state_dir.join("stage");
    ensure_target_dir(&project.target_dir)?;
    for dir in [
        project.target_dir.join("relive"),
        state_dir.clone(),
        stage.clone(),
        state_dir.join("saves"),
    ] {
        make_private_dir(&dir)?;
    }
    let _lock = lock(&state_dir)?;
    status::set_log(state_dir.join("session.log"));
    let socket = state_dir.join("control.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))?;

    let (tx, rx) = channel();
    let token = session_token()?;
    spawn_listener(listener, tx.clone(), token.clone())?;
    spawn_signals(tx.clone())?;
    let watcher = watch(&project, tx.clone())?;

    let events = Events::open(opts.events.as_deref())?;
    let staged_lib = stage.join(relive::locate::library_file_name(&project.worker));
    let mut sup = Supervisor {
        snapshot: state_dir.join("state.snapshot"),
        debouncer: Debouncer::new(Duration::from_millis(3), Duration::from_millis(500)),
        project,
        opts,
        events,
        rx,
        tx,
        staged_lib,
        socket,
        host_exe: None,
        host: None,
        pending_edit: None,
        loop_version: None,
        quick_crashes: 0,
        terminal: terminal_settings(),
        replay: None,
        host_control: None,
        waiting: std::collections::HashMap::new(),
        next_command: 0,
        backlog: std::collections::VecDeque::new(),
        watcher,
        host_outdated: false,
        token,
        retry: None,
        saves: state_dir.join("saves"),
        restart_due: false,
        last_build_via: "cargo",
        last_link: None,
        told_linker: false,
        slow_builds: advice::SlowBuilds::default(),
        sources: unchanged::Sources::default(),
        tweaked: std::collections::HashMap::new(),
        warmup: None,
        shared_staged: Vec::new(),
        toolchain_libs: None,
    };
    let resume = sup.resume_or_archive(&state_dir.join("saves"));
    status::info(&format!(
        "host `{}`, worker `{}`; watching {} directories",
        sup.project.host,
        sup.project.worker,
        sup.project.watch_dirs().len()
    ));
    if let Some(worker) = sup.build_all("start")
        && sup.stage(&worker)
    {
        sup.start_host(resume)?;
        // A new project: the replay's cache is filled now rather than at the first edit.
        if let Some(replay) = sup.replay.as_ref().filter(|r| r.cache_is_cold()) {
            sup.warmup = replay.warm_up();
        }
    }
    let result = sup.run_loop();
    sup.end_event(&result);
    // Its rustc would outlive the session, writing into the target directory.
    if let Some(warmup) = sup.warmup.take() {
        warmup.cancel();
    }
    // Nothing listens any more.
    let _ = std::fs::remove_file(&sup.socket);
    if let Some(log) =
        status::log_path().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
    {
        status::info(&format!(
            "what relive and the compiler said while the game had the terminal is in {}",
            log.display()
        ));
    }
    // Advice given while the game had the terminal.
    status::show_held();
    result
}

impl Supervisor {
    fn run_loop(&mut self) -> Result<i32> {
        loop {
            let timeout = self
                .debouncer
                .deadline()
                .into_iter()
                .chain(self.retry.map(|(at, _)| at))
                // A warm-up running: looked at each second, to reap it once it ends.
                .chain(
                    self.warmup
                        .is_some()
                        .then(|| Instant::now() + Duration::from_secs(1)),
                )
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match self.next_msg(timeout) {
                Ok(msg) => match self.handle(msg) {
                    Some(Msg::Exited { pid, status }) => {
                        if let Some(code) = self.on_exit(pid, status)? {
                            return Ok(code);
                        }
                    }
                    Some(Msg::Signal(sig)) => {
                        if let Some(code) = self.on_interrupt(sig)? {
                            return Ok(code);
                        }
                    }
                    _ => {}
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the supervisor's channels closed"),
            }
            // An ended warm-up is reaped now, not left a zombie until the next build.
            if self.warmup.as_mut().is_some_and(|w| !w.running()) {
                self.warmup = None;
            }
            if let Some(fired) = self.debouncer.poll(Instant::now()) {
                self.retry = None;
                self.on_change(fired)?;
            }
            if self.restart_due && self.host.is_some() {
                self.restart_due = false;
                self.stop_host("memory")?;
                self.restart_after("memory", "above --restart-above")?;
            }
            if let Some((at, change)) = self.retry
                && at <= Instant::now()
            {
                self.retry = None;
                status::info("trying again");
                self.on_change(Fired {
                    change,
                    first: Instant::now(),
                })?;
            }
        }
    }

    /// Handles the messages every wait handles alike (files, the host's events and replies,
    /// clients); gives back the others (a host's exit, a signal) for the caller to decide.
    fn handle(&mut self, msg: Msg) -> Option<Msg> {
        match msg {
            Msg::File(path) => {
                self.on_file(&path);
            }
            Msg::Host(request) if request.get("request").is_some() => {
                self.on_host_request(&request);
            }
            Msg::Host(event) => self.on_host_event(event),
            Msg::HostConnected(stream) => self.on_host_connected(stream),
            Msg::Reply(reply) => self.on_reply(reply),
            Msg::Client { stream, command } => self.on_client(stream, command),
            other => return Some(other),
        }
        None
    }

    /// The next message: one set aside while a build ran, else one from the channel.
    fn next_msg(&mut self, timeout: Duration) -> Result<Msg, RecvTimeoutError> {
        match self.backlog.pop_front() {
            Some(msg) => Ok(msg),
            None => self.rx.recv_timeout(timeout),
        }
    }

    /// Whether a file was saved while a build ran (an editor's save-all, a second save, the
    /// write after a truncate): that build saw sources half saved and is discarded; the debouncer
    /// has the change, so the build is done again. Other messages wait in the backlog.
    fn sources_changed_during_build(&mut self) -> bool {
        let mut changed = false;
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::File(path) => changed |= self.on_file(&path),
                other => self.backlog.push_back(other),
            }
        }
        changed
    }

    /// Takes in a changed path; whether it is a change that needs a build.
    fn on_file(&mut self, path: &Path) -> bool {
        match self.project.classify(path) {
            Some(change) => {
                if change == Change::Worker {
                    self.sources.saved(path);
                }
                self.debouncer.event(Instant::now(), change);
                true
            }
            None => false,
        }
    }

    fn on_change(&mut self, mut fired: Fired) -> Result<()> {
        // A manifest or another crate changed: the workspace may have too (a renamed worker, a
        // new local dependency). A new worker name needs a new host process (its library path
        // is in the host's environment).
        if fired.change != Change::Worker && self.reread_project() {
            fired.change = Change::Host;
        }
        match fired.change {
            // While the last host build failed, the worker may be built against an interface the
            // running host lacks: it waits for the host to build.
            Change::Worker | Change::WorkerDeps if self.host.is_some() && !self.host_outdated => {
                let saved = self.sources.snapshot_saved();
                if fired.change == Change::Worker
                    && let Some(files) = self.sources.unchanged(&saved)
                {
                    let names: Vec<String> = files
                        .iter()
                        .map(|f| {
                            let shown = f.strip_prefix(&self.project.root).unwrap_or(f);
                            format!("`{}`", shown.display())
                        })
                        .collect();
                    status::info(&format!(
                        "{} saved without changes: nothing to build",
                        names.join(", ")
                    ));
                    // What waits for this save's reload (a script, a bench) learns there is none.
                    self.events.emit(
                        "build_skipped",
                        json!({ "crate": self.project.worker, "why": "saved without changes", "files": names }),
                    );
                    return Ok(());
                }
                if fired.change == Change::WorkerDeps {
                    self.replay = None;
                }
                // Only tweakable literals changed: in effect at the host's next frame; the
                // build below still runs (its literals are the new ones).
                if fired.change == Change::Worker {
                    self.send_tweaks(&saved, fired.first);
                }
                self.sources.building(Some(&saved));
                self.slow_builds.edit(fired.change == Change::Worker);
                if let Some(build) = self.build_and_stage_worker("edit", Some(fired.first)) {
                    self.sources.built(saved);
                    self.prepare_tweaks();
                    self.pending_edit = Some((fired.first, build));
                } else {
                    self.slow_builds.failed();
                }
            }
            // A host change, or any change while no host runs (after a failed start or a crash
            // loop): build everything and (re)start.
            _ => {
                self.replay = None;
                let why = if fired.change == Change::Host {
                    "a crate of the host changed"
                } else {
                    "sources changed"
                };
                if let Some(worker) = self.build_all("edit") {
                    if self.host.is_some() {
                        self.stop_host(why)?;
                    }
                    if !self.stage(&worker) {
                        return Ok(());
                    }
                    self.quick_crashes = 0;
                    self.events.emit("host_restarted", json!({ "why": why }));
                    status::info(&format!("{why}: restarting the host with its state"));
                    let restore = self.snapshot.exists().then(|| self.snapshot.clone());
                    self.start_host(restore)?;
                }
            }
        }
        Ok(())
    }

    /// Waits for `pid` to end, handling other messages meanwhile. A stop signal (or another
    /// process's exit) that comes meanwhile is kept for the main loop, never dropped: a Ctrl-C
    /// during a restart still stops `cargo relive run`.
    fn wait_exit(&mut self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut later = Vec::new();
        let exited = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_msg(left) {
                Ok(msg) => match self.handle(msg) {
                    Some(Msg::Exited { pid: p, status }) if p == pid => {
                        self.restore_terminal();
                        break Some(status);
                    }
                    Some(other) => later.push(other),
                    None => {}
                },
                Err(_) => break None,
            }
        };
        for msg in later.into_iter().rev() {
            self.backlog.push_front(msg);
        }
        exited
    }
}

/// How long to wait before trying again a build or a host start that could not even run.
const RETRY: Duration = Duration::from_secs(2);

impl Supervisor {
    /// Schedules `change` again after [`RETRY`]: a failure to run cargo or to start the host is
    /// passing (a full file table, say), never a reason for `cargo relive run` to end.
    pub(super) fn retry_later(&mut self, change: Change) {
        status::error(&format!("trying again in {}s", RETRY.as_secs()));
        let change = self.retry.map_or(change, |(_, c)| c.max(change));
        self.retry = Some((Instant::now() + RETRY, change));
    }
}

/// A secret for this session (128 random bits, hex), handed to the host it starts.
fn session_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for the session's secret")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
