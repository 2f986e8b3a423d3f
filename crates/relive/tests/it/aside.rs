//! Snapshots taken aside: a copy of the process encodes the state as it was at the call, while
//! the game's frames go on; a panic there is reported and leaves the game as it was; a read
//! given up leaves no process behind.

use std::collections::BTreeSet;

use fixture_base::Context;
use relive::{Error, Worker};

use crate::support::{Fixture, Host};

/// The processes this thread made that still exist (running or not yet reaped).
fn children() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/thread-self/children")
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_snapshot_taken_aside_is_the_state_at_the_call_while_the_game_goes_on() {
    let fx = Fixture::new("plain", "aside");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 5,
        ..Host::default()
    };
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
    }
    let at_call = worker.snapshot().unwrap();
    assert_eq!(
        worker.last_encode().map(|(bytes, _)| bytes),
        Some(at_call.bytes.len())
    );
    let before = children();
    let aside = worker.snapshot_aside().unwrap();
    // The game plays on while the copy encodes.
    for _ in 0..4 {
        worker.update(&mut host).unwrap();
    }
    assert_eq!(host.last(), "v1 counter=7 label= inputs=7");
    let taken = std::thread::spawn(move || aside.wait())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(taken, at_call, "not the state at the call");
    assert_ne!(worker.snapshot().unwrap().bytes, taken.bytes);
    assert_eq!(children(), before, "the copy was not reaped");
    // It is a snapshot like any other: the game goes back to it.
    worker.restore(&taken).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=4 label= inputs=4");
}

/// `fixtures/plain` with `knob` on (its `save` fails so), after one frame: what a snapshot
/// aside of its state gives back; checks that the game then goes on with its state.
fn failed_aside(test: &str, knob: &str) -> Error {
    let fx = Fixture::copy("plain", test);
    fx.knob(knob);
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let err = worker.snapshot_aside().unwrap().wait().unwrap_err();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=2", "after: {err}");
    err
}

#[test]
fn a_panic_while_encoding_aside_is_reported_and_the_game_goes_on() {
    match failed_aside("aside_panic", "PANIC_IN_SAVE") {
        Error::Panicked {
            function, message, ..
        } => {
            assert_eq!(function, "save");
            assert_eq!(message, "panic in save");
        }
        other => panic!("not a panic: {other:?}"),
    }
}

#[test]
fn a_crash_while_encoding_aside_says_how_the_copy_ended_and_the_game_goes_on() {
    let err = failed_aside("aside_abort", "ABORT_IN_SAVE");
    assert!(matches!(err, Error::ReadAside { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("was killed by signal 6 before it answered")
            && text.contains("crashed there; the game is untouched"),
        "{text}"
    );
}

#[test]
fn a_read_aside_given_up_leaves_no_process_behind() {
    let fx = Fixture::new("big", "aside_drop");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 1_000_000,
        ..Host::default()
    };
    worker.update(&mut host).unwrap();
    let before = children();
    let aside = worker.snapshot_aside().unwrap();
    assert_eq!(children().len(), before.len() + 1, "no copy was made");
    drop(aside);
    assert_eq!(children(), before, "the copy is still there");
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "a");
}

/// In a process of its own (this test binary, run again for this one test, supervised by its
/// environment: a recovery snapshot every 50 ms), a state too large to encode in a frame: its
/// recovery snapshots are read aside, and each lands on disk.
#[test]
fn recovery_snapshots_of_a_large_state_are_read_aside_and_reach_the_disk() {
    const CHILD: &str = "RELIVE_TEST_ASIDE_RECOVERY_CHILD";
    let test = "aside::recovery_snapshots_of_a_large_state_are_read_aside_and_reach_the_disk";
    if let Some(path) = std::env::var_os(CHILD) {
        let path = std::path::PathBuf::from(path);
        let fx = Fixture::new("big", "aside_recovery");
        let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
        let mut host = Host {
            input: 1_000_000,
            ..Host::default()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        // The first recovery snapshot is encoded in the frame: nothing was measured yet.
        while size() < 1_000_000 {
            assert!(std::time::Instant::now() < deadline, "no recovery snapshot");
            worker.update(&mut host).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(worker.encode_is_slow(), "{:?}", worker.last_encode());
        let measured = worker.last_encode();
        // The state changes; the next snapshots, read aside, carry it to the disk.
        host.input = 10;
        while size() > 1_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the change never reached the disk"
            );
            worker.update(&mut host).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            worker.last_encode(),
            measured,
            "a recovery snapshot was encoded on the game's thread"
        );
        worker.load_snapshot(&path).unwrap();
        let data = &worker.state_json().unwrap()["data"];
        assert_eq!(data.as_array().map(Vec::len), Some(10), "{data}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("recovery.snap");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, &snapshot)
        .env(relive::supervise::SNAPSHOT_ENV, &snapshot)
        .env(relive::supervise::SNAPSHOT_INTERVAL_ENV, "50")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}
