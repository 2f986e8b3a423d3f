//! Threads a worker starts run the worker's code: a reload must neither pull that code from under
//! them nor leave it behind for nothing.

use fixture_base::Context;
use relive::{Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, is_mapped, wait_for};

/// Loads the `threads` fixture (with `DETACH` set if `detach`), starts its thread, reloads an
/// edited build and returns the worker, its events and the first version's copy.
fn reload_with_a_running_thread(
    detach: bool,
) -> (
    Fixture,
    Worker<dyn Context>,
    std::sync::mpsc::Receiver<Event>,
    std::path::PathBuf,
) {
    let fx = Fixture::copy("threads", if detach { "detach" } else { "join" });
    if detach {
        fx.knob("DETACH");
    }
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(host.last(), "v1 frames=3 running=true");
    let first = worker.library_path().to_owned();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    for _ in 0..2 {
        worker.update(&mut host).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The new version started its own thread (the state's handle was not carried).
    assert_eq!(host.last(), "v2 frames=5 running=true");
    (fx, worker, events, first)
}

#[test]
fn a_thread_joined_in_the_states_drop_lets_the_old_image_go() {
    let (_fx, _worker, events, first) = reload_with_a_running_thread(false);
    wait_for(&events, "unloaded", |e| match e {
        Event::Unloaded { version: 1 } => Some(()),
        Event::StaleMapping { version: 1, .. } => panic!("version 1 stayed mapped"),
        _ => None,
    });
    assert!(!is_mapped(&first));
}

#[test]
fn a_thread_still_running_keeps_the_old_image_mapped_instead_of_crashing() {
    let (_fx, mut worker, events, first) = reload_with_a_running_thread(true);
    wait_for(&events, "stale mapping", |e| match e {
        Event::StaleMapping { version: 1, .. } => Some(()),
        Event::Unloaded { version: 1 } => panic!("version 1 was unmapped under its thread"),
        _ => None,
    });
    // The detached thread keeps running version 1's code, which is still there.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(is_mapped(&first));
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2 frames=6 running=true");
}
