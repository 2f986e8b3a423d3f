//! End-to-end tests of `cargo relive`, doing what a new user does: `new`, `run`, edit, break,
//! fix, change the interface, crash, Ctrl-C, all through real processes and real builds.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cargo-relive")
}

/// `cargo relive new <dir>`, which must succeed.
fn new_project(dir: &Path) {
    new_project_with(dir, &[]);
}

/// `cargo relive new <dir> ARGS`, which must succeed.
fn new_project_with(dir: &Path, args: &[&str]) {
    let out = Command::new(bin())
        .args(["relive", "new"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cargo relive ARGS` in `dir` with `target` as its target directory.
fn cargo_relive(dir: &Path, target: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("relive")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO", env!("CARGO"))
        .output()
        .unwrap()
}

/// `<this test's target directory>/<name>`: scratch space for sessions and screenshots, wherever
/// `CARGO_TARGET_DIR` put the target directory.
fn test_target(name: &str) -> PathBuf {
    Path::new(bin())
        .parent()
        .and_then(Path::parent)
        .expect("cargo-relive lives in <target>/<profile>/")
        .join(name)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A `cargo relive run` in its own process group, with its output and events as channels.
struct Session {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    events: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    seen: Vec<String>,
}

impl Session {
    /// `cargo relive run --fresh`: a session that does not resume an earlier test's state.
    fn start(dir: &Path, target: &Path, events: &Path, extra: &[&str]) -> Session {
        Session::start_with_env(dir, target, events, extra, &[])
    }

    /// `cargo relive run` as a user types it: resuming the last session's state, if any.
    fn resume(dir: &Path, target: &Path, events: &Path) -> Session {
        Session::spawn(dir, target, events, &[], &[])
    }

    /// [`Session::start`] with more environment variables for `cargo relive run` (and its host).
    fn start_with_env(
        dir: &Path,
        target: &Path,
        events: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Session {
        let mut args = vec!["--fresh"];
        args.extend_from_slice(extra);
        Session::spawn(dir, target, events, &args, env)
    }

    fn spawn(
        dir: &Path,
        target: &Path,
        events: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Session {
        use std::os::unix::process::CommandExt;
        let interval: &[&str] = if extra.contains(&"--snapshot-interval") {
            &[]
        } else {
            &["--snapshot-interval", "200"]
        };
        let mut child = Command::new(bin())
            .args(["relive", "run"])
            .args(interval)
            .arg("--events")
            .arg(events)
            .args(extra)
            .stdin(Stdio::piped())
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target)
            .env("CARGO", env!("CARGO"))
            .env_remove("RUSTFLAGS")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let (line_tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { return };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let (event_tx, events_rx) = channel();
        let fifo = events.to_owned();
        std::thread::spawn(move || {
            let file = std::fs::File::open(fifo).unwrap();
            for line in BufReader::new(file).lines() {
                let Ok(line) = line else { return };
                if event_tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Session {
            child,
            stdin,
            lines,
            events: events_rx,
            stderr,
            stderr_reader: Some(stderr_reader),
            seen: Vec::new(),
        }
    }

    /// What `cargo relive` wrote to stderr, its whitespace collapsed: a wrapped message reads as
    /// one line.
    fn said(&self) -> String {
        let stderr = self.stderr.lock().unwrap();
        stderr.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn context(&self) -> String {
        format!(
            "\n--- events seen ---\n{}\n--- cargo relive's stderr ---\n{}",
            self.seen.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits for the first event matching `pick`. If `cargo relive` has exited, waits 2 s more
    /// for what it wrote before exiting, not the whole `timeout`.
    fn event(&mut self, what: &str, timeout: Duration, pick: impl Fn(&Value) -> bool) -> Value {
        use std::sync::mpsc::RecvTimeoutError;
        let deadline = Instant::now() + timeout;
        let mut exited: Option<(Instant, std::process::ExitStatus)> = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("no {what} within {timeout:?}{}", self.context());
            }
            match self
                .events
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(event) => {
                    self.seen.push(event.to_string());
                    if pick(&event) {
                        return event;
                    }
                }
                Err(e) => {
                    if e == RecvTimeoutError::Disconnected {
                        // The events' reader ended: nothing more comes.
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    match exited {
                        None => {
                            exited = self
                                .child
                                .try_wait()
                                .ok()
                                .flatten()
                                .map(|s| (Instant::now(), s))
                        }
                        Some((at, status)) if at.elapsed() > Duration::from_secs(2) => panic!(
                            "no {what}: cargo relive exited ({status}){}",
                            self.context()
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }

    /// Waits for an output line `<prefix><frame> at <seconds>s…` and returns the frame number and
    /// the seconds since that host process started.
    fn frame(&mut self, prefix: &str) -> (u64, f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        let mut words = rest.split_whitespace();
                        let n = words.next().unwrap().parse().unwrap();
                        let t = words
                            .nth(1)
                            .unwrap()
                            .trim_end_matches("s:")
                            .parse()
                            .unwrap();
                        return (n, t);
                    }
                }
                Err(_) => panic!("no line starting with `{prefix}`{}", self.context()),
            }
        }
    }

    /// Waits for the first line printed by a newly started host: its clock is behind `t`.
    fn first_frame_of_new_host(&mut self, prefix: &str, t: f64) -> u64 {
        loop {
            let (n, at) = self.frame(prefix);
            if at < t {
                return n;
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test must not leave `cargo relive run` (and so its host) behind.
        // SAFETY: signalling the process group of the session we started.
        unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Session {
    /// Waits for `cargo relive` to end. (std has no wait with a deadline: this polls.)
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "cargo relive did not stop{}",
                self.context()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `keys` into the host's stdin.
    fn type_keys(&mut self, keys: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for an output line for which `pick` returns something.
    fn line<T>(&mut self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(t) = pick(&line) {
                        return t;
                    }
                }
                Err(_) => panic!("no line with {what}{}", self.context()),
            }
        }
    }
}

mod advice;
mod bursts;
mod coins;
mod debug;
mod faults;
mod front_door;
mod guide;
mod inspector;
mod loops;
mod ported;
mod quad;
mod saves;
mod scaffold;
mod session;
mod tweaks;
mod workspace;

/// Whether the toolchain's rustc takes `-C linker-features`, which relive links with wild by.
fn rustc_takes_linker_features() -> bool {
    Command::new("rustc")
        .args(["-C", "linker-features=-lld", "--print", "sysroot"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a session started from this environment would use wild, or suggest installing it.
fn wild_status() -> (bool, bool) {
    wild_status_with_path(&std::env::var("PATH").unwrap_or_default())
}

/// [`wild_status`] for a session started with `path` as its `PATH`.
fn wild_status_with_path(path: &str) -> (bool, bool) {
    let on_path = std::env::split_paths(path).any(|dir| dir.join("wild").is_file());
    let allowed = std::env::var("RELIVE_WILD").ok().is_none_or(|v| v != "off")
        && rustc_takes_linker_features();
    (on_path && allowed, !on_path && allowed)
}

/// The session's events up to its next `reloaded` (included).
fn until_reload(s: &mut Session) -> Vec<Value> {
    let deadline = Instant::now() + STEP;
    let mut seen = Vec::new();
    loop {
        let e = s.event("a reload", deadline - Instant::now(), |_| true);
        let done = e["event"] == "reloaded";
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The inodes of `pid`'s sockets that are TCP or UDP sockets (IPv4 or IPv6).
fn inet_sockets(pid: i32) -> Vec<String> {
    let mut ours = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(link) = std::fs::read_link(fd.path())
            && let Some(inode) = link.to_str().and_then(|l| l.strip_prefix("socket:["))
        {
            ours.push(inode.trim_end_matches(']').to_owned());
        }
    }
    let mut inet = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some(inode) = line.split_whitespace().nth(9)
                && ours.iter().any(|o| o == inode)
            {
                inet.push(format!("{table} {inode}"));
            }
        }
    }
    inet
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

const FIRST_BUILD: Duration = Duration::from_secs(300);
const STEP: Duration = Duration::from_secs(120);

#[test]
fn a_new_project_reloads_survives_bad_builds_interface_changes_and_crashes_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("game");
    new_project(&dir);
    let worker_src = dir.join("worker/src/lib.rs");
    let base_src = dir.join("base/src/lib.rs");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("e2e");
    let mut s = Session::start(&dir, &target, &events, &[]);

    // It runs, and frames count.
    let started = s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    let mut pid = started["pid"].as_i64().unwrap() as i32;
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    s.frame("score ");

    // The control channel is a private Unix socket; neither process has a network socket.
    use std::os::unix::fs::PermissionsExt;
    let state_dir = target.join("relive/host");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state_dir.join("control.sock")), 0o600);
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("stage/.relive")), 0o700);
    for p in [pid, s.child.id() as i32] {
        assert!(
            inet_sockets(p).is_empty(),
            "process {p} has network sockets: {:?}",
            inet_sockets(p)
        );
    }

    // A second session of the same host is refused rather than fighting over its files.
    let second = cargo_relive(&dir, &target, &["run"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    let (before, _) = s.frame("score ");

    // An edit is swapped in, with the state carried.
    edit(&worker_src, "\"score {} at", "\"SCORE {} at");
    let reloaded = s.event("reload", STEP, |e| e["event"] == "reloaded");
    assert!(
        reloaded["edit_to_effect_ms"].as_f64().unwrap() > 0.0,
        "{reloaded}"
    );
    let (after, _) = s.frame("SCORE ");
    assert!(after > before, "state lost: frame {after} after {before}");

    // A save that leaves the file as it was builds nothing (the next build is the typo's).
    std::fs::write(&worker_src, std::fs::read(&worker_src).unwrap()).unwrap();
    let deadline = Instant::now() + STEP;
    while !s
        .stderr
        .lock()
        .unwrap()
        .contains("`worker/src/lib.rs` saved without changes: nothing to build")
    {
        assert!(
            Instant::now() < deadline,
            "no note of the unchanged save{}",
            s.context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let skipped = s.event("the skipped build", STEP, |e| e["event"] == "build_skipped");
    assert_eq!(skipped["why"], "saved without changes", "{skipped}");

    // A broken build keeps the last good version running.
    edit(&worker_src, "state.score += 1;", "state.score += ;");
    let failed = s.event("failed build", STEP, |e| {
        e["event"] == "build_finished" && e["success"] == false
    });
    assert_eq!(failed["crate"], "worker");
    let (a, _) = s.frame("SCORE ");
    let (b, _) = s.frame("SCORE ");
    assert_eq!(b, a + 1, "the old code no longer runs");

    // Fixing it carries on from the same state with the new code.
    edit(&worker_src, "state.score += ;", "state.score += 100;");
    s.event("reload after the fix", STEP, |e| e["event"] == "reloaded");
    let (fixed, _) = s.frame("SCORE ");
    let (next, mut t) = s.frame("SCORE ");
    assert!(
        fixed > b && next == fixed + 100,
        "frames {b}, {fixed}, {next}"
    );

    // A change of the interface crate restarts the host, with its state.
    edit(
        &base_src,
        "    fn time(&self) -> f64;",
        "    fn time(&self) -> f64;\n    fn extra(&self) -> u32 { 0 }",
    );
    let stopped = s.event("planned stop", STEP, |e| e["event"] == "host_exited");
    assert_eq!(stopped["why"], "a crate of the host changed", "{stopped}");
    assert_eq!(
        stopped["code"], 143,
        "the host did not save and exit: {stopped}"
    );
    let restarted = s.event("host restart", STEP, |e| e["event"] == "host_restarted");
    assert_eq!(restarted["why"], "a crate of the host changed");
    let started = s.event("new host", STEP, |e| e["event"] == "host_started");
    assert_ne!(started["restored_from"], Value::Null);
    s.event("restored", STEP, |e| e["event"] == "restored");
    assert!(!alive(pid), "the old host still runs");
    pid = started["pid"].as_i64().unwrap() as i32;
    let continued = s.first_frame_of_new_host("SCORE ", t);
    assert!(
        continued > next,
        "state lost across the host restart: {continued} after {next}"
    );

    // A crash restarts the host from its last snapshot (written every 200 ms, so at most one
    // line old).
    let (last, at) = s.frame("SCORE ");
    t = at;
    // SAFETY: sending a signal to the host we started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let exited = s.event("crash", STEP, |e| e["event"] == "host_exited");
    assert_eq!(exited["signal"], libc::SIGKILL);
    let restarted = s.event("restart after the crash", STEP, |e| {
        e["event"] == "host_restarted"
    });
    assert_eq!(restarted["why"], "crash");
    let started = s.event("host after the crash", STEP, |e| {
        e["event"] == "host_started"
    });
    pid = started["pid"].as_i64().unwrap() as i32;
    s.event("restored after the crash", STEP, |e| {
        e["event"] == "restored"
    });
    let recovered = s.first_frame_of_new_host("SCORE ", t);
    assert!(
        recovered + 200 >= last && recovered > continued,
        "frame {recovered} after a crash at {last}"
    );

    // Ctrl-C (to the whole process group, as a terminal does) ends everything, state on disk.
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "cargo relive did not stop{}",
            s.context()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "{}", s.context());
    assert!(!alive(pid), "the host outlived cargo relive");
    let final_frame = recovered;
    if let Some(reader) = s.stderr_reader.take() {
        reader.join().unwrap();
    }
    let stderr = s.stderr.lock().unwrap().clone();
    // The broken build's error, as cargo shows it.
    assert!(stderr.contains("expected expression"), "{stderr}");
    assert!(stderr.contains("worker/src/lib.rs:"), "{stderr}");
    assert!(
        stderr.contains("the host keeps running the last good version"),
        "{stderr}"
    );
    let snapshot = relive::Snapshot::read(&target.join("relive/host/state.snapshot")).unwrap();
    let state = snapshot.to_json().unwrap();
    assert!(
        state["score"].as_u64().unwrap() >= final_frame,
        "{state} vs frame {final_frame}"
    );
}
