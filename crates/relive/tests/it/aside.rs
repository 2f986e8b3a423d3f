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

#[test]
fn a_panic_while_encoding_aside_is_reported_and_the_game_goes_on() {
    let fx = Fixture::copy("plain", "aside_panic");
    fx.knob("PANIC_IN_SAVE");
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let err = worker.snapshot_aside().unwrap().wait().unwrap_err();
    match &err {
        Error::Panicked {
            function, message, ..
        } => {
            assert_eq!(function, "save");
            assert_eq!(message, "panic in save");
        }
        other => panic!("not a panic: {other:?}"),
    }
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=2");
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
