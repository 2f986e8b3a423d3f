//! The scaffold and the ship build: `cargo relive new`, `cargo relive build`, what `run` says
//! outside a relive workspace, and README's test command.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use super::{
    FIRST_BUILD, STEP, Session, bin, cargo_relive, edit, mkfifo, new_project, new_project_with,
    repo, test_target,
};

/// Spawns `exe`, returns its first stdout line, and kills it.
fn first_line(exe: &Path) -> String {
    let mut child = Command::new(exe).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    line
}

#[test]
fn build_makes_a_ship_binary_that_runs_without_the_worker_library() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ship");
    new_project(&dir);
    let target = test_target("e2e-ship");
    let out = cargo_relive(&dir, &target, &["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("built the ship version"), "{stderr}");
    let exe = target.join("debug/host");
    // No worker library anywhere it could be loaded from: the ship binary does not need one.
    let _ = std::fs::remove_file(target.join("debug/libworker.so"));
    assert!(first_line(&exe).starts_with("score 1 at"));
    let symbols = Command::new("nm").arg(&exe).output().unwrap();
    let symbols = String::from_utf8_lossy(&symbols.stdout);
    assert!(!symbols.contains("relive_worker_exports_v1"));
    assert!(!symbols.contains("dlopen"));
    // Nothing of loops: the context's recording wrapper is not linked in.
    assert!(!symbols.contains("relive_tape"));

    // The ship binary is also kept where a dev build of the host does not replace it.
    let ship = target.join("relive/ship/debug/host");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "host"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(built.success());
    let symbols = Command::new("nm").arg(&ship).output().unwrap();
    assert!(!String::from_utf8_lossy(&symbols.stdout).contains("dlopen"));
    assert!(first_line(&ship).starts_with("score 1 at"));
}

#[test]
fn run_outside_a_relive_workspace_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    let out = Command::new(bin())
        .args(["relive", "run"])
        .current_dir(tmp.path())
        .env("CARGO", env!("CARGO"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no host in this workspace"), "{stderr}");
    assert!(stderr.contains("cargo relive new"), "{stderr}");
}

#[test]
fn new_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let out = Command::new(bin())
        .args(["relive", "new"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

/// README's second command is what CI runs, and it installs every tool the tests start.
#[test]
fn readme_test_command_is_what_ci_runs_and_installs_what_the_tests_use() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme.split("```sh\n").nth(1).unwrap();
    let test_line = block.lines().nth(1).unwrap();
    let command = test_line.split('#').next().unwrap().trim();
    assert_eq!(command, "scripts/test", "{test_line}");
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.lines()
            .last()
            .and_then(|l| l.rsplit(';').next())
            .is_some_and(|command| command.trim() == "scripts/test"),
        "{ci}"
    );
    let script = std::fs::read_to_string(repo().join("scripts/test")).unwrap();
    for (tool, package) in [
        ("nm", "binutils"),
        ("Xvfb", "xvfb"),
        ("import", "imagemagick"),
        ("xdotool", "xdotool"),
        ("tmux", "tmux"),
        ("gdb", "gdb"),
    ] {
        assert!(
            script.contains(&format!("command -v {tool} "))
                && script.contains(&format!("need=\"$need {package}\"")),
            "scripts/test does not install {package} for `{tool}`"
        );
    }
    assert!(script.contains("sudo"), "no way to install as a user");
    assert!(script.contains("exec cargo test --workspace\n"));
}

#[test]
fn new_makes_a_git_repository_as_cargo_new_does_unless_told_not_to() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("versioned");
    new_project(&dir);
    assert!(dir.join(".git").is_dir(), "no repository");
    assert!(dir.join(".gitignore").is_file());
    // Inside it, another project is not a repository of its own.
    let inner = dir.join("inner");
    new_project(&inner);
    assert!(
        !inner.join(".git").exists(),
        "a repository inside a repository"
    );
    let plain = tmp.path().join("plain");
    new_project_with(&plain, &["--vcs", "none"]);
    assert!(!plain.join(".git").exists());
}

#[test]
fn a_state_crate_project_reloads_edits_of_the_worker_and_of_its_state_and_ships() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("split");
    new_project_with(&dir, &["--state-crate"]);
    let target = test_target("e2e-state-crate");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    let (before, _) = s.frame("score ");
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"score {} at",
        "\"SCORE {} at",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    let (after, _) = s.frame("SCORE ");
    assert!(after >= before, "state lost: {after} after {before}");

    // A field added to the state crate and used by the worker: both rebuilt, the state carried,
    // the new field from its default.
    edit(
        &dir.join("state/src/lib.rs"),
        "    pub score: u64,\n",
        "    pub score: u64,\n    pub bonus: u64,\n",
    );
    edit(
        &dir.join("worker/src/lib.rs"),
        "        state.score += 1;\n",
        "        state.score += 1;\n        state.bonus += 2;\n",
    );
    let get = |pointer: &str| -> Option<u64> {
        let out = cargo_relive(&dir, &target, &["state", "get", pointer]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    let deadline = std::time::Instant::now() + STEP;
    while get("/bonus").is_none_or(|b| b == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the edit of the state crate never ran{}",
            s.context()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(get("/score").unwrap() >= after, "the score was lost");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(std::time::Duration::from_secs(20));

    let out = cargo_relive(&dir, &target, &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(first_line(&target.join("debug/host")).starts_with("SCORE 1 at"));
}
