//! The worker's `log` records reach the host's logger through every reload, filtered by the
//! host's level.

use std::path::Path;
use std::sync::Mutex;

use fixture_base::Context;
use relive::Worker;

use crate::support::{BUILD_WAIT, Fixture, Host, capture};

/// The tests here change the process's log level: one at a time.
static LEVEL: Mutex<()> = Mutex::new(());

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn worker_log_lines_reach_the_host_logger_through_twenty_reloads_with_levels_honoured() {
    let _one = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    let capture = capture();
    let fx = Fixture::new("logging", "logs");
    let a = std::fs::read(fx.lib()).unwrap();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let b = std::fs::read(fx.lib()).unwrap();
    replace(&fx.lib(), &a);

    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    let mut expected = Vec::new();
    let mut frame = 0;
    for i in 0..=20 {
        if i > 0 {
            replace(&fx.lib(), if i % 2 == 1 { &b } else { &a });
            assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
        }
        let tag = if i % 2 == 1 { "v2" } else { "v1" };
        for _ in 0..3 {
            worker.update(&mut host).unwrap();
            frame += 1;
            expected.push(format!("{tag} frame {frame}"));
        }
    }
    // The other tests log to the same target: their lines say "tracing" or "later".
    let got: Vec<_> = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m, _)| !m.contains("tracing") && !m.starts_with("later"))
        .cloned()
        .collect();
    let messages: Vec<&str> = got.iter().map(|(_, m, _)| m.as_str()).collect();
    assert_eq!(
        messages, expected,
        "lines lost or out of order across reloads"
    );
    assert!(
        got.iter().all(|(level, _, _)| *level == log::Level::Info),
        "a debug line got through"
    );
    assert!(
        got.iter()
            .all(|(_, _, file)| file.as_deref().is_some_and(|f| f.ends_with("src/lib.rs")))
    );
}

#[test]
fn worker_tracing_events_reach_the_host_logger_across_a_reload() {
    let _one = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    let capture = capture();
    let fx = Fixture::copy("logging", "tracing");
    fx.knob("TRACING");
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2");

    let got = capture.0.lock().unwrap().clone();
    let tracing: Vec<&str> = got
        .iter()
        .map(|(_, m, _)| m.as_str())
        .filter(|m| m.contains("tracing"))
        .collect();
    assert_eq!(tracing, ["v1 tracing frame=1", "v2 tracing frame=2"]);
}

#[test]
fn the_host_level_as_it_is_now_applies_to_a_version_loaded_before_it_changed() {
    let _one = LEVEL.lock().unwrap_or_else(|e| e.into_inner());
    let capture = capture();
    // As if no logger were installed yet when the worker loads: nothing is wanted.
    log::set_max_level(log::LevelFilter::Off);
    let fx = Fixture::copy("logging", "later");
    fx.edit("let tag = \"v1\";", "let tag = \"later\";");
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    // The host turns logging on: version 1 (never reloaded) is heard from its next record.
    log::set_max_level(log::LevelFilter::Info);
    worker.update(&mut host).unwrap();
    let got: Vec<String> = capture
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m, _)| m.clone())
        .filter(|m| m.starts_with("later"))
        .collect();
    assert_eq!(got, ["later frame 2"], "the level at load was kept");
}
