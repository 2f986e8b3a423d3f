//! What a worker leaves in the host's threads: a thread-local value of the worker on the frame
//! thread, and std's per-thread key that `std::thread::current()` (channels, `park`) creates in
//! the worker's own copy of std.

use std::time::Duration;

use fixture_base::Context;
use relive::Worker;

use crate::support::{BUILD_WAIT, Fixture, Host, rss_kib};

/// Runs this test binary again for test `name` alone, with `child` set; its exit must be clean.
fn in_own_process(name: &str, child: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(child, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the process ended with {:?}:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tls fixture, made to also ask for `std::thread::current()` and use a channel each frame.
fn current_thread_worker(test: &str) -> Fixture {
    let fx = Fixture::copy("tls", test);
    fx.edit(
        "    let tag = \"tls1\"; // EDIT: tag",
        "    let _ = std::thread::current().id();\n    let (tx, rx) = std::sync::mpsc::channel();\n    tx.send(1u8).unwrap();\n    let _ = rx.recv();\n    let tag = \"tls1\"; // EDIT: tag",
    );
    fx.build().unwrap();
    fx
}

#[test]
fn a_host_thread_that_called_the_worker_exits_cleanly_after_its_version_was_closed() {
    const CHILD: &str = "RELIVE_TEST_HOST_THREAD_CHILD";
    if std::env::var_os(CHILD).is_none() {
        return in_own_process(
            "host_threads::a_host_thread_that_called_the_worker_exits_cleanly_after_its_version_was_closed",
            CHILD,
        );
    }
    let fx = current_thread_worker("hostthread");
    let lib = fx.lib();
    // The game loop on a thread of its own, as some hosts run it.
    let game = std::thread::spawn(move || {
        let mut worker = Worker::<dyn Context>::open(&lib).unwrap();
        let mut host = Host::default();
        worker.update(&mut host).unwrap();
        fx.edit("let tag = \"tls1\";", "let tag = \"tls2\";");
        fx.build().unwrap();
        assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
        worker.update(&mut host).unwrap();
        assert!(host.last().starts_with("tls2 "), "{}", host.last());
        // Version 1 is closed; now version 2 goes too, before the thread ends.
        drop(worker);
    });
    // The thread's exit runs whatever glibc holds for it: nothing may point into closed code.
    game.join().unwrap();
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn a_thread_local_buffer_of_the_worker_is_freed_at_each_reload() {
    const CHILD: &str = "RELIVE_TEST_TLS_BUFFER_CHILD";
    if std::env::var_os(CHILD).is_none() {
        return in_own_process(
            "host_threads::a_thread_local_buffer_of_the_worker_is_freed_at_each_reload",
            CHILD,
        );
    }
    // 1 MiB in a thread-local of the worker, touched every frame.
    let fx = Fixture::copy("tls", "tlsbuffer");
    fx.edit(
        "        s.borrow_mut().0.push(state.frames);",
        "        if s.borrow().0.is_empty() {\n            s.borrow_mut().0 = vec![1; 1 << 17];\n        }\n        s.borrow_mut().0.push(state.frames);",
    );
    fx.build().unwrap();
    let a = std::fs::read(fx.lib()).unwrap();
    fx.edit("let tag = \"tls1\";", "let tag = \"tls2\";");
    fx.build().unwrap();
    let b = std::fs::read(fx.lib()).unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let reload = |worker: &mut Worker<dyn Context>, host: &mut Host, bytes: &[u8]| {
        let tmp = fx.lib().with_extension("tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, fx.lib()).unwrap();
        assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
        worker.update(host).unwrap();
    };
    for i in 0..10 {
        reload(&mut worker, &mut host, if i % 2 == 0 { &a } else { &b });
    }
    let before = rss_kib();
    const RELOADS: u64 = 60;
    for i in 0..RELOADS {
        reload(&mut worker, &mut host, if i % 2 == 0 { &a } else { &b });
    }
    let grown = rss_kib().saturating_sub(before);
    // Leaking the buffer would grow the process by 1 MiB per reload.
    assert!(
        grown < RELOADS * 1024 / 4,
        "the process grew by {grown} KiB over {RELOADS} reloads"
    );
}
