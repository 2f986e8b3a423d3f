//! A panic in any worker entry point is an error for the host, which keeps running with a usable
//! state.

use fixture_base::Context;
use relive::{Error, Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, wait_for};

fn panicked(err: &Error) -> (&str, &str, &str) {
    match err {
        Error::Panicked {
            function,
            message,
            location,
            ..
        } => (
            function.as_str(),
            message.as_str(),
            location.as_deref().unwrap_or(""),
        ),
        other => panic!("expected a panic error, got {other}"),
    }
}

#[test]
fn panic_in_a_function_is_an_error_with_message_and_location_and_the_state_stays_usable() {
    let fx = Fixture::new("plain", "panic_fn");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let boom = worker.func("boom").unwrap();
    let err = worker.call(boom, &mut host).unwrap_err();
    let (function, message, location) = panicked(&err);
    assert_eq!(function, "boom");
    assert_eq!(message, "boom at counter 1001");
    assert!(location.contains("src/lib.rs:"), "location: {location}");
    assert!(err.to_string().contains("boom at counter 1001"));
    wait_for(&events, "panicked", |e| {
        matches!(e, Event::Panicked { function, .. } if function == "boom").then_some(())
    });
    // The state keeps what the function did before panicking and goes on.
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=1002 label= inputs=2");

    // The next successful build continues from it.
    fx.edit("let tag = \"v1\";", "let tag = \"fixed\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "fixed counter=1003 label= inputs=3");
}

#[test]
fn panic_in_update_is_an_error_until_the_fixed_build_arrives() {
    let fx = Fixture::new("plain", "panic_update");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();

    fx.edit(
        "state.counter += STEP;",
        "state.counter += STEP; if state.counter > 1 { panic!(\"bad frame\") }",
    );
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    for _ in 0..3 {
        let err = worker.update(&mut host).unwrap_err();
        assert_eq!(panicked(&err).1, "bad frame");
    }
    fx.edit("if state.counter > 1 { panic!(\"bad frame\") }", "");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    // Each panicking frame had incremented the counter before it panicked.
    assert_eq!(host.last(), "v1 counter=5 label= inputs=2");
}

#[test]
fn panic_in_create_fails_the_first_load_with_the_message() {
    let fx = Fixture::copy("plain", "panic_create");
    fx.knob("PANIC_IN_CREATE");
    fx.build().unwrap();
    let err = Worker::<dyn Context>::open(fx.lib())
        .err()
        .expect("a panicking create must fail");
    let (function, message, _) = panicked(&err);
    assert_eq!((function, message), ("create", "panic in create"));
}

#[test]
fn panic_in_save_keeps_the_old_version_running() {
    let fx = Fixture::copy("plain", "panic_save");
    fx.knob("PANIC_IN_SAVE");
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();

    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let err = worker.wait_and_reload(BUILD_WAIT).unwrap_err();
    assert_eq!(panicked(&err), ("save", "panic in save", panicked(&err).2));
    wait_for(&events, "reload failed", |e| {
        matches!(e, Event::ReloadFailed { running: 1, reason, .. } if reason.contains("panic in save")).then_some(())
    });
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=2");
    assert_eq!(worker.version(), 1);
}

#[test]
fn panic_in_load_keeps_the_old_version_running_with_its_state() {
    let fx = Fixture::new("plain", "panic_load");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();

    fx.knob("PANIC_IN_LOAD");
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let err = worker.wait_and_reload(BUILD_WAIT).unwrap_err();
    assert_eq!(panicked(&err).0, "load");
    assert_eq!(panicked(&err).1, "panic in load");
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=2");
}

#[test]
fn panic_in_the_old_state_drop_is_reported_and_the_swap_completes() {
    let fx = Fixture::copy("plain", "panic_drop");
    fx.knob("PANIC_IN_DROP");
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();

    fx.edit(
        "const PANIC_IN_DROP: bool = true;",
        "const PANIC_IN_DROP: bool = false;",
    );
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    wait_for(&events, "drop panic", |e| {
        matches!(e, Event::Panicked { function, version: 1, message, .. } if function == "drop" && message == "panic in drop")
            .then_some(())
    });
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2 counter=2 label= inputs=2");
}
