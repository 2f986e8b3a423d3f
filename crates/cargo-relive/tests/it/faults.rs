//! Faults in the worker under `cargo relive run`: a panic, a null write (SIGSEGV), an arithmetic
//! trap (SIGFPE), `abort()`, a stack overflow and an endless loop. For each: what the user is told,
//! that the state comes back from the last snapshot, and how long recovery takes.

use std::path::Path;
use std::time::Duration;

use super::{FIRST_BUILD, STEP, Session, edit, mkfifo, new_project, test_target};

/// Worker code that performs the fault named in the file `fault` (once: it removes the file).
const TRIGGER: &str = r#"    if let Ok(kind) = std::fs::read_to_string("fault") {
        let _ = std::fs::remove_file("fault");
        match kind.trim() {
            "panic" => panic!("a panic on purpose"),
            // SAFETY: none: the point is to crash.
            "segv" => unsafe { std::ptr::null_mut::<u64>().write_volatile(1) },
            // SAFETY: none: a division by zero in the CPU, not in Rust.
            "fpe" => unsafe {
                std::arch::asm!("xor edx, edx", "mov eax, 1", "div ecx", in("ecx") 0u32, out("eax") _, out("edx") _)
            },
            "abort" => std::process::abort(),
            "overflow" => {
                fn deep(n: u64) -> u64 {
                    let a = std::hint::black_box([n; 64]);
                    deep(n + 1) + a[0]
                }
                std::hint::black_box(deep(0));
            }
            "endless" => loop {
                std::hint::spin_loop()
            },
            _ => {}
        }
    }
    state.frames += 1;"#;

fn score_line(line: &str) -> Option<u64> {
    line.strip_prefix("score ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Triggers `kind` and waits for the restart; returns (signal, seconds from the crash to the state
/// restored, score before, first score after).
fn crash(s: &mut Session, dir: &Path, kind: &str) -> (i64, f64, u64, u64) {
    let before = s.line("a score", score_line);
    std::fs::write(dir.join("fault"), kind).unwrap();
    let exited = s.event("host exit", STEP, |e| e["event"] == "host_exited");
    let restarted = s.event("restart", STEP, |e| e["event"] == "host_restarted");
    assert_eq!(restarted["why"], "crash", "{kind}");
    let restored = s.event("restored", STEP, |e| e["event"] == "restored");
    let recovery = restored["t"].as_f64().unwrap() - exited["t"].as_f64().unwrap();
    // The first line after the restored event (a line of the crashed host still in the pipe
    // would show a score at least as high, which the caller's check accepts too).
    let after = s.line("a score after the restart", score_line);
    (
        exited["signal"].as_i64().unwrap_or(0),
        recovery,
        before,
        after,
    )
}

#[test]
fn worker_faults_are_reported_and_the_host_comes_back_with_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("faulty");
    new_project(&dir);
    edit(
        &dir.join("worker/src/lib.rs"),
        "    state.frames += 1;",
        TRIGGER,
    );
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("e2e-faults");
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");

    // A panic is caught: reported with its message and place, the game goes on.
    let before = s.line("a score", score_line);
    std::fs::write(dir.join("fault"), "panic").unwrap();
    let panicked = s.event("panic", STEP, |e| e["event"] == "panicked");
    assert_eq!(panicked["message"], "a panic on purpose");
    assert!(
        panicked["location"]
            .as_str()
            .unwrap()
            .contains("worker/src/lib.rs:"),
        "{panicked}"
    );
    let after = s.line("a score", score_line);
    assert!(after > before);

    let mut table = Vec::new();
    for (kind, signal) in [
        ("segv", libc::SIGSEGV),
        ("fpe", libc::SIGFPE),
        ("abort", libc::SIGABRT),
        ("overflow", libc::SIGABRT),
    ] {
        // Let the host run past the quick-crash window first.
        for _ in 0..5 {
            s.line("a score", score_line);
        }
        let (sig, recovery, before, after) = crash(&mut s, &dir, kind);
        assert_eq!(sig, i64::from(signal), "{kind}");
        // Snapshots come every 200 ms, a line every 250 ms: at most one line is lost.
        assert!(
            after + 1 >= before && after > 3,
            "{kind}: score {after} after {before}"
        );
        table.push(format!(
            "{kind}: signal {sig}, state back in {recovery:.2}s, score {before} -> {after}"
        ));
    }

    // An endless loop: the watchdog says where, Ctrl-C restarts from the last snapshot.
    for _ in 0..5 {
        s.line("a score", score_line);
    }
    let before = s.line("a score", score_line);
    std::fs::write(dir.join("fault"), "endless").unwrap();
    let stuck = s.event("stuck", STEP, |e| e["event"] == "stuck");
    assert_eq!(stuck["function"], "update");
    let trace = stuck["backtrace"].as_str().unwrap_or("");
    assert!(
        trace.contains("update"),
        "no backtrace into the worker: {stuck}"
    );
    // SAFETY: signalling the process group of the session we started, as Ctrl-C does.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    let exited = s.event("killed", Duration::from_secs(30), |e| {
        e["event"] == "host_restarted"
    });
    assert_eq!(exited["why"], "stuck");
    s.event("restored", STEP, |e| e["event"] == "restored");
    let after = s.line("a score after the endless loop", score_line);
    assert!(after + 1 >= before, "score {after} after {before}");
    table.push(format!(
        "endless loop: stuck reported after {} ms, restarted on Ctrl-C, score {before} -> {after}",
        stuck["stuck_ms"]
    ));
    println!("faults:\n  {}", table.join("\n  "));

    // A second Ctrl-C quits.
    // SAFETY: as above.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    assert_eq!(s.wait_exit(Duration::from_secs(20)).code(), Some(130));
}
