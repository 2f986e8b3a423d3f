//! What keeping the rewind history costs per frame, against the same frames without it, in the
//! same run: `cargo bench -p relive --bench history`.
//!
//! The host is built with the bench profile; the worker is a debug build of `fixtures/soak` (what
//! a developer reloads): nested maps, strings, an enum and a grid, of a size that stays put. Blocks of frames alternate between
//! history off and on, so drift on the machine affects both alike.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::time::Instant;

use fixture_base::Context;
use relive::Worker;
use support::{Fixture, Host};

const FRAMES: u32 = 4000;
const BLOCKS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let fx = Fixture::new("soak", "history_bench");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    for i in 0..120 {
        host.input = i * 10_000_000_019;
        worker.update(&mut host).unwrap();
    }
    let mut frame = |worker: &mut Worker<dyn Context>| {
        host.input = 7;
        worker.update(&mut host).unwrap();
    };
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..BLOCKS {
        worker.keep_history(0);
        let t = Instant::now();
        for _ in 0..FRAMES {
            frame(&mut worker);
        }
        off.push(t.elapsed().as_nanos() as f64 / f64::from(FRAMES));
        worker.keep_history(64 << 20);
        let t = Instant::now();
        for _ in 0..FRAMES {
            frame(&mut worker);
        }
        on.push(t.elapsed().as_nanos() as f64 / f64::from(FRAMES));
    }
    let (off, on) = (median(off), median(on));
    let state_bytes = worker.snapshot().unwrap().bytes.len();
    println!(
        "rewind history, debug worker, state {state_bytes} bytes ({BLOCKS} alternating blocks of {FRAMES} frames, medians)"
    );
    println!(
        "  frame (update), history off            {:>9.0} ns  (baseline)",
        off
    );
    println!(
        "  frame (update), history on             {:>9.0} ns  (+{:.0} ns: encoding the state)",
        on,
        on - off
    );
    println!(
        "  memory per second of history at 60 fps {:>9.1} KiB  (the 10 s kept: {:.1} MiB)",
        state_bytes as f64 * 60.0 / 1024.0,
        state_bytes as f64 * 600.0 / f64::from(1u32 << 20)
    );
}
