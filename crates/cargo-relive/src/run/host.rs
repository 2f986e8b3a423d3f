//! The host process: start, stop, crash, Ctrl-C, and the terminal it leaves behind.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::json;

use super::socket::answer;
use super::{CRASH_LIMIT, GRACE, Msg, QUICK_CRASH, Running, Supervisor};
use crate::status;

impl Supervisor {
    pub(super) fn start_host(&mut self, restore: Option<PathBuf>) -> Result<()> {
        let exe = self.host_exe.clone().context("the host was never built")?;
        let mut cmd = Command::new(&exe);
        cmd.args(&self.opts.args)
            .env(relive::locate::WORKER_LIB_ENV, &self.staged_lib)
            // `stage` only ever renames a new file over the staged library.
            .env(relive::STAGED_ENV, "1")
            // A host sharing Rust libraries with its worker (`-C prefer-dynamic`) finds the
            // builds staged with it, and std in the toolchain.
            .env("LD_LIBRARY_PATH", self.library_path())
            .env(relive::shared_libs::DEPS_DIR_ENV, self.deps_dir())
            .env(relive::supervise::SNAPSHOT_ENV, &self.snapshot)
            .env(relive::supervise::CONTROL_ENV, &self.socket)
            .env(relive::supervise::CONTROL_TOKEN_ENV, &self.token)
            .env(
                relive::supervise::HISTORY_ENV,
                self.opts.history_bytes.to_string(),
            )
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
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                status::error(&format!("cannot start {}: {e}", exe.display()));
                self.retry_later(crate::debounce::Change::Host);
                return Ok(());
            }
        };
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
        for (_, client) in self.waiting.drain() {
            answer(
                client,
                json!({ "error": "the host restarted before answering" }),
            );
        }
        Ok(())
    }

    /// Asks the host to save its state and exit; kills it after [`GRACE`]. Whether it exited on
    /// its own.
    pub(super) fn stop_host(&mut self, why: &str) -> Result<bool> {
        let Some(host) = &self.host else {
            return Ok(true);
        };
        let pid = host.pid;
        signal(pid, libc::SIGTERM);
        let (status, on_its_own) = match self.wait_exit(pid, GRACE) {
            Some(status) => (Some(status), true),
            None => {
                signal(pid, libc::SIGKILL);
                (self.wait_exit(pid, Duration::from_secs(10)), false)
            }
        };
        self.host = None;
        self.events.emit(
            "host_exited",
            json!({
                "code": status.and_then(|s| s.code()),
                "signal": status.and_then(|s| s.signal()),
                "why": why,
            }),
        );
        Ok(on_its_own)
    }

    /// The host ended without being asked to. `Some(code)` when the supervisor should end too.
    pub(super) fn on_exit(&mut self, pid: u32, status: ExitStatus) -> Result<Option<i32>> {
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
                // Saved at its exit if the snapshot is younger than this host.
                let saved = snapshot_age.is_some_and(|age| age <= lived);
                status::info(&if saved {
                    format!(
                        "the host exited; its state is saved in {}",
                        self.snapshot.display()
                    )
                } else {
                    "the host exited without saving its state".to_owned()
                });
                Ok(Some(0))
            }
            (Some(c @ (129 | 130 | 143)), _) => {
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

    pub(super) fn restart_after(&mut self, why: &str, detail: &str) -> Result<()> {
        let restore = self.snapshot.exists().then(|| self.snapshot.clone());
        self.events
            .emit("host_restarted", json!({ "why": why, "detail": detail }));
        self.start_host(restore)
    }

    /// Ctrl-C: the host (which got it too, or gets SIGTERM from us) saves its state and exits. A
    /// host that does not get to its next frame within [`GRACE`] is stuck: it is killed and
    /// restarted from its last snapshot, and a second Ctrl-C quits.
    pub(super) fn on_interrupt(&mut self, sig: i32) -> Result<Option<i32>> {
        let code = 128 + sig;
        let Some(host) = &self.host else {
            return Ok(Some(code));
        };
        let pid = host.pid;
        signal(pid, libc::SIGTERM);
        if let Some(status) = self.wait_exit(pid, GRACE) {
            self.host = None;
            self.events.emit(
                "host_exited",
                json!({ "code": status.code(), "signal": status.signal(), "why": "interrupted" }),
            );
            self.report_final_state(status);
            return Ok(Some(code));
        }
        signal(pid, libc::SIGKILL);
        self.wait_exit(pid, Duration::from_secs(10));
        self.host = None;
        if sig != libc::SIGINT {
            // Asked to go (SIGTERM, a closed terminal): no restart.
            status::error(&format!(
                "the host did not reach its next frame within {}s (an endless loop?) and was killed; {}",
                GRACE.as_secs(),
                self.kept_state()
            ));
            return Ok(Some(code));
        }
        status::error(&format!(
            "the host did not reach its next frame within {}s (an endless loop?): restarted it from its last \
             snapshot; press Ctrl-C again to quit",
            GRACE.as_secs()
        ));
        self.restart_after("stuck", "interrupted while stuck")?;
        Ok(None)
    }

    /// The events file's last line, however the session ends: `session_ended` with why, the
    /// exit code, and where the state is (and how old it is), so a tool reading the file can
    /// tell an ended session from a hung one.
    pub(super) fn end_event(&mut self, result: &Result<i32>) {
        let (why, code) = match result {
            Ok(0) => ("the host exited".to_owned(), Some(0)),
            Ok(code @ 129..=159) => (
                match code - 128 {
                    libc::SIGHUP => "the terminal closed (SIGHUP)".to_owned(),
                    libc::SIGINT => "interrupted (SIGINT, Ctrl-C)".to_owned(),
                    libc::SIGTERM => "asked to stop (SIGTERM)".to_owned(),
                    sig => format!("signal {sig}"),
                },
                Some(*code),
            ),
            Ok(code) => (format!("ended with status {code}"), Some(*code)),
            Err(e) => (format!("error: {e:#}"), None),
        };
        let age = std::fs::metadata(&self.snapshot)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(|a| a.as_secs_f64());
        self.events.emit(
            "session_ended",
            json!({
                "why": why,
                "code": code,
                "state": age.map(|_| self.snapshot.display().to_string()),
                "state_age_s": age,
            }),
        );
    }

    /// Says where the final state is, only if the host wrote it: a host that ended by its own
    /// save-and-exit (status 0, or 128 + the signal it handled); else what was kept, and how old.
    pub(super) fn report_final_state(&self, status: ExitStatus) {
        match status.code() {
            Some(0 | 129 | 130 | 143) => status::info(&format!(
                "stopped; the final state is in {}",
                self.snapshot.display()
            )),
            _ => status::error(&format!(
                "stopped, but the host ended without its final save ({}); {}",
                describe(status),
                self.kept_state()
            )),
        }
    }

    /// The last recovery snapshot and its age, in words.
    pub(super) fn kept_state(&self) -> String {
        let age = std::fs::metadata(&self.snapshot)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        match age {
            Some(age) => format!(
                "the last state kept is the snapshot of {:.1}s before, in {}",
                age.as_secs_f64(),
                self.snapshot.display()
            ),
            None => "no state was kept (no snapshot was written yet)".to_owned(),
        }
    }
}

/// `exit status 3`, `SIGKILL`.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => signal_name(sig).to_owned(),
        _ => "unknown status".to_owned(),
    }
}

impl Supervisor {
    /// Puts the terminal back as it was before the host ran: a full-screen host that crashed or
    /// was killed leaves it in raw mode, on the alternate screen, with the cursor hidden.
    pub(super) fn restore_terminal(&self) {
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
pub(super) fn terminal_settings() -> Option<libc::termios> {
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
pub(super) fn backtrace(pid: u32) -> Option<String> {
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
        libc::SIGHUP => "SIGHUP",
        libc::SIGTRAP => {
            "SIGTRAP, a breakpoint trap (a debugger that ended while attached leaves its breakpoints in the code)"
        }
        _ => "a signal",
    }
}
