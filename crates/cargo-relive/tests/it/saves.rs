//! Every way editors save, with nothing changed, builds nothing and says "saved without changes";
//! the same ways with a change build once. Write in place (VS Code, most editors), write a
//! temporary file and rename it over (`sed -i`, gedit, Kate), vim's default (a probe file, the
//! original renamed to a backup, a new file written, the backup deleted), JetBrains' safe write
//! (a temporary, the original renamed away, the temporary renamed in), delete then create, and a
//! save-all of several files.

use std::path::Path;

use serde_json::Value;

use super::{FIRST_BUILD, STEP, Session, mkfifo, new_project, test_target};

/// How an editor writes `text` to `path`.
type Save = fn(&Path, &str);

fn in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_file_name("sedAb12Cd");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn vim(path: &Path, text: &str) {
    let dir = path.parent().unwrap();
    // vim checks that it may create files in the directory.
    std::fs::write(dir.join("4913"), "").unwrap();
    std::fs::remove_file(dir.join("4913")).unwrap();
    let backup = path.with_file_name("lib.rs~");
    std::fs::rename(path, &backup).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::remove_file(&backup).unwrap();
}

fn jetbrains(path: &Path, text: &str) {
    let tmp = path.with_file_name("lib.rs___jb_tmp___");
    let old = path.with_file_name("lib.rs___jb_old___");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(path, &old).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::remove_file(&old).unwrap();
}

fn delete_then_create(path: &Path, text: &str) {
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, text).unwrap();
}

const STYLES: [(&str, Save); 5] = [
    ("written in place", in_place),
    ("renamed over (sed -i)", rename_over),
    ("vim's default", vim),
    ("JetBrains' safe write", jetbrains),
    ("deleted, then created", delete_then_create),
];

/// The session's events until `pick` matches one, which ends the list.
fn until(s: &mut Session, what: &str, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let e = s.event(what, STEP, |_| true);
        let done = pick(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn builds(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["event"] == "build_started")
        .count()
}

#[test]
fn every_way_editors_save_builds_nothing_without_a_change_and_once_with_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("saves");
    new_project(&dir);
    let lib = dir.join("worker/src/lib.rs");
    let extra = dir.join("worker/src/extra.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let text = format!("{text}\npub mod extra;\n");
    std::fs::write(&lib, &text).unwrap();
    std::fs::write(&extra, "pub const STEP: u64 = 1;\n").unwrap();
    let target = test_target("e2e-saves");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("loaded", FIRST_BUILD, |e| e["event"] == "loaded");

    for (style, save) in STYLES {
        save(&lib, &text);
        let seen = until(&mut s, &format!("the skip of a save {style}"), |e| {
            e["event"] == "build_skipped" || e["event"] == "reloaded"
        });
        let last = seen.last().unwrap();
        assert_eq!(last["event"], "build_skipped", "saved {style}: {seen:?}");
        assert_eq!(
            last["why"], "saved without changes",
            "saved {style}: {last}"
        );
        assert_eq!(
            last["files"],
            serde_json::json!(["`worker/src/lib.rs`"]),
            "saved {style}"
        );
        assert_eq!(
            builds(&seen),
            0,
            "saved {style} without a change, it built: {seen:?}"
        );
    }

    // A save-all: both files written again, as they were.
    let extra_text = std::fs::read_to_string(&extra).unwrap();
    in_place(&lib, &text);
    in_place(&extra, &extra_text);
    let seen = until(&mut s, "the skip of a save-all", |e| {
        e["event"] == "build_skipped" || e["event"] == "reloaded"
    });
    let last = seen.last().unwrap();
    assert_eq!(last["event"], "build_skipped", "a save-all: {seen:?}");
    let files = last["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{last}");
    assert_eq!(
        builds(&seen),
        0,
        "a save-all without a change built: {seen:?}"
    );

    // The same ways with a change: one build and one reload each.
    let mut version = 1;
    for (i, (style, save)) in STYLES.into_iter().enumerate() {
        let changed = format!("{text}\n// edit {i}\n");
        save(&lib, &changed);
        let seen = until(
            &mut s,
            &format!("the reload of a change saved {style}"),
            |e| e["event"] == "reloaded" || e["event"] == "build_skipped",
        );
        let last = seen.last().unwrap();
        assert_eq!(
            last["event"], "reloaded",
            "a change saved {style}: {seen:?}"
        );
        version += 1;
        assert_eq!(last["version"], version, "a change saved {style}: {seen:?}");
        let failed = seen
            .iter()
            .filter(|e| e["event"] == "build_finished" && e["success"] == false)
            .count();
        assert_eq!(failed, 0, "a change saved {style} failed a build: {seen:?}");
        assert_eq!(
            seen.iter()
                .filter(|e| e["event"] == "build_discarded")
                .count(),
            0,
            "a change saved {style} was built twice: {seen:?}"
        );
        assert_eq!(builds(&seen), 1, "a change saved {style}: {seen:?}");
    }
}
