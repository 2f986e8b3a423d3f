//! A new user's first minutes, from nothing: `cargo relive new` into an empty directory, no target
//! directory at all, `cargo relive run`, an edit, a typo, a fix, a panic, a fix, a ship build
//! beside the session, a crash, Ctrl-C, and `cargo relive run` again.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{FIRST_BUILD, STEP, Session, cargo_relive, edit, mkfifo, new_project, wild_status};

/// The host's status (`game.status()`, what a game shows in its UI) once `pick` accepts it, read
/// through the control socket, where `cargo relive inspect` reads it.
fn status_line(s: &mut Session, target: &Path, what: &str, pick: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let answer = ask(
            target,
            &serde_json::json!({ "cmd": "get", "pointer": "/frames" }),
        );
        if let Some(line) = answer["status_line"].as_str()
            && pick(line)
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {STEP:?}; the last answer: {answer}{}",
            s.context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The child processes of `pid`: their names and states (`R`, `S`, `Z` for a zombie…).
fn children(pid: u32) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; the name may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(1) == Some(&pid.to_string().as_str()) {
            found.push((stat[open + 1..close].to_owned(), fields[0].to_owned()));
        }
    }
    found
}

/// Ctrl-C to the whole process group, as a terminal sends it; the session must end with 130.
fn interrupt(s: &mut Session) {
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{}", s.context());
}

#[test]
fn a_new_project_runs_from_no_target_dir_shows_errors_and_panics_in_the_game_and_resumes_its_state()
{
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("game");
    new_project(&dir);
    let worker_src = dir.join("worker/src/lib.rs");
    // A target directory that does not exist yet, and nothing above it that cargo made.
    let target = tmp.path().join("not/yet/target");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::resume(&dir, &target, &events);

    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    s.frame("score ");
    assert!(target.join("CACHEDIR.TAG").is_file());
    // cargo's build links std's debug info into the worker.
    let library = target.join("debug/deps/libworker.so");
    assert!(
        debug_names(&library).contains(STD_UNIT),
        "cargo's build has std's debug info"
    );
    // The replay's own incremental cache is filled in the background before the first edit (a
    // new project's first edit would otherwise compile the whole worker).
    let replay_cache = target.join("debug/incremental-relive");
    let deadline = Instant::now() + STEP;
    while !std::fs::read_dir(&replay_cache).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("worker-"))
    }) {
        assert!(
            Instant::now() < deadline,
            "no replay cache in {replay_cache:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once that background rustc has ended, it is reaped: no zombie is left under the session
    // until the first build.
    let session = s.child.id();
    let deadline = Instant::now() + STEP;
    while children(session)
        .iter()
        .any(|(comm, state)| comm == "rustc" && state != "Z")
    {
        assert!(Instant::now() < deadline, "the warm-up's rustc never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while children(session).iter().any(|(_, state)| state == "Z") {
        assert!(
            Instant::now() < deadline,
            "a zombie under the session: {:?}",
            children(session)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // An edit is swapped in.
    edit(&worker_src, "\"score {} at", "\"SCORE {} at");
    let reloaded = s.event("reload", STEP, |e| e["event"] == "reloaded");
    // Where the time went, phase by phase; the worker's own sources changed, so rustc was
    // replayed without cargo.
    assert_eq!(reloaded["build_via"], "rustc replayed", "{reloaded}");
    // The link's part of the build, timed by relive's linker shim.
    let link_ms = reloaded["link_ms"].as_f64().unwrap_or(0.0);
    assert!(
        link_ms > 0.0 && link_ms < reloaded["build_ms"].as_f64().unwrap(),
        "{reloaded}"
    );
    // The replay links a copy of std without debug info (the link's largest input), and keeps
    // the worker's own line tables.
    let names = debug_names(&library);
    assert!(
        !names.contains(STD_UNIT),
        "the replayed build has std's debug info"
    );
    assert!(
        names.contains("worker/src/lib.rs"),
        "the worker's debug info is gone"
    );
    // Linked by wild exactly when it is installed (and rustc can use it, and it is not off).
    let (wild, suggested) = wild_status();
    assert_eq!(
        section(&library, ".comment").contains("Linker: Wild"),
        wild,
        "wild on PATH: {wild}"
    );
    // And the terminal says which: that it links with wild, or how to get it (when it could).
    let stderr = s.said();
    assert_eq!(
        stderr.contains("linking the worker with wild, found on PATH"),
        wild,
        "{}",
        s.context()
    );
    assert_eq!(
        stderr.contains("with the wild linker on PATH, a small worker reloads"),
        suggested,
        "{}",
        s.context()
    );
    let phases = &reloaded["phases_ms"];
    let sum: f64 = ["before_build", "build", "load", "frame_wait", "swap"]
        .iter()
        .map(|p| phases[p].as_f64().unwrap())
        .sum();
    let effect = reloaded["edit_to_effect_ms"].as_f64().unwrap();
    assert!(
        sum <= effect + 1.0 && sum >= effect * 0.9,
        "phases {phases} do not add up to {effect} ms"
    );
    let shown = status_line(&mut s, &target, "the reload's status", |l| {
        l.starts_with("reloaded v2")
    });
    assert!(shown.contains("edit to effect"), "{shown}");
    // `cargo relive inspect`'s header: the version and the last reload, from the host.
    let answer = ask(&target, &serde_json::json!({ "cmd": "get", "pointer": "" }));
    assert_eq!(answer["version"], 2, "{answer}");
    assert!(answer["reloaded_s_ago"].as_f64().is_some(), "{answer}");
    assert_eq!(answer["status"]["status"], "reloaded", "{answer}");
    let (before_typo, _) = s.frame("SCORE ");

    // A typo: the game shows the compiler's first error and where it is, and keeps running.
    edit(&worker_src, "state.score += 1;", "state.score += ;");
    let shown = status_line(&mut s, &target, "the failed build's status", |l| {
        l.starts_with("build failed")
    });
    assert!(
        shown.starts_with("build failed: expected expression")
            && shown.contains(" at worker/src/lib.rs:")
            && shown.ends_with("(v2 keeps running)"),
        "{shown}"
    );
    let (during_typo, _) = s.frame("SCORE ");
    assert!(during_typo > before_typo);

    // The fix reloads with the state.
    edit(&worker_src, "state.score += ;", "state.score += 1;");
    status_line(&mut s, &target, "the fix's reload", |l| {
        l.starts_with("reloaded v3")
    });
    let (after_fix, _) = s.frame("SCORE ");
    assert!(after_fix > during_typo, "{after_fix} after {during_typo}");

    // A panic in every frame is reported once, where it happened, with a count at the end, its
    // message naming another frame each time (as an index out of bounds names the index).
    let panicking = "\n    if state.frames > 0 {\n        panic!(\"a panic on purpose in frame {}\", state.frames);\n    }";
    edit(
        &worker_src,
        "state.frames += 1;",
        &format!("state.frames += 1;{panicking}"),
    );
    let first = s.event("panic", STEP, |e| e["event"] == "panicked");
    assert_eq!(first["count"], 1, "{first}");
    let shown = status_line(&mut s, &target, "the panic's status", |l| {
        l.contains("panicked")
    });
    assert!(
        shown.starts_with("v4 panicked in `update`: a panic on purpose in frame ")
            && shown.contains(" at worker/src/lib.rs:"),
        "{shown}"
    );
    // A second of 60 panics a second.
    std::thread::sleep(Duration::from_secs(1));
    edit(&worker_src, panicking, "");
    let mut panics = Vec::new();
    let deadline = Instant::now() + STEP;
    loop {
        let e = s.event(
            "the reload after the panic",
            deadline - Instant::now(),
            |_| true,
        );
        match e["event"].as_str() {
            Some("panicked") => panics.push(e),
            Some("reloaded") => break,
            _ => {}
        }
    }
    assert_eq!(
        panics.len(),
        1,
        "one summary, not one event per frame: {panics:?}"
    );
    assert!(panics[0]["count"].as_u64().unwrap() >= 30, "{panics:?}");
    // Under `cargo relive run` the game leaves its status lines (the panic's among them) to
    // relive's own.
    let mut status_lines = 0;
    let resumed = s.line("a frame after the panic's fix", |l| {
        if l.starts_with("[relive] ") {
            status_lines += 1;
        }
        l.strip_prefix("SCORE ")
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
    });
    assert_eq!(
        status_lines, 0,
        "the host printed its status beside relive's lines"
    );
    assert!(resumed > after_fix);

    // A ship build beside the running session does not change what the session runs: after a
    // crash the host that comes back is the hot one (it loads the worker and restores its
    // state), not the static ship binary.
    let out = cargo_relive(&dir, &target, &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let host_pid = host_pid(&target);
    // SAFETY: killing the host the session started.
    unsafe { libc::kill(host_pid, libc::SIGKILL) };
    s.event("restart after the crash", STEP, |e| {
        e["event"] == "host_restarted" && e["why"] == "crash"
    });
    s.event("the hot host loads the worker", STEP, |e| {
        e["event"] == "loaded"
    });
    s.event("and restores its state", STEP, |e| e["event"] == "restored");
    let (after_crash, _) = s.frame("SCORE ");
    assert!(after_crash + 5 >= resumed, "{after_crash} after {resumed}");

    // Ctrl-C; then `cargo relive run` again continues from where it stopped.
    interrupt(&mut s);
    // One build graph for the host and the worker: the interface crate, and every dependency the
    // two share, compiled once (so the interface's types have one TypeId on both sides).
    let stderr = s.stderr.lock().unwrap().clone();
    // Not a terminal: the compiler's errors (replayed rustc included) carry no color codes.
    assert!(stderr.contains("expected expression"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "ANSI codes in a log:\n{stderr}");
    for krate in ["base", "serde", "relive-worker"] {
        let compiled = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("Compiling {krate} v")))
            .count();
        assert_eq!(
            compiled, 1,
            "`{krate}` compiled {compiled} times:\n{stderr}"
        );
    }
    let snapshot = target.join("relive/host/state.snapshot");
    let last = relive::Snapshot::read(&snapshot)
        .unwrap()
        .to_json()
        .unwrap()["score"]
        .as_u64()
        .unwrap();
    drop(s);

    let events = tmp.path().join("events-2");
    mkfifo(&events);
    let mut s = Session::resume(&dir, &target, &events);
    s.event("restored", FIRST_BUILD, |e| e["event"] == "restored");
    let (first, _) = s.frame("SCORE ");
    assert!(
        first >= last,
        "started at {first}, the last session ended at {last}"
    );
    interrupt(&mut s);
    let stderr = s.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("resuming the last session's state") && stderr.contains("--fresh"),
        "{stderr}"
    );
    let saves: Vec<_> = std::fs::read_dir(target.join("relive/host/saves"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(saves.iter().any(|n| n.starts_with("session-")), "{saves:?}");

    // Run on its own (no `cargo relive run`), the host prints its status itself.
    let mut host = std::process::Command::new(target.join("debug/host"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(host.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    host.kill().unwrap();
    host.wait().unwrap();
    assert_eq!(first.trim(), "[relive] v1 running");
}

/// The name of std's own compilation unit in debug info.
const STD_UNIT: &str = "library/std/src/lib.rs";

/// The strings of a library's debug info (`.debug_str`: compilation units, files, names).
fn debug_names(library: &Path) -> String {
    section(library, ".debug_str")
}

/// A section of a library, as text.
fn section(library: &Path, name: &str) -> String {
    use object::{Object as _, ObjectSection as _};
    let data = std::fs::read(library).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let section = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"));
    String::from_utf8_lossy(section.data().unwrap()).into_owned()
}

/// One command on the session's control socket, and the whole answer.
fn ask(target: &Path, command: &serde_json::Value) -> serde_json::Value {
    use std::io::{BufRead, Write};
    let mut stream =
        std::os::unix::net::UnixStream::connect(target.join("relive/host/control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    writeln!(stream, "{command}").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .unwrap();
    serde_json::from_str(&line).unwrap()
}

/// The pid of the host a session runs, from the staged executable's process.
fn host_pid(target: &Path) -> i32 {
    let exe = target
        .join("relive/host/stage/host")
        .canonicalize()
        .unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(entry.path().join("exe")).is_ok_and(|e| e == exe) {
            return pid;
        }
    }
    panic!("no process runs {}", exe.display());
}
