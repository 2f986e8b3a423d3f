//! After a slow rebuild, the session says what in the worker makes it slow, when it is something
//! a user can change: many serde derives, one very large module. Once, and only what applies.
//! (The threshold is lowered so that a small worker's rebuild counts as slow.) Without the wild
//! linker on `PATH`, it says once per target directory that wild would link faster.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{
    FIRST_BUILD, STEP, Session, edit, mkfifo, new_project, repo, test_target, until_reload,
    wild_status_with_path,
};

fn advice(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event"] == "slow_build")
        .collect()
}

const WILD_HINT: &str = "with the wild linker on PATH";

/// `PATH` without `wild`: each directory that holds it is replaced by a directory (under `tmp`)
/// of links to everything else in it.
fn path_without_wild(tmp: &Path) -> String {
    let dirs = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .enumerate()
        .map(|(i, dir)| {
            if !dir.join("wild").is_file() {
                return dir;
            }
            let copy = tmp.join(format!("path-{i}"));
            std::fs::create_dir_all(&copy).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                if entry.file_name() != "wild" {
                    std::os::unix::fs::symlink(entry.path(), copy.join(entry.file_name())).unwrap();
                }
            }
            copy
        })
        .collect::<Vec<_>>();
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

#[test]
fn the_session_names_what_slows_a_rebuild_once_and_suggests_a_missing_wild_once_per_target() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("advice");
    new_project(&dir);
    let lib = dir.join("worker/src/lib.rs");
    // A target of its own: relive keeps a session's files (and its lock) in the target dir, so
    // two tests' sessions of the same host name cannot share one.
    let target = test_target("e2e-advice");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let _ = std::fs::remove_file(target.join("relive/link/wild-suggested"));
    let path = path_without_wild(tmp.path());
    // Suggested when wild could be used: rustc takes its flag, and it is not turned off.
    let (_, suggested) = wild_status_with_path(&path);
    let env = [("RELIVE_SLOW_BUILD_MS", "0"), ("PATH", path.as_str())];
    let mut s = Session::start_with_env(&dir, &target, &events, &[], &env);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");

    // The template's worker: one derive, 30 lines. Two slow rebuilds (every rebuild is slow
    // here), nothing to say about it.
    edit(&lib, "\"score {} at", "\"SCORE {} at");
    let seen = until_reload(&mut s);
    assert!(advice(&seen).is_empty(), "{seen:?}");
    edit(&lib, "\"SCORE {} at", "\"Score {} at");
    let seen = until_reload(&mut s);
    assert!(
        advice(&seen).is_empty(),
        "advice for the template: {seen:?}"
    );
    // The first replayed build linked without wild, and said how to get it.
    assert_eq!(
        s.said().matches(WILD_HINT).count(),
        usize::from(suggested),
        "{}",
        s.context()
    );

    // 40 record types deriving serde's traits in a module of their own, and 4,100 lines of
    // code in lib.rs.
    let records: String = (0..40)
        .map(|i| {
            format!(
                "#[derive(Default, serde::Serialize, serde::Deserialize)]\npub struct R{i} {{\n    pub v: u32,\n}}\n\n"
            )
        })
        .collect();
    std::fs::write(dir.join("worker/src/records.rs"), records).unwrap();
    let table: String = (0..4100)
        .map(|i| format!("pub const C{i}: u32 = {i};\n"))
        .collect();
    let text = std::fs::read_to_string(&lib)
        .unwrap()
        .replacen(
            "use base::Context;",
            "pub mod records;\n\nuse base::Context;",
            1,
        )
        .replacen("\"Score {} at", "\"RECORDS {} at", 1);
    std::fs::write(&lib, format!("{text}\n{table}")).unwrap();
    let seen = until_reload(&mut s);
    let said = advice(&seen);
    assert_eq!(said.len(), 1, "{seen:?}");
    let said = said[0];
    assert_eq!(said["serde_types"], 41, "{said}"); // the records and the template's `State`
    assert_eq!(
        said["serde_files"],
        serde_json::json!([
            { "file": "worker/src/records.rs", "types": 40 },
            { "file": "worker/src/lib.rs", "types": 1 }
        ]),
        "{said}"
    );
    assert_eq!(said["large_module"]["file"], "worker/src/lib.rs", "{said}");
    assert!(
        said["large_module"]["lines"].as_u64().unwrap() > 4100,
        "{said}"
    );
    // A heading, one line per finding, where to read more.
    assert_eq!(said["advice"].as_array().unwrap().len(), 4, "{said}");
    assert_eq!(said["build_ms"].as_array().unwrap().len(), 2, "{said}");
    // The terminal shows it, with where to read more.
    let deadline = Instant::now() + STEP;
    while !s.said().contains(
        "- 41 types derive serde's traits (40 in `worker/src/records.rs`, 1 in \
         `worker/src/lib.rs`), and",
    ) || !s.said().contains("- `worker/src/lib.rs` is one module of")
    {
        assert!(Instant::now() < deadline, "no advice shown{}", s.context());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        s.said().contains(&format!(
            "\"Keeping reloads fast as the worker grows\" in {}",
            repo().join("docs/guide/src/fast-reloads.md").display()
        )),
        "{}",
        s.context()
    );
    s.frame("RECORDS ");

    // Said once: the next slow rebuild says nothing more.
    edit(&lib, "\"RECORDS {} at", "\"AGAIN {} at");
    let seen = until_reload(&mut s);
    assert!(advice(&seen).is_empty(), "said twice: {seen:?}");
    s.frame("AGAIN ");
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));

    // The next session in this target directory says neither: the wild hint was for the target
    // directory, and one slow rebuild is no pattern (the one that added the code, say).
    let mut s = Session::start_with_env(&dir, &target, &events, &[], &env);
    s.event("loaded", FIRST_BUILD, |e| e["event"] == "loaded");
    edit(&lib, "\"AGAIN {} at", "\"THIRD {} at");
    let seen = until_reload(&mut s);
    assert!(advice(&seen).is_empty(), "{seen:?}");
    s.frame("THIRD ");
    assert!(!s.said().contains(WILD_HINT), "{}", s.context());
    // SAFETY: as above.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
