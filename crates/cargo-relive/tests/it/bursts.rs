//! Editors save several files, or one file twice, within milliseconds: a build that saw the
//! sources half saved is discarded and done again, never reported as a failure, and each burst
//! becomes one new version.

use std::time::Duration;

use serde_json::Value;

use super::{FIRST_BUILD, STEP, Session, edit, mkfifo, new_project, test_target, until_reload};

fn failures(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| {
            (e["event"] == "build_finished" && e["success"] == false)
                || e["event"] == "reload_failed"
        })
        .collect()
}

#[test]
fn a_burst_of_saves_during_a_build_gives_one_version_and_no_false_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bursts");
    new_project(&dir);
    let lib = dir.join("worker/src/lib.rs");
    let target = test_target("e2e-bursts");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    s.frame("score ");

    // A save-all of two files 30 ms apart: the first alone does not compile (its module is not
    // written yet), and the build it starts is still running when the second lands.
    edit(
        &lib,
        "use base::Context;",
        "mod bonus;\n\nuse base::Context;",
    );
    edit(&lib, "state.score += 1;", "state.score += bonus::POINTS;");
    // The new code's lines say so (lines the old code printed during the build may be queued).
    edit(&lib, "\"score {} at", "\"bonus {} at");
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(
        dir.join("worker/src/bonus.rs"),
        "pub const POINTS: u64 = 10;\n",
    )
    .unwrap();
    let seen = until_reload(&mut s);
    assert!(failures(&seen).is_empty(), "a false failure: {seen:?}");
    assert_eq!(seen.last().unwrap()["version"], 2, "{seen:?}");
    let (a, _) = s.frame("bonus ");
    let (b, _) = s.frame("bonus ");
    assert_eq!(b, a + 10, "the new code does not run");

    // A save caught between the truncate and the write: an empty crate is never built into a
    // version.
    let text = std::fs::read_to_string(&lib)
        .unwrap()
        .replacen("\"bonus {} at", "\"SCORE {} at", 1);
    std::fs::File::create(&lib).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(&lib, text).unwrap();
    let seen = until_reload(&mut s);
    assert!(failures(&seen).is_empty(), "a false failure: {seen:?}");
    assert_eq!(
        seen.last().unwrap()["version"],
        3,
        "one version per burst: {seen:?}"
    );
    s.frame("SCORE ");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
