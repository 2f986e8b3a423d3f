//! What the inspector costs per frame, against the same frames without it, in the same run:
//! `cargo bench -p relive-inspector --bench panel`.
//!
//! The worker is a debug build of `fixtures/soak` (nested maps, strings, an enum and a grid:
//! 2.4 KB encoded, what a small game keeps), with the history on as under `cargo relive run`.
//! The panel is laid out and tessellated by egui into a headless context of 800×600 (what the
//! macroquad front end does before handing the triangles to the GPU; the upload and the drawing
//! are the GPU's and not measured here). Blocks of frames alternate between the cases, so drift
//! on the machine affects all alike.

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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
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
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(800.0, 600.0),
        )),
        ..Default::default()
    };
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
            let output = egui.run(input(), |ctx| inspector.ui(ctx, &game));
            let triangles = egui.tessellate(output.shapes, output.pixels_per_point);
            std::hint::black_box(triangles);
            inspector.update(&mut game, &mut host, true).unwrap();
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
