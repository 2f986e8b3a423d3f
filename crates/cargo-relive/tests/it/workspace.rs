//! The workspace changes under a running session: it is read again when a manifest changes.

use std::time::Duration;

use super::{FIRST_BUILD, STEP, Session, edit, mkfifo, new_project, repo};

#[test]
fn a_renamed_worker_crate_is_picked_up_by_the_running_session_with_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("renamed");
    new_project(&dir);
    let target = repo().join("target/e2e-workspace");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    let (before, _) = s.frame("score ");

    // The worker package is renamed; the host keeps its dependency key through `package`.
    edit(
        &dir.join("worker/Cargo.toml"),
        "name = \"worker\"",
        "name = \"logic\"",
    );
    edit(
        &dir.join("host/Cargo.toml"),
        "worker = { path = \"../worker\", optional = true }",
        "worker = { package = \"logic\", path = \"../worker\", optional = true }",
    );
    let built = s.event("a build of the renamed worker", STEP, |e| {
        e["event"] == "build_finished" && e["crate"] == "logic"
    });
    assert_eq!(built["success"], true, "{built}");
    s.event("the host restarted", STEP, |e| e["event"] == "host_started");
    s.event("its state restored", STEP, |e| e["event"] == "restored");
    let (after, _) = s.frame("score ");
    assert!(after >= before, "state lost: {after} after {before}");
    assert!(
        target.join("relive/host/stage/liblogic.so").is_file(),
        "the renamed worker is not staged"
    );

    // And it reloads under its new name.
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"score {} at",
        "\"SCORE {} at",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    s.frame("SCORE ");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
