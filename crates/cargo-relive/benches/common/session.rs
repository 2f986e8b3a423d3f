//! What the cargo-relive benches share: a new project made with `cargo relive new`, a `cargo
//! relive run` session that a bench starts in it and reads events from (through a FIFO), and the
//! median they report.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long [`Session::next`] waits for an event before the bench fails with what it saw (a
/// first build of the 20k-line worker takes about a minute here).
const EVENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `cargo relive new --template TEMPLATE` into `dir`, which is removed first.
pub fn new_project(dir: &Path, template: &str) {
    let _ = std::fs::remove_dir_all(dir);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let made = Command::new(env!("CARGO_BIN_EXE_cargo-relive"))
        .args(["relive", "new", "--vcs", "none", "--template", template])
        .arg(dir)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success(), "cargo relive new {}", dir.display());
}

/// A running `cargo relive run --fresh --events FIFO`.
pub struct Session {
    child: Child,
    events: Receiver<String>,
    /// The kinds of the last 40 events read, for the message when one never comes.
    seen: Vec<String>,
}

impl Session {
    /// Starts `cargo relive run` in `dir` with `CARGO_TARGET_DIR=target` and `env`, its events
    /// written to the FIFO `fifo` (made here).
    pub fn start(dir: &Path, target: &Path, fifo: &Path, env: &[(&str, &str)]) -> Session {
        let _ = std::fs::remove_file(fifo);
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let child = Command::new(env!("CARGO_BIN_EXE_cargo-relive"))
            .args(["relive", "run", "--fresh", "--events"])
            .arg(fifo)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reader = BufReader::new(std::fs::File::open(fifo).unwrap());
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// The next event of `kind`; panics, naming the events seen, when none comes within
    /// [`EVENT_TIMEOUT`] or the session ends first.
    pub fn next(&mut self, kind: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match self.events.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no `{kind}` event within {} s; the session's events so far: {:?}",
                    EVENT_TIMEOUT.as_secs(),
                    self.seen
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the session ended before a `{kind}` event; its events: {:?}",
                    self.seen
                ),
            };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let event = v["event"].as_str().unwrap_or("?").to_string();
            if self.seen.len() == 40 {
                self.seen.remove(0);
            }
            self.seen.push(event);
            if v["event"] == kind {
                return v;
            }
        }
    }

    /// Stops the session as Ctrl-C would and waits for it.
    pub fn stop(mut self) {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait().unwrap();
    }
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// How long `cargo ARGS --quiet` takes in `dir` with its own target dir (a bare build, the
/// baseline the benches compare `cargo relive run` with).
pub fn cargo_timed(dir: &Path, target: &Path, args: &[&str]) -> std::time::Duration {
    let t = std::time::Instant::now();
    let status = Command::new(env!("CARGO"))
        .args(args)
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        dir.display()
    );
    t.elapsed()
}
