//! The debugger across reloads: `cargo relive debug --break FILE:LINE` attaches gdb to the running
//! host; the breakpoint hits in version 1 and, after a reload, in version 2; a host held in the
//! debugger is not called stuck, and a build that finishes meanwhile waits for the next frame; a
//! debugger that dies with its breakpoints in the code (SIGTRAP) is named, and the host comes
//! back with its state. A session ended by its terminal closing (SIGHUP) says so in its last
//! event, with where its state is.

use std::io::Write as _;
use std::process::ChildStdin;

use super::*;

/// The worker: `BREAK` is the line of `let version`, `TRAP` a line run only once `/trap` is set.
const WORKER: &str = r#"use base::Context;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    frames: u64,
    trap: bool,
}

fn update(ctx: &mut dyn Context, state: &mut State) {
    state.frames += 1;
    let version = 1;
    if state.trap {
        state.trap = false;
        state.frames += 1_000_000;
    }
    if state.frames.is_multiple_of(30) {
        ctx.show(&format!("frames {} at {:.1}s: v{version}", state.frames, ctx.time()));
    }
}

relive_worker::export! {
    state: State,
    context: dyn Context,
    update: update,
}
"#;

/// 1-based line of the first line of [`WORKER`] containing `text`.
fn line_of(text: &str) -> usize {
    WORKER.lines().position(|l| l.contains(text)).unwrap() + 1
}

/// gdb as `cargo relive debug` started it, driven through its stdin as a user types.
struct Debugger {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Debugger {
    fn start(dir: &Path, target: &Path, location: &str) -> Debugger {
        let mut child = Command::new(bin())
            .args(["relive", "debug", "--break", location, "--", "-nx"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        let stdin = child.stdin.take().unwrap();
        Debugger {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, command: &str) {
        self.seen.push(format!(">>> {command}"));
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a line of gdb's output for which `pick` returns something.
    fn until<T>(&mut self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    // gdb's prompt, not followed by a newline, begins the next line it prints.
                    let mut text = line.as_str();
                    while let Some(rest) = text.strip_prefix("(gdb) ") {
                        text = rest;
                    }
                    let picked = pick(text);
                    self.seen.push(line);
                    if let Some(t) = picked {
                        return t;
                    }
                }
                Err(_) => panic!("gdb never said {what}; it said:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Continues to the next stop at breakpoint `n` and returns the worker version it is in
    /// (the `.v<N>.so` copy `info symbol $pc` names).
    fn next_hit(&mut self, n: u32) -> u64 {
        self.send("continue");
        // `Breakpoint 1, …` in the first library, `Breakpoint 1.1, …` where gdb re-resolved it.
        let (whole, located) = (format!("Breakpoint {n},"), format!("Breakpoint {n}."));
        self.until(&whole, |l| {
            (l.contains(&whole) || l.contains(&located)).then_some(())
        });
        self.send("info symbol $pc");
        self.until("the library of the stop", |l| {
            let so = l.find(".so")?;
            let v = l[..so].rfind(".v")?;
            l[v + 2..so].parse().ok()
        })
    }
}

/// Events the session wrote so far, without waiting.
fn drain(s: &mut Session) {
    while let Ok(event) = s.events.try_recv() {
        s.seen.push(event.to_string());
    }
}

fn state_frames(dir: &Path, target: &Path) -> u64 {
    let out = cargo_relive(dir, target, &["state", "get", "/frames"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_breakpoint_hits_in_v1_and_after_a_reload_in_v2_without_the_watchdog_and_sigtrap_is_named() {
    if Command::new("gdb").arg("--version").output().is_err() {
        panic!("gdb is not installed: README's test command (scripts/test) installs it");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap().join("game");
    new_project(&dir);
    let worker_src = dir.join("worker/src/lib.rs");
    std::fs::write(&worker_src, WORKER).unwrap();
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("debug");
    // A watchdog 30 times quicker than the default: stopping in the debugger far longer than
    // its limit must still not be reported as an endless loop.
    let mut s = Session::start_with_env(
        &dir,
        &target,
        &events,
        &[],
        &[("RELIVE_WATCHDOG_MS", "100")],
    );
    s.event("loaded", FIRST_BUILD, |e| e["event"] == "loaded");
    s.frame("frames ");

    // Attached, the breakpoint (given relative to the workspace) hits in version 1.
    let mut gdb = Debugger::start(
        &dir,
        &target,
        &format!("worker/src/lib.rs:{}", line_of("let version")),
    );
    assert_eq!(gdb.next_hit(1), 1);

    // While the host is stopped there, an edit builds, and waits: no reload, no stall reported,
    // though the host stands still for many watchdog limits and single-steps inside the call.
    edit(&worker_src, "let version = 1;", "let version = 2;");
    s.event("the edit's build", STEP, |e| {
        e["event"] == "build_finished" && e["success"] == true
    });
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..3 {
        gdb.send("next");
        gdb.until("a line stepped to", |l| {
            l.split('\t').next()?.trim().parse::<usize>().ok()
        });
        std::thread::sleep(Duration::from_millis(400));
    }
    drain(&mut s);
    for event in &s.seen {
        assert!(
            !event.contains("\"stuck\""),
            "a host held by the debugger was called stuck:{}",
            s.context()
        );
        assert!(
            !event.contains("\"reloaded\""),
            "the reload did not wait for the stopped host:{}",
            s.context()
        );
    }

    // Continued, the next frame swaps version 2 in, and the same breakpoint hits in it.
    let mut version = 1;
    for _ in 0..5 {
        version = gdb.next_hit(1);
        if version == 2 {
            break;
        }
    }
    assert_eq!(
        version,
        2,
        "the breakpoint never hit in version 2:\n{}",
        gdb.seen.join("\n")
    );
    // The reload's event leaves through another thread of the host, which the stop at the
    // breakpoint (all threads stopped) can catch before it sent it: frames run, one breakpoint
    // hit each, until it is out.
    let is_reload = |e: &String| e.contains("\"event\":\"reloaded\"");
    for _ in 0..50 {
        drain(&mut s);
        if s.seen.iter().any(is_reload) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        drain(&mut s);
        if s.seen.iter().any(is_reload) {
            break;
        }
        assert_eq!(gdb.next_hit(1), 2);
    }
    let reloaded: serde_json::Value = serde_json::from_str(
        s.seen
            .iter()
            .find(|e| is_reload(e))
            .unwrap_or_else(|| panic!("no reload event in 50 frames{}", s.context())),
    )
    .unwrap();
    assert_eq!(reloaded["version"], 2);

    // A debugger killed while its breakpoint is in the code: the host dies of SIGTRAP when it
    // gets there, the event names it, and the host is back with its state.
    gdb.send("delete");
    gdb.send(&format!(
        "break {}:{}",
        worker_src.display(),
        line_of("state.trap = false")
    ));
    gdb.until("the new breakpoint", |l| {
        l.contains("Breakpoint 2 at").then_some(())
    });
    gdb.send("continue");
    gdb.until("the game running again", |l| {
        l.contains("Continuing").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    gdb.child.kill().unwrap();
    gdb.child.wait().unwrap();
    let before = state_frames(&dir, &target);
    std::thread::sleep(Duration::from_millis(600)); // at least two snapshots (every 200 ms)
    let out = cargo_relive(&dir, &target, &["state", "set", "/trap", "true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exited = s.event("the trapped host's exit", STEP, |e| {
        e["event"] == "host_exited"
    });
    assert_eq!(exited["signal"], libc::SIGTRAP, "{exited}");
    let name = exited["signal_name"].as_str().unwrap();
    assert!(
        name.starts_with("SIGTRAP") && name.contains("debugger"),
        "{name}"
    );
    let restarted = s.event("the restart", STEP, |e| e["event"] == "host_restarted");
    assert_eq!(restarted["why"], "crash");
    s.event("the state restored", STEP, |e| e["event"] == "restored");
    let after = state_frames(&dir, &target);
    // (A snapshot taken between the set and the trapped frame holds the set: its frame adds a
    // million after the restart.)
    assert!(
        after % 1_000_000 >= before,
        "frames {after} after the trap, {before} before it"
    );

    // The terminal closes (tmux kill-session): the events file's last line says why, and where
    // the state is.
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGHUP) };
    let ended = s.event("the session's end", STEP, |e| e["event"] == "session_ended");
    assert_eq!(ended["why"], "the terminal closed (SIGHUP)", "{ended}");
    assert_eq!(ended["code"], 129);
    let state = ended["state"].as_str().unwrap();
    assert!(
        Path::new(state).is_file() && state.ends_with("state.snapshot"),
        "{ended}"
    );
    assert!(ended["state_age_s"].as_f64().unwrap() < 5.0, "{ended}");
}
