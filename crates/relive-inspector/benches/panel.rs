//! What the inspector costs per frame, against the same frames without it, in the same run:
//! `cargo bench -p relive-inspector --bench panel`.
//!
//! The worker is a debug build of `fixtures/soak` (nested maps, strings, an enum and a grid:
//! 2.4 KB encoded, what a small game keeps), with the history on as under `cargo relive run`.
//! The panel is laid out and tessellated by egui into a headless context of 800×600 (what the
//! macroquad front end does before handing the triangles to the GPU; the upload and the drawing
//! are the GPU's and not measured here). Blocks of frames alternate between the cases, so drift
//! on the machine affects all alike. Then the same panel on a 10 MB state (`fixtures/big`): the
//! median frame and the slowest one (the frame that reads the state).

#![allow(clippy::unwrap_used, missing_docs)]

#[allow(dead_code)]
#[path = "../../relive/tests/it/support.rs"]
mod support;

use std::time::Instant;

use fixture_base::Context;
use relive::Worker;
use relive_inspector::Inspector;
use support::{Fixture, Host};

const FRAMES: u32 = 600;
const BLOCKS: usize = 5;
/// A frame at 60 fps.
const FRAME: std::time::Duration = std::time::Duration::from_micros(16_667);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One frame with the panel open, as the macroquad front end makes it: laid out and tessellated
/// into a headless 800×600 context (the GPU's share is not in it), then the game's update.
fn open_frame(
    egui: &egui::Context,
    inspector: &mut Inspector,
    game: &mut Worker<dyn Context>,
    host: &mut Host,
) {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(800.0, 600.0),
        )),
        ..Default::default()
    };
    let output = egui.run(input, |ctx| inspector.ui(ctx, game));
    let triangles = egui.tessellate(output.shapes, output.pixels_per_point);
    std::hint::black_box(triangles);
    inspector.update(game, host, true).unwrap();
}

fn main() {
    small_state();
    large_state();
}

/// The panel on a 10 MB state (`fixtures/big`: 1.2 M numbers, history on as under
/// `cargo relive run`, which turns itself off at this size): the frame time without the panel,
/// and with it open (its median and its slowest frame, which is when the panel reads the state).
fn large_state() {
    let fx = Fixture::new("big", "panel_bench_big");
    let mut game = Worker::<dyn Context>::open(fx.lib()).unwrap();
    game.keep_history(64 << 20);
    let mut host = Host {
        input: 1_200_000,
        ..Host::default()
    };
    for _ in 0..3 {
        game.update(&mut host).unwrap();
    }
    let bytes = game.snapshot().unwrap().bytes.len();
    let encodes: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(game.snapshot().unwrap());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let encode = median(encodes);
    let egui = egui::Context::default();
    let mut inspector = Inspector::new();
    const LARGE_FRAMES: usize = 300;
    // Paced at 60 fps, as a window's frames are: a read aside has the time to finish and
    // reach the tree (the frame that installs it is among those measured).
    let paced = |t: Instant| {
        let took = t.elapsed();
        std::thread::sleep(FRAME.saturating_sub(took));
        took.as_secs_f64() * 1e3
    };
    let (mut plain, mut open) = (Vec::new(), Vec::new());
    for _ in 0..LARGE_FRAMES {
        let t = Instant::now();
        game.update(&mut host).unwrap();
        plain.push(paced(t));
    }
    for _ in 0..LARGE_FRAMES {
        let t = Instant::now();
        open_frame(&egui, &mut inspector, &mut game, &mut host);
        open.push(paced(t));
    }
    let reads = inspector.reads();
    // What an edit and a paused frame cost on this state (both on the game's thread: the
    // worker's whole decode, and a copy of the state, for each).
    let t = Instant::now();
    game.set_state_at("/data/5", serde_json::json!(5)).unwrap();
    let edit = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    game.update_frozen(&mut host).unwrap();
    let frozen = t.elapsed().as_secs_f64() * 1e3;
    let next_frozen = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                game.update_frozen(&mut host).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (plain_worst, open_worst) = (worst(&plain), worst(&open));
    let (plain, open) = (median(plain), median(open));
    println!(
        "state: {:.1} MB encoded; {LARGE_FRAMES} frames each, median and slowest",
        bytes as f64 / 1e6
    );
    println!("update, no inspector (baseline): {plain:>8.2} ms, slowest {plain_worst:>8.2} ms");
    println!(
        "the worker's encode of the state:  {encode:>8.2} ms (the panel's share of a frame that reads it)"
    );
    println!(
        "panel open:                      {open:>8.2} ms, slowest {open_worst:>8.2} ms ({:.0} fps at the slowest); the tree read {reads} times in {:.1} s",
        1e3 / open_worst,
        LARGE_FRAMES as f64 * FRAME.as_secs_f64()
    );
    println!(
        "one edit of a number (set_state_at): {edit:>8.2} ms; the first paused frame: {frozen:>8.2} ms, the next ones: {next_frozen:>8.2} ms"
    );
}

/// The panel on a small game's state (`fixtures/soak`).
fn small_state() {
    let fx = Fixture::new("soak", "panel_bench");
    let mut game = Worker::<dyn Context>::open(fx.lib()).unwrap();
    game.keep_history(64 << 20);
    let mut host = Host::default();
    for i in 0..120 {
        host.input = i * 10_000_000_019;
        game.update(&mut host).unwrap();
    }
    let bytes = game.snapshot().unwrap().bytes.len();
    let egui = egui::Context::default();
    let mut inspector = Inspector::new();
    let (mut plain, mut closed, mut open) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BLOCKS {
        let t = Instant::now();
        for _ in 0..FRAMES {
            host.input = 7;
            game.update(&mut host).unwrap();
        }
        plain.push(t.elapsed().as_nanos() as f64 / f64::from(FRAMES));

        let t = Instant::now();
        for _ in 0..FRAMES {
            host.input = 7;
            inspector.update(&mut game, &mut host, false).unwrap();
        }
        closed.push(t.elapsed().as_nanos() as f64 / f64::from(FRAMES));

        let t = Instant::now();
        for _ in 0..FRAMES {
            host.input = 7;
            open_frame(&egui, &mut inspector, &mut game, &mut host);
        }
        open.push(t.elapsed().as_nanos() as f64 / f64::from(FRAMES));
    }
    let (plain, closed, open) = (median(plain), median(closed), median(open));
    println!("state: {bytes} bytes encoded; blocks of {FRAMES} frames, medians of {BLOCKS}");
    println!(
        "update, no inspector (baseline): {:>9.1} µs",
        plain / 1000.0
    );
    println!(
        "update through the inspector, closed: {:>9.1} µs ({:+.1} µs)",
        closed / 1000.0,
        (closed - plain) / 1000.0
    );
    println!(
        "panel open (layout, tessellation, state read): {:>9.1} µs ({:+.1} µs)",
        open / 1000.0,
        (open - plain) / 1000.0
    );
}
