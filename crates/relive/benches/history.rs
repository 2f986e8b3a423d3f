//! What keeping the rewind history and playing a loop cost per frame, against the same frames
//! without them, in the same run: `cargo bench -p relive --bench history`.
//!
//! The host is built with the bench profile; the workers are debug builds (what a developer
//! reloads). The history: `fixtures/soak` (nested maps, strings, an enum and a grid, of a size
//! that stays put). The loop: `fixtures/tiny`, whose frame is one read of the context and one add,
//! so that what is measured is the tape. Blocks of frames alternate between off and on, so drift
//! on the machine affects both alike.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use std::time::Instant;

use fixture_base::Context;
use relive::{Event, Worker};
use support::{Fixture, Host};

const FRAMES: u32 = 4000;
const BLOCKS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    history();
    looping();
}

fn history() {
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

fn looping() {
    let fx = Fixture::new("tiny", "loop_bench");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host {
        input: 3,
        ..Host::default()
    };
    let mut frames = |worker: &mut Worker<dyn Context>| {
        let t = Instant::now();
        for _ in 0..FRAMES {
            worker.update(&mut host).unwrap();
        }
        t.elapsed().as_nanos() as f64 / f64::from(FRAMES)
    };
    let (mut live, mut recording, mut playing) = (Vec::new(), Vec::new(), Vec::new());
    let mut tape_bytes = 0;
    for _ in 0..BLOCKS {
        live.push(frames(&mut worker));
        worker.loop_start().unwrap();
        recording.push(frames(&mut worker));
        assert_eq!(worker.loop_end().unwrap(), FRAMES as usize);
        tape_bytes = events
            .try_iter()
            .find_map(|e| match e {
                Event::LoopPlaying { bytes, .. } => Some(bytes),
                _ => None,
            })
            .unwrap();
        // One pass: the start state restored once, then every frame from the tape.
        playing.push(frames(&mut worker));
        worker.loop_stop().unwrap();
    }
    let (live, recording, playing) = (median(live), median(recording), median(playing));
    println!(
        "loop, debug worker reading the context once a frame ({BLOCKS} alternating blocks of {FRAMES} frames, medians)"
    );
    println!(
        "  frame (update), live                   {:>9.0} ns  (baseline)",
        live
    );
    println!(
        "  frame (update), recording              {:>9.0} ns  (+{:.0} ns)",
        recording,
        recording - live
    );
    println!(
        "  frame (update), playing                {:>9.0} ns  (+{:.0} ns, the pass's restore included)",
        playing,
        playing - live
    );
    println!(
        "  memory per second recorded at 60 fps   {:>9.1} KiB  ({:.1} bytes a frame for one read)",
        tape_bytes as f64 / f64::from(FRAMES) * 60.0 / 1024.0,
        tape_bytes as f64 / f64::from(FRAMES)
    );
}
