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
use std::sync::RwLock;
use std::time::Instant;

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
}
