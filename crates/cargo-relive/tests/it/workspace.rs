//! The workspace changes under a running session: it is read again when a manifest changes.

use std::time::Duration;

use super::{FIRST_BUILD, STEP, Session, edit, mkfifo, new_project, test_target};

#[test]
fn a_renamed_worker_is_picked_up_and_a_worker_edit_waits_while_the_host_is_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("renamed");
    new_project(&dir);
    let target = test_target("e2e-workspace");
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

    // The interface changes while the host does not compile: a worker edit then waits for the
    // host (it would be built against an interface the running host lacks), and is never
    // refused with advice to restart a host that cannot be built.
    edit(
        &dir.join("host/src/main.rs"),
        "let frame =",
        "let broken: u32 = \"x\";\n    let frame =",
    );
    edit(
        &dir.join("base/src/lib.rs"),
        "    fn time(&self) -> f64;",
        "    fn time(&self) -> f64;\n    fn extra(&self) -> u32 {\n        0\n    }",
    );
    s.event("the host's failed build", STEP, |e| {
        e["event"] == "build_finished" && e["crate"] == "host" && e["success"] == false
    });
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"SCORE {} at",
        "\"Score {} at",
    );
    let again = s.event("the host built again for the worker's edit", STEP, |e| {
        e["event"] == "build_finished" && e["crate"] == "host" || e["event"] == "reload_failed"
    });
    assert_eq!(again["success"], false, "{again}");
    edit(
        &dir.join("host/src/main.rs"),
        "let broken: u32 = \"x\";\n    ",
        "",
    );
    s.event("the fixed host starts", STEP, |e| {
        e["event"] == "host_started"
    });
    s.event("with its state", STEP, |e| e["event"] == "restored");
    s.frame("Score ");
    assert!(
        !s.context().contains("\"reload_failed\""),
        "a reload was refused{}",
        s.context()
    );
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
