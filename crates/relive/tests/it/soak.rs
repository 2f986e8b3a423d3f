//! Many reloads in a row of a worker with a non-trivial state (nested collections, strings, an
//! enum, a `Box<dyn Trait>` rebuilt after each load): the state is compared before and after every
//! swap, no old image stays mapped, memory growth is reported.
//!
//! `RELIVE_SOAK_RELOADS=1000 cargo test -p relive --test it soak -- --nocapture` runs the full
//! soak; CI runs 300.

use std::path::Path;

use fixture_base::Context;
use relive::{Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, rss_kib};

/// Puts `bytes` at `path` as a new file (a new inode), the way a linker does.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn many_reloads_on_a_host_thread_carry_the_whole_state_and_leave_no_stale_mapping() {
    let reloads: u64 = std::env::var("RELIVE_SOAK_RELOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // The soak worker also keeps 64 KiB in a thread-local with a destructor and asks for
    // `std::thread::current()` every frame (std's per-thread key), and the whole session runs on a
    // host thread that exits at the end.
    let fx = Fixture::copy("soak", "soak");
    fx.edit(
        "fn update(ctx: &mut dyn Context, state: &mut State) {\n    state.frame += 1;",
        "thread_local! {\n    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };\n}\n\n\
         fn update(ctx: &mut dyn Context, state: &mut State) {\n    state.frame += 1;\n    let _ = std::thread::current().id();\n    \
         SCRATCH.with(|s| if s.borrow().is_empty() { *s.borrow_mut() = vec![7; 64 << 10] });",
    );
    fx.build().unwrap();
    std::thread::spawn(move || soak(fx, reloads))
        .join()
        .unwrap();
}

fn soak(fx: Fixture, reloads: u64) {
    let a = std::fs::read(fx.lib()).unwrap();
    fx.edit("Box::new(Tagged(\"a\"))", "Box::new(Tagged(\"b\"))");
    fx.build().unwrap();
    let b = std::fs::read(fx.lib()).unwrap();
    replace(&fx.lib(), &a);

    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    for _ in 0..40 {
        worker.update(&mut host).unwrap();
    }
    let mut frame = 40;
    let mut rss_after_warmup = 0;
    let mut failures = Vec::new();
    for i in 1..=reloads {
        let (bytes, tag) = if i % 2 == 1 { (&b, "b") } else { (&a, "a") };
        let before = worker.state_json().unwrap();
        replace(&fx.lib(), bytes);
        assert!(
            worker.wait_and_reload(BUILD_WAIT).unwrap(),
            "reload {i} not seen"
        );
        let after = worker.state_json().unwrap();
        if before != after {
            failures.push(format!("reload {i}: state differs"));
        }
        worker.update(&mut host).unwrap();
        frame += 1;
        // The boxed trait object was rebuilt by the new version's code.
        if host.last() != format!("{tag}{frame}") {
            failures.push(format!(
                "reload {i}: `{}` instead of `{tag}{frame}`",
                host.last()
            ));
        }
        if i == 10 {
            rss_after_warmup = rss_kib();
        }
    }
    let rss_end = rss_kib();
    let (mut stale, mut unloaded) = (0, 0);
    while let Ok(e) = events.recv_timeout(std::time::Duration::from_secs(5)) {
        match e {
            Event::StaleMapping { .. } => stale += 1,
            Event::Unloaded { .. } => unloaded += 1,
            _ => {}
        }
        if unloaded + stale == reloads {
            break;
        }
    }
    let per_reload = rss_end.saturating_sub(rss_after_warmup) as f64 / (reloads - 10) as f64;
    println!(
        "soak: {reloads} reloads, {} failures, {stale} stale mappings, RSS {rss_after_warmup} KiB -> {rss_end} KiB \
         ({per_reload:.2} KiB/reload)",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(stale, 0, "old images stayed mapped");
    assert_eq!(unloaded, reloads);
    // The failure this guards against (glibc pinning every version) costs ~350 KiB per reload.
    assert!(
        per_reload < 64.0,
        "RSS grows {per_reload:.1} KiB per reload"
    );
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let stem = format!("lib{}.v", fx.name);
    let images: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.find('/').map(|at| &l[at..]))
        .filter(|p| p.contains(&stem))
        .collect();
    assert_eq!(images.len(), 1, "mapped worker images: {images:#?}");
}
