//! Reload pause and per-frame check cost, each against a baseline measured in the same run.
//!
//! `cargo bench -p relive --bench reload`. The host is built with the bench profile; the worker
//! is a debug build of `fixtures/plain` (what a developer reloads), with a state of about 1 KB.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use fixture_base::Context;
use relive::{Event, Worker};
use relive_worker::abi;
use support::{BUILD_WAIT, Fixture, Host};

const RELOADS: usize = 60;

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.1), at(0.5), at(0.9))
}

fn fmt((p10, p50, p90): (Duration, Duration, Duration)) -> String {
    format!("{p50:>10.2?}  (p10 {p10:.2?}, p90 {p90:.2?})")
}

/// ns per `update` of `fixtures/tiny` (one add): through relive, linked statically, and the floor
/// of any reloader built on a loaded library: the worker's own `update` shim called straight
/// through its function pointer, with no bookkeeping around it. All built with optimizations (a
/// debug worker's own code is slower, whatever calls it).
fn call_overhead() -> (f64, f64, f64) {
    let fx = Fixture::copy("tiny", "bench").release();
    fx.build().unwrap();
    let mut hot = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut stat = relive::StaticWorker::<tiny::ReliveExports>::new("tiny").unwrap();
    let mut host = Host {
        input: 1,
        ..Host::default()
    };

    // The floor: a second copy of the library, its `update` shim and a state of its own.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libtiny_raw.so");
    std::fs::copy(fx.lib(), &copy).unwrap();
    // SAFETY: a relive fixture worker; loading it runs no user code.
    let raw = unsafe { libloading::Library::new(&copy) }.unwrap();
    // SAFETY: the symbol `export!` generates, with the signature `ExportsFn`.
    let exports_fn = unsafe { raw.get::<abi::ExportsFn>(abi::EXPORTS_SYMBOL) }.unwrap();
    let mut exports = std::mem::MaybeUninit::<abi::Exports>::uninit();
    // SAFETY: the handshake writes a whole `Exports` when it answers STATUS_OK.
    let status = unsafe {
        exports_fn(
            abi::ABI_VERSION,
            size_of::<abi::Exports>(),
            exports.as_mut_ptr(),
        )
    };
    assert_eq!(status, abi::STATUS_OK);
    // SAFETY: STATUS_OK.
    let exports = unsafe { exports.assume_init() };
    let update = (0..exports.function_count)
        // SAFETY: `functions` points at `function_count` entries, their names static strings.
        .map(|i| unsafe { *exports.functions.add(i) })
        // SAFETY: as above.
        .find(|f| unsafe { f.name.to_string_lossy() } == "update")
        .map(|f| f.call)
        .unwrap();
    unsafe extern "C" fn ignore(_: *mut std::ffi::c_void, _: u32, _: *const u8, _: usize) {}
    let sink = abi::Sink {
        data: std::ptr::null_mut(),
        write: ignore,
    };
    let mut state = std::ptr::null_mut();
    // SAFETY: `create` writes a new state pointer.
    let created = unsafe { (exports.create)(&mut state, &sink) };
    assert_eq!(created, abi::STATUS_OK);

    let n = 20_000_000u32;
    let mut best = (f64::MAX, f64::MAX, f64::MAX);
    // Alternate the three, keep each one's best of five rounds.
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            hot.update(black_box(&mut host)).unwrap();
        }
        best.0 = best.0.min(t.elapsed().as_nanos() as f64 / f64::from(n));
        let t = Instant::now();
        for _ in 0..n {
            stat.update(black_box(&mut host)).unwrap();
        }
        best.1 = best.1.min(t.elapsed().as_nanos() as f64 / f64::from(n));
        let t = Instant::now();
        for _ in 0..n {
            // As `Worker::call` does: a fat reference on the stack, passed by address.
            let thin: &mut Host = black_box(&mut host);
            let mut ctx: &mut dyn Context = thin;
            let ctx_ptr = (&mut ctx as *mut &mut dyn Context).cast();
            // SAFETY: the shim of this library, its state, a `*mut &mut dyn Context` that lives
            // across the call (the context type the worker expects) and a valid sink.
            let status = unsafe { update(ctx_ptr, state, &sink) };
            assert_eq!(status, abi::STATUS_OK);
        }
        best.2 = best.2.min(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    assert_eq!(stat.state().n, u64::from(n) * 5);
    // SAFETY: the state this library created, dropped once.
    unsafe { (exports.drop_state)(state, &sink) };
    best
}

/// The ways the large-state rows are measured: (crate name suffix, label, manifest tail, whether
/// the field is marked `#[serde(with = "relive_worker::bulk")]`). The plain dev profile; the same
/// with the field marked bulk; dependencies optimized (`[profile.dev.package."*"]`: serde,
/// rmp-serde and relive-worker, built once); the worker crate itself at opt-level 1; both; the
/// state and its codec (`relive_worker::codec!`) in a crate of their own at opt-level 3. Each
/// one's rebuild after an edit is timed too, since a profile that speeds the codec up is paid for
/// at every save.
const VARIANTS: [(&str, &str, &str, bool); 6] = [
    ("dev", "dev", "", false),
    (
        "codec",
        "dev, codec! in a state crate at opt-level 3",
        "[profile.dev.package.big-state]\nopt-level = 3",
        false,
    ),
    ("bulk", "dev, field marked bulk", "", true),
    (
        "depsopt",
        "dev + deps opt-level 2",
        "[profile.dev.package.\"*\"]\nopt-level = 2",
        false,
    ),
    (
        "workeropt",
        "dev + worker opt-level 1",
        "[profile.dev.package.big_workeropt]\nopt-level = 1",
        false,
    ),
    (
        "bothopt",
        "dev + deps opt-level 2 + worker opt-level 1",
        "[profile.dev.package.\"*\"]\nopt-level = 2\n[profile.dev.package.big_bothopt]\nopt-level = 1",
        false,
    ),
];

/// One profile's large-state figures.
struct BigStates {
    /// (state bytes, pause, save, load) per size, best of three reloads.
    rows: Vec<(usize, Duration, Duration, Duration)>,
    /// `cargo build` of the worker after a one-line edit, median of three.
    rebuild: Duration,
}

/// Reload pauses with a large state in a worker whose state is a `Vec<u64>`, built with the
/// profile `tail` adds to its manifest, the field marked bulk if `bulk`.
fn big_states(variant: &str, tail: &str, bulk: bool, sizes: &[i64]) -> BigStates {
    // The codec variant's worker takes its state (and relive's codec for it) from `big-state`.
    let template = if variant == "codec" {
        "big_codec"
    } else {
        "big"
    };
    let fx = Fixture::copy(template, variant).with_manifest_tail(tail);
    if bulk {
        fx.edit(
            "    pub data: Vec<u64>,",
            "    #[serde(with = \"relive_worker::bulk\")]\n    pub data: Vec<u64>,",
        );
    }
    fx.build().unwrap();
    let lib = fx.lib();
    let a = std::fs::read(&lib).unwrap();
    let mut rebuilds = Vec::new();
    for (from, to) in [("\"a\"", "\"c\""), ("\"c\"", "\"d\""), ("\"d\"", "\"b\"")] {
        fx.edit(&format!("let tag = {from};"), &format!("let tag = {to};"));
        let t = Instant::now();
        fx.build().unwrap();
        rebuilds.push(t.elapsed());
    }
    let b = std::fs::read(&lib).unwrap();
    replace(&lib, &a);
    let mut worker = Worker::<dyn Context>::open(&lib).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    let mut rows = Vec::new();
    for &elements in sizes {
        host.input = elements;
        worker.update(&mut host).unwrap();
        let mut best: Option<(usize, Duration, Duration, Duration)> = None;
        for i in 0..3 {
            replace(&lib, if i % 2 == 0 { &b } else { &a });
            assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
            worker.update(&mut host).unwrap();
            let timings = loop {
                if let Event::Reloaded {
                    timings,
                    state_bytes,
                    ..
                } = events.recv().unwrap()
                {
                    break (state_bytes, timings.pause, timings.save, timings.load);
                }
            };
            if best.is_none_or(|b| timings.1 < b.1) {
                best = Some(timings);
            }
        }
        rows.extend(best);
    }
    BigStates {
        rows,
        rebuild: percentiles(rebuilds).1,
    }
}

fn main() {
    let fx = Fixture::new("plain", "bench");
    let lib = fx.lib();
    let v1 = std::fs::read(&lib).unwrap();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let v2 = std::fs::read(&lib).unwrap();
    replace(&lib, &v1);

    let mut worker = Worker::<dyn Context>::open(&lib).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    for i in 0..120 {
        host.input = i * 10_000_000_019;
        worker.update(&mut host).unwrap();
    }
    let state_bytes = worker.snapshot().unwrap().bytes.len();

    // Per-frame "new build?" check, against the mtime poll a hand-made reloader does.
    let n = 20_000_000u32;
    let t = Instant::now();
    for _ in 0..n {
        black_box(black_box(&worker).is_new_build_ready());
    }
    let check_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
    let m = 200_000u32;
    let t = Instant::now();
    for _ in 0..m {
        black_box(
            std::fs::metadata(black_box(&lib))
                .and_then(|md| md.modified())
                .ok(),
        );
    }
    let mtime_ns = t.elapsed().as_nanos() as f64 / f64::from(m);

    // A supervised host's periodic recovery snapshot: encode in the worker, frame the file, write a
    // temporary file and rename it (no fsync), the steps `cargo relive run` has the host take.
    let snap_dir = tempfile::tempdir().unwrap();
    let snap_path = snap_dir.path().join("state.snapshot");
    let (mut encodes, mut writes) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let t = Instant::now();
        let bytes = worker
            .snapshot()
            .unwrap()
            .to_bytes(relive::Format::Binary)
            .unwrap();
        encodes.push(t.elapsed());
        let t = Instant::now();
        let tmp = snap_path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        std::fs::rename(&tmp, &snap_path).unwrap();
        writes.push(t.elapsed());
    }

    // Per-call cost: the smallest worker called through relive's hot path and statically.
    let (hot_ns, static_ns, raw_ns) = call_overhead();

    // Reload pause on the calling thread, over RELOADS swaps.
    let mut pauses = Vec::new();
    let mut saves = Vec::new();
    let mut loads = Vec::new();
    let mut unloads = Vec::new();
    let mut detect = Vec::new();
    for i in 0..RELOADS {
        replace(&lib, if i % 2 == 0 { &v2 } else { &v1 });
        assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
        worker.update(&mut host).unwrap();
    }
    while let Ok(e) = events.recv_timeout(Duration::from_secs(2)) {
        if let Event::Reloaded { timings, .. } = e {
            pauses.push(timings.pause);
            saves.push(timings.save);
            loads.push(timings.load);
            unloads.push(timings.unload);
            detect.push(timings.detect_to_swap);
        }
    }

    // Baseline: what a reloader that loads on the frame thread pays (copy to a fresh path,
    // dlopen, one symbol, dlclose), with no state at all.
    let dir = tempfile::tempdir().unwrap();
    let mut sync = Vec::new();
    for i in 0..RELOADS {
        let t = Instant::now();
        let copy = dir.path().join(format!("v{i}.so"));
        std::fs::copy(&lib, &copy).unwrap();
        // SAFETY: the copy is a relive fixture worker; loading it runs no user code.
        let handle = unsafe { libloading::Library::new(&copy) }.unwrap();
        // SAFETY: only the symbol's presence is checked; it is not called.
        let symbol = unsafe { handle.get::<unsafe extern "C" fn()>(b"relive_worker_exports_v1\0") };
        assert!(symbol.is_ok());
        drop(symbol);
        handle.close().unwrap();
        sync.push(t.elapsed());
    }

    let big: Vec<_> = VARIANTS
        .iter()
        .map(|(variant, label, tail, bulk)| {
            let sizes: &[i64] = if matches!(*variant, "dev" | "bulk") {
                &[128 * 1024 / 8, 1024 * 1024 / 8, 100 * 1024 * 1024 / 8]
            } else {
                &[1024 * 1024 / 8, 100 * 1024 * 1024 / 8]
            };
            (label, big_states(variant, tail, *bulk, sizes))
        })
        .collect();
    let pause = percentiles(pauses.clone());
    let sync_p = percentiles(sync);
    println!(
        "relive reload bench ({RELOADS} reloads, debug worker {:.1} MB, state {state_bytes} bytes)",
        v1.len() as f64 / 1e6
    );
    println!("  per-frame check (is_new_build_ready)   {check_ns:>8.2}ns");
    println!(
        "  baseline: fs::metadata().modified()    {mtime_ns:>8.0}ns   ratio {:.5}",
        check_ns / mtime_ns
    );
    for (label, states) in &big {
        println!(
            "  large states, {label}: worker rebuild after an edit {:.2?}",
            states.rebuild
        );
        for (bytes, pause, save, load) in &states.rows {
            println!(
                "    reload pause, {:>6.1} MB state (best of 3)   {pause:>10.2?}  (save {save:.2?}, load {load:.2?})",
                *bytes as f64 / 1e6
            );
        }
    }
    println!(
        "  recovery snapshot: encode (frame thread) {}",
        fmt(percentiles(encodes))
    );
    println!(
        "  recovery snapshot: write + rename (writer thread) {}",
        fmt(percentiles(writes))
    );
    println!("  call, hot (Worker::update, release tiny worker) {hot_ns:>8.2}ns");
    println!(
        "  call, static (StaticWorker::update)      {static_ns:>8.2}ns   hot - static {:.2}ns",
        hot_ns - static_ns
    );
    println!(
        "  call, the shim alone (no relive around it) {raw_ns:>6.2}ns   floor - static {:.2}ns, relive over the floor {:.2}ns",
        raw_ns - static_ns,
        hot_ns - raw_ns
    );
    println!("  reload pause (save+load+drop+dlclose)  {}", fmt(pause));
    println!(
        "    save                                 {}",
        fmt(percentiles(saves))
    );
    println!(
        "    load                                 {}",
        fmt(percentiles(loads))
    );
    println!(
        "    drop + dlclose                       {}",
        fmt(percentiles(unloads))
    );
    println!(
        "  detect -> swap (includes wait for frame) {}",
        fmt(percentiles(detect))
    );
    println!(
        "  baseline: copy+dlopen+dlsym+dlclose    {}   ratio {:.3}",
        fmt(sync_p),
        pause.1.as_secs_f64() / sync_p.1.as_secs_f64()
    );
}
