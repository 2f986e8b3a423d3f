//! A session attacked from the outside while a game runs: stray and hostile clients on the control
//! socket, signals to the session, a planted symbolic link.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    FIRST_BUILD, STEP, Session, alive, cargo_relive, edit, mkfifo, new_project, test_target,
};

/// Sends `line` on a new connection to the session's socket; the answer (one JSON line).
fn send(target: &Path, line: &str) -> Value {
    let mut stream = UnixStream::connect(target.join("relive/host/control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(line.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

fn start(
    name: &str,
    extra: &[&str],
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Session,
) {
    start_with(name, extra, |_| {})
}

/// [`start`], with `prepare` run on the new project before the session starts.
fn start_with(
    name: &str,
    extra: &[&str],
    prepare: impl FnOnce(&Path),
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Session,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    new_project(&dir);
    prepare(&dir);
    let target = test_target(&format!("e2e-{name}"));
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, extra);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    s.frame("score ");
    (tmp, dir, target, s)
}

#[test]
fn the_control_socket_refuses_strays_and_hostile_clients_and_no_client_stalls_the_session() {
    let (_tmp, dir, target, mut s) = start("control", &[]);
    let get_score = |target: &Path| send(target, r#"{"cmd":"get","pointer":"/score"}"#);

    // A stray line is answered and never becomes the host's connection.
    for stray in [
        r#"{}"#,
        r#"{"event":""}"#,
        "not json",
        r#"{"hello":"guess"}"#,
    ] {
        let answer = send(&target, stray);
        assert!(answer["error"].is_string(), "{stray}: {answer}");
    }
    assert!(
        get_score(&target)["ok"].is_u64(),
        "the host's connection was taken over"
    );

    // Every refused command is answered, saying why.
    let deep = format!("{}1{}", "[".repeat(150), "]".repeat(150));
    let answer = send(
        &target,
        &format!(r#"{{"cmd":"set","pointer":"/score","value":{deep}}}"#),
    );
    assert!(answer["error"].is_string(), "{answer}");
    let outside = target.join("outside.snapshot");
    let answer = send(
        &target,
        &json!({ "cmd": "save", "path": outside }).to_string(),
    );
    assert!(
        answer["error"].as_str().unwrap().contains("save name"),
        "{answer}"
    );
    assert!(
        !outside.exists(),
        "a client chose where a snapshot is written"
    );
    let out = cargo_relive(&dir, &target, &["save", "a b"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("letters, digits"));
    let out = cargo_relive(&dir, &target, &["save", "corner_1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(target.join("relive/host/saves/corner_1.snapshot").is_file());

    // Idle connections past the cap are refused with an answer; the session still serves.
    let mut idle: Vec<UnixStream> = (0..80)
        .map(|_| UnixStream::connect(target.join("relive/host/control.sock")).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = idle
        .iter_mut()
        .filter(|c| {
            c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut line = String::new();
            BufReader::new(&**c).read_line(&mut line).is_ok()
                && line.contains("too many connections")
        })
        .count();
    assert!(
        refused >= 80 - 64,
        "only {refused} of 80 idle connections were refused"
    );
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    assert!(get_score(&target)["ok"].is_u64());

    // A client that asks for a large state and never reads the answer stalls nothing: an edit is
    // rebuilt and swapped in, other clients are answered, and Ctrl-C ends the session at once.
    edit(
        &dir.join("worker/src/lib.rs"),
        "    score: u64,\n}",
        "    score: u64,\n    big: String,\n}",
    );
    s.event("reload with the big field", STEP, |e| {
        e["event"] == "reloaded"
    });
    let big = "x".repeat(20 << 20);
    let answer = send(
        &target,
        &json!({ "cmd": "set", "pointer": "/big", "value": big }).to_string(),
    );
    assert!(answer.get("error").is_none(), "{}", answer["error"]);
    let mut sluggish = UnixStream::connect(target.join("relive/host/control.sock")).unwrap();
    sluggish
        .write_all(b"{\"cmd\":\"get\",\"pointer\":\"\"}\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"score {} at",
        "\"SCORE {} at",
    );
    s.event("reload while a client does not read", STEP, |e| {
        e["event"] == "reloaded"
    });
    s.frame("SCORE ");
    let t = Instant::now();
    assert!(get_score(&target)["ok"].is_u64());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        t.elapsed()
    );
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    let t = Instant::now();
    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{}", s.context());
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "Ctrl-C took {:?}",
        t.elapsed()
    );
    drop(sluggish);
    assert!(
        !s.context().contains("\"event\":\"\""),
        "a client's line reached the events{}",
        s.context()
    );
}

/// The score the last `score N at …` line showed, waiting about `secs` seconds of play.
fn play(s: &mut Session, secs: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = 0;
    while Instant::now() < deadline {
        last = s.frame("score ").0;
    }
    last
}

fn snapshot_score(target: &Path) -> u64 {
    let snapshot = relive::Snapshot::read(&target.join("relive/host/state.snapshot")).unwrap();
    snapshot.to_json().unwrap()["score"].as_u64().unwrap()
}

#[test]
fn hangup_and_a_killed_supervisor_leave_the_final_state_saved_and_say_what_is_true() {
    // Recovery snapshots far apart: only the final save can hold the last score.
    let (_tmp, dir, target, mut s) = start("signals", &["--snapshot-interval", "60000"]);
    let last = play(&mut s, 2);
    // Closing the terminal: SIGHUP to the whole process group.
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGHUP) };
    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(128 + libc::SIGHUP), "{}", s.context());
    assert!(
        snapshot_score(&target) >= last,
        "the final state was not saved"
    );
    let stderr = s.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("stopped; the final state is in"),
        "{stderr}"
    );
    drop(s);

    // `cargo relive run` itself killed (SIGKILL, the OOM killer): its host saves, then exits.
    let events = target.join("events-kill");
    let _ = std::fs::remove_file(&events);
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &["--snapshot-interval", "60000"]);
    let started = s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    let host = started["pid"].as_i64().unwrap() as i32;
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    let last = play(&mut s, 2);
    // SAFETY: killing the supervisor we started (not its group).
    unsafe { libc::kill(s.child.id() as i32, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(host) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(host), "the host outlived its supervisor");
    assert!(
        snapshot_score(&target) >= last,
        "the host died without its final save"
    );
}

#[test]
fn a_planted_symbolic_link_where_relive_keeps_its_files_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("linked");
    new_project(&dir);
    let target = tmp.path().join("target");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(target.join("relive/host")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, target.join("relive/host/stage")).unwrap();
    let out = cargo_relive(&dir, &target, &["run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("relive/host/stage is a symbolic link"),
        "{stderr}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode, 0o700, "the link's target was made private");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn rewind_from_the_cli_takes_the_running_game_back_and_play_goes_on() {
    // A second host in the workspace: `run` needs `-p`, commands to the session find the one
    // whose session runs.
    let (_tmp, dir, target, mut s) = start_with("rewind", &["-p", "host"], |dir| {
        let host2 = dir.join("host2");
        std::fs::create_dir_all(host2.join("src")).unwrap();
        let manifest = std::fs::read_to_string(dir.join("host/Cargo.toml"))
            .unwrap()
            .replace("name = \"host\"", "name = \"host2\"");
        std::fs::write(host2.join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(dir.join("host/src/main.rs"), host2.join("src/main.rs")).unwrap();
        let root = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .replace("\"host\",", "\"host\", \"host2\",");
        std::fs::write(dir.join("Cargo.toml"), root).unwrap();
    });
    let frames = |target: &Path| {
        send(target, r#"{"cmd":"get","pointer":"/frames"}"#)["ok"]
            .as_u64()
            .unwrap()
    };
    std::thread::sleep(Duration::from_secs(3));
    let before = frames(&target);
    let out = cargo_relive(&dir, &target, &["rewind", "2s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("rewound"), "{stderr}");
    let rewound = s.event("rewound", STEP, |e| e["event"] == "rewound");
    // 2 s at 60 frames a second.
    assert!(rewound["frames_back"].as_u64().unwrap() >= 110, "{rewound}");
    let after = frames(&target);
    assert!(after < before, "frames {after} after {before}: not rewound");
    // Asking for more than is kept changes nothing and says how far it reaches.
    let out = cargo_relive(&dir, &target, &["rewind", "100000f"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reaches"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cargo_relive(&dir, &target, &["rewind", "soon"]);
    assert_eq!(out.status.code(), Some(2), "a bad amount is a usage error");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}

#[test]
fn a_nodelete_worker_is_named_as_the_cause_and_restart_above_brings_the_host_back_with_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nodelete");
    new_project(&dir);
    // A worker linked with `-z nodelete`: dlclose can never unmap a version of it.
    std::fs::write(
        dir.join("worker/build.rs"),
        "fn main() {\n    println!(\"cargo:rustc-link-arg=-Wl,-z,nodelete\");\n}\n",
    )
    .unwrap();
    let target = test_target("e2e-nodelete");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &["--restart-above", "1"]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    let (before, _) = s.frame("score ");
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"score {} at",
        "\"SCORE {} at",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    let stale = s.event("the old version stays", STEP, |e| {
        e["event"] == "stale_mapping"
    });
    assert!(
        stale["why"].as_str().unwrap().contains("NODELETE"),
        "{stale}"
    );
    // 1 MB is less than any host: it is restarted with its state after the reload.
    let restarted = s.event("restart for memory", STEP, |e| {
        e["event"] == "host_restarted"
    });
    assert_eq!(restarted["why"], "memory", "{restarted}");
    assert_eq!(restarted["detail"], "above --restart-above", "{restarted}");
    s.event("restored", STEP, |e| e["event"] == "restored");
    let (after, _) = s.frame("SCORE ");
    assert!(after >= before, "state lost: {after} after {before}");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
