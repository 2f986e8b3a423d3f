//! relive against hot-lib-reloader, in the same run: `cargo bench -p relive-bench-peers`.
//!
//! Per call: the smallest worker (one add) called through relive's hot path, through relive's
//! static mode, and the way hot-lib-reloader's generated functions call (a read lock on the
//! reloader, a symbol lookup, the call), all into release builds.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../../crates/relive/tests/it/support.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use fixture_base::Context;
use hot_lib_reloader::LibReloader;
use relive::Worker;
use support::{Fixture, Host};

const CALLS: u32 = 20_000_000;
const ROUNDS: usize = 5;

fn per_call(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

/// Resident set size of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Distinct mapped files whose path contains `needle`.
fn mapped(needle: &str) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let files: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.find('/').map(|at| &l[at..]))
        .filter(|p| p.contains(needle))
        .collect();
    files.len()
}

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Two builds of a fixture that differ in one line, as bytes.
fn two_builds(fixture: &str, from: &str, to: &str) -> (Fixture, Vec<u8>, Vec<u8>) {
    let fx = Fixture::new(fixture, "peers_mem");
    let a = std::fs::read(fx.lib()).unwrap();
    fx.edit(from, to);
    fx.build().unwrap();
    let b = std::fs::read(fx.lib()).unwrap();
    replace(&fx.lib(), &a);
    (fx, a, b)
}

/// Reloads a worker with a thread-local destructor `reloads` times with relive; returns KiB of RSS
/// per reload and the worker images still mapped.
fn memory_relive(reloads: u32) -> (f64, usize) {
    let (fx, a, b) = two_builds("tls", "let tag = \"tls1\";", "let tag = \"tls2\";");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let mut start = 0;
    for i in 0..reloads {
        replace(&fx.lib(), if i % 2 == 0 { &b } else { &a });
        assert!(worker.wait_and_reload(support::BUILD_WAIT).unwrap());
        worker.update(&mut host).unwrap();
        if i == 10 {
            start = rss_kib();
        }
    }
    let per = rss_kib().saturating_sub(start) as f64 / f64::from(reloads - 10);
    (per, mapped(&format!("lib{}.v", fx.name)))
}

/// The same with hot-lib-reloader's `LibReloader`.
fn memory_hot_lib_reloader(reloads: u32) -> (f64, usize) {
    let (fx, a, b) = two_builds("hlr_tls", "let tag = 1;", "let tag = 2;");
    let lib = fx.lib();
    let mut reloader = LibReloader::new(
        lib.parent().unwrap(),
        &fx.name,
        Some(Duration::from_millis(5)),
        None,
    )
    .unwrap();
    let mut n = 0u64;
    let mut start = 0;
    for i in 0..reloads {
        let bytes = if i % 2 == 0 { &b } else { &a };
        replace(&lib, bytes);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut rewritten = Instant::now();
        // LibReloader is driven by polling `update`, as its generated code does. Its watcher
        // starts on a thread of its own and can miss a change made right after it was created:
        // the file is written again after a second without a reload.
        while !reloader.update().unwrap() {
            assert!(
                Instant::now() < deadline,
                "hot-lib-reloader missed reload {i}"
            );
            if rewritten.elapsed() > Duration::from_secs(1) {
                replace(&lib, bytes);
                rewritten = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: `step` has this signature in fixtures/hlr_tls.
        let step = unsafe { reloader.get_symbol::<fn(&mut u64, u64)>(b"step\0") }.unwrap();
        step(&mut n, 1);
        if i == 10 {
            start = rss_kib();
        }
    }
    let per = rss_kib().saturating_sub(start) as f64 / f64::from(reloads - 10);
    (per, mapped(&format!("lib{}-hot-", fx.name)))
}

/// Edit to effect with hot-lib-reloader's loop: edit, `cargo build` (what cargo-watch runs), its
/// watcher (with the `hot_module` default debounce of 500 ms, and with 50 ms), `update` at the next
/// 60 fps frame, first call into the new code. Returns (bare build ms, edit-to-effect ms) medians.
fn edit_to_effect_hot_lib_reloader(debounce_ms: u64, samples: u32) -> (f64, f64) {
    let fx = Fixture::new("hlr_tiny", &format!("peers_e2e_{debounce_ms}"));
    let lib = fx.lib();
    let mut reloader = LibReloader::new(
        lib.parent().unwrap(),
        &fx.name,
        Some(Duration::from_millis(debounce_ms)),
        None,
    )
    .unwrap();
    let mut current = 0;
    let (mut builds, mut effects) = (Vec::new(), Vec::new());
    for i in 1..=samples {
        fx.edit(
            &format!("    {current} // EDIT: version"),
            &format!("    {i} // EDIT: version"),
        );
        current = i;
        let start = Instant::now();
        fx.build().unwrap();
        builds.push(start.elapsed().as_secs_f64() * 1000.0);
        let deadline = start + Duration::from_secs(30);
        loop {
            reloader.update().unwrap();
            // SAFETY: `version` has this signature in fixtures/hlr_tiny.
            let version = unsafe { reloader.get_symbol::<fn() -> u32>(b"version\0") }.unwrap();
            if version() == i {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "hot-lib-reloader never loaded build {i}"
            );
            std::thread::sleep(Duration::from_secs(1) / 60);
        }
        effects.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    (median(builds), median(effects))
}

/// Reload pauses on the frame thread, seed-style (mtime poll, save JSON in the old library, close
/// it, copy the new file to a fresh path, open it, load JSON) against relive's swap, for a state of
/// `n` numbers, both debug builds. Returns (relive, seed-style) medians.
fn pause_seed_style_vs_relive(n: usize, reloads: usize) -> (Duration, Duration) {
    // The fixture's functions take and return `Box<State>` / `&State`: thin pointers, so the host
    // holds the state as an opaque pointer it never dereferences.
    type Ptr = *mut u8;
    let seed = Fixture::new("seed_style", "peers");
    let dir = tempfile::tempdir_in(seed.lib().parent().unwrap()).unwrap();
    let mut seed_pauses = Vec::new();
    let open = |i: usize| {
        let copy = dir.path().join(format!("v{i}.so"));
        std::fs::copy(seed.lib(), &copy).unwrap();
        // SAFETY: a fixture library of this benchmark.
        unsafe { libloading::Library::new(&copy) }.unwrap()
    };
    let mut lib = open(0);
    // Below, the symbols have these signatures in fixtures/seed_style, up to a `Box<State>` or
    // `&State` being passed as the pointer it is.
    // SAFETY: as said above.
    let mut state: Ptr = unsafe { lib.get::<fn() -> Ptr>(b"seed_create\0").unwrap()() };
    // SAFETY: as above.
    unsafe { lib.get::<fn(Ptr, usize)>(b"seed_grow\0").unwrap()(state, n) };
    for i in 1..=reloads {
        let t = Instant::now();
        let _ = std::fs::metadata(seed.lib()).and_then(|m| m.modified());
        // SAFETY: as above.
        let json = unsafe { lib.get::<fn(Ptr) -> String>(b"seed_save\0").unwrap()(state) };
        // (The seed's host would drop the old state in the old image; it is leaked here.)
        lib.close().unwrap();
        lib = open(i);
        // SAFETY: as above.
        state = unsafe { lib.get::<fn(&str) -> Ptr>(b"seed_load\0").unwrap()(&json) };
        seed_pauses.push(t.elapsed());
        // SAFETY: as above.
        let len = unsafe { lib.get::<fn(Ptr) -> usize>(b"seed_len\0").unwrap()(state) };
        assert_eq!(len, n);
    }

    let big = Fixture::new("big", "peers");
    let a = std::fs::read(big.lib()).unwrap();
    big.edit("let tag = \"a\";", "let tag = \"b\";");
    big.build().unwrap();
    let b = std::fs::read(big.lib()).unwrap();
    replace(&big.lib(), &a);
    let mut worker = Worker::<dyn Context>::open(big.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host {
        input: n as i64,
        ..Host::default()
    };
    worker.update(&mut host).unwrap();
    let mut relive_pauses = Vec::new();
    for i in 0..reloads {
        replace(&big.lib(), if i % 2 == 0 { &b } else { &a });
        assert!(worker.wait_and_reload(support::BUILD_WAIT).unwrap());
        loop {
            if let relive::Event::Reloaded { timings, .. } = events.recv().unwrap() {
                relive_pauses.push(timings.pause);
                break;
            }
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    (median(relive_pauses), median(seed_pauses))
}

fn main() {
    let tiny = Fixture::copy("tiny", "peers").release();
    tiny.build().unwrap();
    let hlr = Fixture::copy("hlr_tiny", "peers").release();
    hlr.build().unwrap();

    let mut hot = Worker::<dyn Context>::open(tiny.lib()).unwrap();
    let mut stat = relive::StaticWorker::<tiny::ReliveExports>::new("tiny").unwrap();
    let lib = hlr.lib();
    let reloader =
        RwLock::new(LibReloader::new(lib.parent().unwrap(), "hlr_tiny_peers", None, None).unwrap());
    let mut host = Host {
        input: 1,
        ..Host::default()
    };
    let mut n = 0u64;

    let mut best = [f64::MAX; 3];
    for _ in 0..ROUNDS {
        best[0] = best[0].min(per_call(|| hot.update(black_box(&mut host)).unwrap()));
        best[1] = best[1].min(per_call(|| stat.update(black_box(&mut host)).unwrap()));
        best[2] = best[2].min(per_call(|| {
            let loader = reloader.read().unwrap();
            // SAFETY: `step` has this signature in fixtures/hlr_tiny.
            let step = unsafe { loader.get_symbol::<fn(&mut u64, u64)>(b"step\0") }.unwrap();
            step(black_box(&mut n), 1);
        }));
    }
    assert_eq!(n, u64::from(CALLS) * ROUNDS as u64);
    println!("per call, release builds, best of {ROUNDS} rounds of {CALLS} (ns)");
    println!("  relive static (StaticWorker::update)   {:7.2}", best[1]);
    println!(
        "  relive hot (Worker::update)            {:7.2}   {:+.2} over static",
        best[0],
        best[0] - best[1]
    );
    println!(
        "  hot-lib-reloader (lock + dlsym + call) {:7.2}   {:+.2} over static",
        best[2],
        best[2] - best[1]
    );

    let reloads: u32 = std::env::var("PEERS_RELOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (relive_kib, relive_maps) = memory_relive(reloads);
    let (hlr_kib, hlr_maps) = memory_hot_lib_reloader(reloads);
    println!("memory after {reloads} reloads of a worker with a thread-local destructor");
    println!(
        "  relive             {relive_kib:8.1} KiB RSS per reload, {relive_maps} worker images mapped"
    );
    println!(
        "  hot-lib-reloader   {hlr_kib:8.1} KiB RSS per reload, {hlr_maps} worker images mapped"
    );

    for debounce in [500, 50] {
        let (build, effect) = edit_to_effect_hot_lib_reloader(debounce, 6);
        println!(
            "edit to effect, hot-lib-reloader ({debounce} ms debounce): {effect:.0} ms, bare cargo build {build:.0} ms, ratio {:.2}",
            effect / build
        );
    }

    for (label, n) in [("1 KB", 128), ("1 MB", 128 * 1024)] {
        let (relive, seed) = pause_seed_style_vs_relive(n, 9);
        println!(
            "reload pause, {label} of u64s, debug builds: relive {relive:.2?}, seed-style (JSON, copy, dlopen on the frame) {seed:.2?}, ratio {:.3}",
            relive.as_secs_f64() / seed.as_secs_f64()
        );
    }
}
