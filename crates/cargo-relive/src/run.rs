//! `cargo relive run`: build, start, watch, rebuild, reload, and keep the host alive.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use notify::{RecursiveMode, Watcher};
use serde_json::{Value, json};

use crate::cargo;
use crate::debounce::{Change, Debouncer, Fired};
use crate::events::Events;
use crate::project::{CargoOptions, Project};
use crate::replay::Invocation;
use crate::status;

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
}

/// What the supervisor loop hears about.
enum Msg {
    /// A file changed.
    File(PathBuf),
    /// The host sent an event.
    Host(Value),
    /// A host process ended.
    Exited { pid: u32, status: ExitStatus },
    /// The supervisor got a signal (Ctrl-C).
    Signal,
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
}

/// Runs the supervisor until the user quits; returns the exit code.
pub fn run(opts: RunOptions) -> Result<i32> {
    let project = Project::discover(&opts.cargo, opts.host.as_deref())?;
    let state_dir = project.target_dir.join("relive").join(&project.host);
    let stage = state_dir.join("stage");
    for dir in [
        project.target_dir.join("relive"),
        state_dir.clone(),
        stage.clone(),
    ] {
        make_private_dir(&dir)?;
    }
    let _lock = lock(&state_dir)?;
    let socket = state_dir.join("control.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))?;

    let (tx, rx) = channel();
    spawn_listener(listener, tx.clone())?;
    spawn_signals(tx.clone())?;
    let _watcher = watch(&project, tx.clone())?;

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
        quick_crashes: 0,
        terminal: terminal_settings(),
        replay: None,
        host_control: None,
        waiting: std::collections::HashMap::new(),
        next_command: 0,
    };
    // A fresh session starts from a fresh state; the last one's snapshot stays for `load`.
    if sup.snapshot.exists() {
        let _ = std::fs::rename(&sup.snapshot, sup.snapshot.with_extension("previous"));
    }
    status::info(&format!(
        "host `{}`, worker `{}`; watching {} directories",
        sup.project.host,
        sup.project.worker,
        sup.project.watch_dirs().len()
    ));
    if let Some(worker) = sup.build_all("start") {
        if sup.stage(&worker) {
            sup.start_host(None)?;
        }
    }
    sup.run_loop()
}

impl Supervisor {
    fn run_loop(&mut self) -> Result<i32> {
        loop {
            let timeout = self
                .debouncer
                .deadline()
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match self.rx.recv_timeout(timeout) {
                Ok(Msg::File(path)) => self.on_file(&path),
                Ok(Msg::Host(event)) => self.on_host_event(event),
                Ok(Msg::HostConnected(stream)) => self.host_control = Some(stream),
                Ok(Msg::Reply(reply)) => self.on_reply(reply),
                Ok(Msg::Client { stream, command }) => self.on_client(stream, command),
                Ok(Msg::Exited { pid, status }) => {
                    if let Some(code) = self.on_exit(pid, status)? {
                        return Ok(code);
                    }
                }
                Ok(Msg::Signal) => {
                    if let Some(code) = self.on_interrupt()? {
                        return Ok(code);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the supervisor's channels closed"),
            }
            if let Some(fired) = self.debouncer.poll(Instant::now()) {
                self.on_change(fired)?;
            }
        }
    }

    fn on_file(&mut self, path: &Path) {
        if let Some(change) = self.project.classify(path) {
            self.debouncer.event(Instant::now(), change);
        }
    }

    fn on_change(&mut self, fired: Fired) -> Result<()> {
        match fired.change {
            Change::Worker | Change::WorkerDeps if self.host.is_some() => {
                if fired.change == Change::WorkerDeps {
                    self.replay = None;
                }
                if let Some(build) = self.build_and_stage_worker("edit") {
                    self.pending_edit = Some((fired.first, build));
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
                        self.stop_host()?;
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

    /// Builds the worker and stages it for the running host. The build's duration on success.
    fn build_and_stage_worker(&mut self, reason: &str) -> Option<Duration> {
        let (duration, artifact) = self.build_worker(reason)?;
        self.stage(&artifact).then_some(duration)
    }

    fn stage(&self, artifact: &Path) -> bool {
        match stage(artifact, &self.staged_lib) {
            Ok(()) => true,
            Err(e) => {
                status::error(&format!("{e:#}"));
                false
            }
        }
    }

    /// Builds the worker. The build's duration and library on success.
    fn build_worker(&mut self, reason: &str) -> Option<(Duration, PathBuf)> {
        self.events.emit(
            "build_started",
            json!({ "crate": self.project.worker, "reason": reason }),
        );
        // A replay that cannot even start (the toolchain moved) falls back to cargo.
        let replayed = self.replay.as_mut().and_then(|replay| replay.run().ok());
        let result = match replayed {
            Some(build) => Ok(build),
            None => cargo::build_worker(&self.project, &self.opts.cargo).map(|(build, replay)| {
                self.replay = replay;
                build
            }),
        };
        let worker = self.project.worker.clone();
        let (duration, artifact) = self.finish_build(&worker, result)?;
        status::info(&format!(
            "built `{worker}` in {:.2}s",
            duration.as_secs_f64()
        ));
        Some((duration, artifact))
    }

    /// Reports a finished build (event, and the error if it failed); its duration and artifact
    /// when it succeeded.
    fn finish_build(
        &mut self,
        krate: &str,
        result: Result<cargo::Build>,
    ) -> Option<(Duration, PathBuf)> {
        let build = match result {
            Ok(build) => build,
            Err(e) => {
                status::error(&format!("{e:#}"));
                return None;
            }
        };
        self.events.emit(
            "build_finished",
            json!({ "crate": krate, "success": build.success, "duration_ms": ms(build.duration) }),
        );
        match build.artifact {
            Some(artifact) if build.success => Some((build.duration, artifact)),
            _ => {
                let keeps = if self.host.is_some() {
                    "the host keeps running the last good version"
                } else {
                    "fix it and save"
                };
                status::error(&format!("`{krate}` does not build: {keeps}"));
                None
            }
        }
    }

    /// Builds the worker and the host; the worker's library when both succeeded. It is staged
    /// only when the new host starts, so that the old host never sees a worker built against an
    /// interface it does not have.
    fn build_all(&mut self, reason: &str) -> Option<PathBuf> {
        let (_, worker) = self.build_worker(reason)?;
        self.events.emit(
            "build_started",
            json!({ "crate": self.project.host, "reason": reason }),
        );
        let host = self.project.host.clone();
        let result = cargo::build_host(&self.project, &self.opts.cargo, &self.opts.cargo.features);
        let (_, exe) = self.finish_build(&host, result)?;
        self.host_exe = Some(exe);
        Some(worker)
    }

    fn start_host(&mut self, restore: Option<PathBuf>) -> Result<()> {
        let exe = self.host_exe.clone().context("the host was never built")?;
        let mut cmd = Command::new(&exe);
        cmd.args(&self.opts.args)
            .env(relive::locate::WORKER_LIB_ENV, &self.staged_lib)
            // `stage` only ever renames a new file over the staged library.
            .env(relive::STAGED_ENV, "1")
            .env(relive::supervise::SNAPSHOT_ENV, &self.snapshot)
            .env(relive::supervise::CONTROL_ENV, &self.socket)
            .env(
                relive::supervise::SNAPSHOT_INTERVAL_ENV,
                self.opts.snapshot_interval.as_millis().to_string(),
            )
            .env_remove(relive::supervise::RESTORE_ENV);
        if let Some(path) = &restore {
            cmd.env(relive::supervise::RESTORE_ENV, path);
        }
        // SAFETY: between fork and exec the child only calls prctl(2), which is
        // async-signal-safe. If the supervisor dies, the host gets SIGTERM: it saves its state and
        // exits instead of running on as a stray process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let pid = child.id();
        let tx = self.tx.clone();
        std::thread::Builder::new()
            .name("relive-host-wait".into())
            .spawn(move || {
                if let Ok(status) = child.wait() {
                    let _ = tx.send(Msg::Exited { pid, status });
                }
            })
            .context("cannot start a thread")?;
        self.events.emit(
            "host_started",
            json!({ "pid": pid, "restored_from": restore.as_ref().map(|p| p.display().to_string()) }),
        );
        self.host = Some(Running {
            pid,
            started: Instant::now(),
        });
        self.host_control = None;
        for (_, mut client) in self.waiting.drain() {
            let _ = reply_line(
                &mut client,
                &json!({ "error": "the host restarted before answering" }),
            );
        }
        Ok(())
    }

    /// Asks the host to save its state and exit; kills it after [`GRACE`]. Whether it exited on
    /// its own.
    fn stop_host(&mut self) -> Result<bool> {
        let Some(host) = &self.host else {
            return Ok(true);
        };
        let pid = host.pid;
        signal(pid, libc::SIGTERM);
        if self.wait_exit(pid, GRACE).is_some() {
            self.host = None;
            return Ok(true);
        }
        signal(pid, libc::SIGKILL);
        self.wait_exit(pid, Duration::from_secs(10));
        self.host = None;
        Ok(false)
    }

    /// Waits for `pid` to end, handling other messages meanwhile.
    fn wait_exit(&mut self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Msg::Exited { pid: p, status }) if p == pid => {
                    self.restore_terminal();
                    return Some(status);
                }
                Ok(Msg::Exited { .. }) | Ok(Msg::Signal) => {}
                Ok(Msg::File(path)) => self.on_file(&path),
                Ok(Msg::Host(event)) => self.on_host_event(event),
                Ok(Msg::HostConnected(stream)) => self.host_control = Some(stream),
                Ok(Msg::Reply(reply)) => self.on_reply(reply),
                Ok(Msg::Client { stream, command }) => self.on_client(stream, command),
                Err(_) => return None,
            }
        }
    }

    /// The host ended without being asked to. `Some(code)` when the supervisor should end too.
    fn on_exit(&mut self, pid: u32, status: ExitStatus) -> Result<Option<i32>> {
        let Some(lived) = self
            .host
            .as_ref()
            .filter(|h| h.pid == pid)
            .map(|h| h.started.elapsed())
        else {
            return Ok(None);
        };
        self.host = None;
        self.restore_terminal();
        let signal = status.signal();
        let code = status.code();
        let snapshot_age = std::fs::metadata(&self.snapshot)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        match (code, signal) {
            (Some(0), _) => {
                self.events.emit("host_exited", json!({ "code": 0 }));
                status::info("the host exited; state saved");
                Ok(Some(0))
            }
            (Some(c @ (130 | 143)), _) => {
                self.events.emit("host_exited", json!({ "code": c }));
                status::info(&format!(
                    "the host stopped on a signal; its state is in {}",
                    self.snapshot.display()
                ));
                Ok(Some(c))
            }
            (_, Some(sig)) => {
                let name = signal_name(sig);
                self.events
                    .emit("host_exited", json!({ "signal": sig, "signal_name": name }));
                self.quick_crashes = if lived < QUICK_CRASH {
                    self.quick_crashes + 1
                } else {
                    0
                };
                if self.quick_crashes >= CRASH_LIMIT {
                    status::error(&format!(
                        "the host crashed ({name}) {CRASH_LIMIT} times in a row right after starting: not restarting; \
                         fix the code and save"
                    ));
                    return Ok(None);
                }
                let age = snapshot_age.map_or("no snapshot yet".to_owned(), |a| {
                    format!("the state saved {:.1}s before", a.as_secs_f64())
                });
                status::error(&format!(
                    "the host crashed ({name}): restarting it from {age}"
                ));
                self.restart_after("crash", name)?;
                Ok(None)
            }
            (code, None) => {
                let code = code.unwrap_or(-1);
                self.events.emit("host_exited", json!({ "code": code }));
                status::error(&format!(
                    "the host exited with status {code}: save a change to restart it"
                ));
                Ok(None)
            }
        }
    }

    fn restart_after(&mut self, why: &str, detail: &str) -> Result<()> {
        let restore = self.snapshot.exists().then(|| self.snapshot.clone());
        self.events
            .emit("host_restarted", json!({ "why": why, "detail": detail }));
        self.start_host(restore)
    }

    /// Ctrl-C: the host (which got it too, or gets SIGTERM from us) saves its state and exits. A
    /// host that does not get to its next frame within [`GRACE`] is stuck: it is killed and
    /// restarted from its last snapshot, and a second Ctrl-C quits.
    fn on_interrupt(&mut self) -> Result<Option<i32>> {
        let Some(host) = &self.host else {
            return Ok(Some(130));
        };
        let pid = host.pid;
        signal(pid, libc::SIGTERM);
        match self.wait_exit(pid, GRACE) {
            Some(status) => {
                self.host = None;
                self.events.emit(
                    "host_exited",
                    json!({ "code": status.code(), "signal": status.signal(), "why": "interrupted" }),
                );
                status::info(&format!(
                    "stopped; the final state is in {}",
                    self.snapshot.display()
                ));
                Ok(Some(130))
            }
            None => {
                signal(pid, libc::SIGKILL);
                self.wait_exit(pid, Duration::from_secs(10));
                self.host = None;
                status::error(&format!(
                    "the host did not reach its next frame within {}s (an endless loop?): restarted it from its last \
                     snapshot; press Ctrl-C again to quit",
                    GRACE.as_secs()
                ));
                self.restart_after("stuck", "interrupted while stuck")?;
                Ok(None)
            }
        }
    }

    /// Passes a client's command to the host, or answers that there is none.
    fn on_client(&mut self, mut stream: UnixStream, mut command: Value) {
        let Some(host) = &mut self.host_control else {
            let _ = reply_line(
                &mut stream,
                &json!({ "error": "no host is running (it is restarting, or crashed)" }),
            );
            return;
        };
        self.next_command += 1;
        command["id"] = json!(self.next_command);
        if reply_line(host, &command).is_ok() {
            self.waiting.insert(self.next_command, stream);
        } else {
            let _ = reply_line(
                &mut stream,
                &json!({ "error": "the host's control connection is closed" }),
            );
        }
    }

    fn on_reply(&mut self, reply: Value) {
        if let Some(mut client) = reply["response"]
            .as_u64()
            .and_then(|id| self.waiting.remove(&id))
        {
            let _ = reply_line(&mut client, &reply);
        }
    }

    fn on_host_event(&mut self, mut event: Value) {
        let kind = event["event"].as_str().unwrap_or("").to_owned();
        match kind.as_str() {
            "reloaded" => {
                let version = event["version"].as_u64().unwrap_or(0);
                let pause_us = event["timings"]["pause"].as_u64().unwrap_or(0);
                let mut line = format!(
                    "reloaded v{version}: swap {:.2}ms",
                    pause_us as f64 / 1000.0
                );
                if let Some((first, build)) = self.pending_edit.take() {
                    let effect = first.elapsed();
                    event["edit_to_effect_ms"] = json!(ms(effect));
                    event["build_ms"] = json!(ms(build));
                    line = format!(
                        "{line}, build {:.2}s, edit to effect {:.2}s",
                        build.as_secs_f64(),
                        effect.as_secs_f64()
                    );
                }
                status::info(&line);
            }
            "reload_failed" => status::error(&format!(
                "reload refused: {}",
                event["reason"].as_str().unwrap_or("")
            )),
            "panicked" => status::error(&format!(
                "the worker panicked in `{}`: {} at {}",
                event["function"].as_str().unwrap_or("?"),
                event["message"].as_str().unwrap_or(""),
                event["location"].as_str().unwrap_or("?")
            )),
            "stale_mapping" => status::error(
                "an old worker version stayed in memory, most likely because a thread it started \
                     still runs its code (stop and join it in the state's Drop to let each version go)",
            ),
            "stuck" => {
                let trace = self.host.as_ref().and_then(|h| backtrace(h.pid));
                status::error(&format!(
                    "the host has been in `{}` (worker v{}) for {} ms: an endless loop? Ctrl-C restarts it from its \
                     last snapshot{}",
                    event["function"].as_str().unwrap_or("?"),
                    event["version"].as_u64().unwrap_or(0),
                    event["stuck_ms"].as_u64().unwrap_or(0),
                    trace
                        .as_deref()
                        .map(|t| format!("; it is here:\n{t}"))
                        .unwrap_or_default()
                ));
                if let Some(trace) = trace {
                    event["backtrace"] = json!(trace);
                }
            }
            "restored" => status::info("state restored"),
            "restore_failed" => status::error(&format!(
                "could not restore the state: {}; started fresh, the snapshot is kept at {}",
                event["reason"].as_str().unwrap_or(""),
                event["kept_at"].as_str().unwrap_or("")
            )),
            _ => {}
        }
        self.events.emit(&kind, event);
    }
}

impl Supervisor {
    /// Puts the terminal back as it was before the host ran: a full-screen host that crashed or
    /// was killed leaves it in raw mode, on the alternate screen, with the cursor hidden.
    fn restore_terminal(&self) {
        use std::io::{IsTerminal, Write};
        let Some(settings) = &self.terminal else {
            return;
        };
        // SAFETY: tcsetattr(2) on stdin with settings tcgetattr(2) read from it.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, settings);
        }
        let mut out = std::io::stdout();
        if out.is_terminal() {
            // Leave the alternate screen, show the cursor.
            let _ = out.write_all(b"\x1b[?1049l\x1b[?25h");
            let _ = out.flush();
        }
    }
}

/// The terminal's settings, when stdin is a terminal.
fn terminal_settings() -> Option<libc::termios> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    // SAFETY: termios is plain data; tcgetattr(2) fills it for a terminal file descriptor.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(libc::STDIN_FILENO, &mut t) == 0).then_some(t)
    }
}

/// Where the host's threads are, from gdb, keeping the thread that runs worker code (its frames
/// name the versioned copy `lib<worker>.v<N>.so` or worker functions). `None` without gdb.
fn backtrace(pid: u32) -> Option<String> {
    let out = Command::new("gdb")
        .args([
            "-p",
            &pid.to_string(),
            "-batch",
            "-nx",
            "-ex",
            "thread apply all bt 20",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let threads: Vec<&str> = text.split("\nThread ").collect();
    let worker = threads
        .iter()
        .find(|t| t.contains(".relive/") || t.contains("relive_worker::__private::call"))?;
    let frames: Vec<&str> = worker
        .lines()
        .filter(|l| l.starts_with('#'))
        .take(12)
        .collect();
    (!frames.is_empty()).then(|| frames.join("\n"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn signal(pid: u32, sig: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a pid we started and have not reaped yet (its waiter thread reaps it
    // and tells us), so the pid cannot have been reused.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV, a segmentation fault",
        libc::SIGBUS => "SIGBUS, a bus error",
        libc::SIGFPE => "SIGFPE, an arithmetic trap",
        libc::SIGILL => "SIGILL, an illegal instruction",
        libc::SIGABRT => "SIGABRT, an abort (a stack overflow or a failed assertion in C code)",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "a signal",
    }
}

/// Puts a finished build where the host watches, atomically: a link (or copy) then a rename.
fn stage(artifact: &Path, staged: &Path) -> Result<()> {
    let tmp = staged.with_extension("so.tmp");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(artifact, &tmp).is_err() {
        std::fs::copy(artifact, &tmp)
            .with_context(|| format!("cannot copy {} to {}", artifact.display(), tmp.display()))?;
    }
    std::fs::rename(&tmp, staged)
        .with_context(|| format!("cannot move the build to {}", staged.display()))
}

/// Holds an exclusive lock on the state directory for as long as the returned file lives: two
/// `cargo relive run` of one host would fight over its socket, snapshot and staged library.
fn lock(state_dir: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = state_dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock(2) on a file descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "another `cargo relive run` is already running this host (it holds {}): stop it first",
            path.display()
        );
    }
    Ok(file)
}

fn make_private_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", dir.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
}

fn spawn_listener(listener: UnixListener, tx: Sender<Msg>) -> Result<()> {
    std::thread::Builder::new()
        .name("relive-control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name("relive-control-conn".into())
                    .spawn(move || serve_connection(stream, tx));
            }
        })
        .context("cannot start a thread")?;
    Ok(())
}

fn reply_line(stream: &mut UnixStream, value: &Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// One connection to the control socket: a client's single command, or a host's events and
/// replies. The first line tells which.
fn serve_connection(stream: UnixStream, tx: Sender<Msg>) {
    use std::io::BufRead;
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let mut lines = std::io::BufReader::new(reader).lines();
    let Some(Ok(first)) = lines.next() else {
        return;
    };
    let Ok(first) = serde_json::from_str::<Value>(&first) else {
        return;
    };
    if first.get("cmd").is_some() {
        let _ = tx.send(Msg::Client {
            stream,
            command: first,
        });
        return;
    }
    if tx.send(Msg::HostConnected(stream)).is_err() {
        return;
    }
    for value in std::iter::once(first).chain(
        lines
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok()),
    ) {
        let msg = if value.get("response").is_some() {
            Msg::Reply(value)
        } else {
            Msg::Host(value)
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn spawn_signals(tx: Sender<Msg>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot handle signals")?;
    std::thread::Builder::new()
        .name("relive-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(Msg::Signal).is_err() {
                    return;
                }
            }
        })
        .context("cannot start a thread")?;
    Ok(())
}

fn watch(project: &Project, tx: Sender<Msg>) -> Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            let _ = tx.send(Msg::File(path));
        }
    })
    .context("cannot start the file watcher")?;
    for dir in project.watch_dirs() {
        watcher
            .watch(&dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    Ok(watcher)
}
