//! What the open panel costs in a real macroquad window, drawn and presented, against the same
//! frames without it, in the same run:
//! `cargo bench -p relive-inspector --features macroquad --bench window`.
//!
//! Needs a display: uses `DISPLAY`, or starts `Xvfb` on a free display number when there is none
//! (on a machine without a GPU, Mesa's llvmpipe draws in software: the drawing's share here is
//! the CPU's). Two states: `fixtures/soak` (2 KB encoded, a small game's) and `fixtures/big`
//! (1.2 M numbers, 10.8 MB encoded). For each, blocks of 2 s with and without the panel
//! alternate (and without it, with an opaque rectangle of its size drawn: what filling those
//! pixels costs alone); a frame is the time from one frame's start to the next (the game's update, the
//! drawing, the panel, the present).

#![allow(clippy::unwrap_used, missing_docs)]

#[allow(dead_code)]
#[path = "../../relive/tests/it/support.rs"]
mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fixture_base::Context;
use macroquad::prelude::*;
use relive::Worker;
use relive_inspector::macroquad::Overlay;
use support::{Fixture, Host};

const BLOCK: Duration = Duration::from_secs(2);
const BLOCKS: usize = 3;
/// About the open panel's width in this window (its side panel, egui's default width).
const PANEL_WIDTH: f32 = 380.0;

/// Starts Xvfb when there is no display; the server, to stop at the end.
fn display() -> Option<Child> {
    if std::env::var_os("DISPLAY").is_some() {
        return None;
    }
    for n in 90..120 {
        if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([
                format!(":{n}").as_str(),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .spawn()
            .expect("no DISPLAY and no Xvfb: install xvfb, or run with a display");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::path::Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: set before any other thread of this process exists (macroquad starts later).
        unsafe { std::env::set_var("DISPLAY", format!(":{n}")) };
        return Some(child);
    }
    panic!("no free display number for Xvfb");
}

fn main() {
    let server = display();
    // Built before the window opens (the builds take a while; the window would sit unserviced).
    let small = Fixture::new("soak", "window_bench_small");
    let big = Fixture::new("big", "window_bench_big");
    macroquad::Window::from_config(
        Conf {
            window_title: "relive-inspector window bench".into(),
            window_width: 1024,
            window_height: 768,
            ..Default::default()
        },
        run(small, big, server),
    );
}

/// One frame's time, by case.
#[derive(Default)]
struct Frames {
    plain: Vec<f64>,
    open: Vec<f64>,
    /// Without the panel, an opaque rectangle of its size drawn in its place: what drawing that
    /// many pixels costs alone.
    rect: Vec<f64>,
    /// The update alone (the game's, and with the panel its input and layout), by case.
    plain_update: Vec<f64>,
    open_update: Vec<f64>,
}

async fn run(small: Fixture, big: Fixture, server: Option<Child>) {
    // As in the panel bench: the soak fixture's maps and strings grown by 120 frames of input.
    let (small_frames, small_reads, small_bytes) = measure(&small, |game, host| {
        for i in 0..120 {
            host.input = i * 10_000_000_019;
            game.update(host).unwrap();
        }
        host.input = 7;
    })
    .await;
    let (big_frames, big_reads, big_bytes) = measure(&big, |game, host| {
        host.input = 1_200_000;
        game.update(host).unwrap();
    })
    .await;
    println!(
        "macroquad window {}x{}, blocks of {} s alternating, {BLOCKS} each",
        screen_width(),
        screen_height(),
        BLOCK.as_secs()
    );
    report("small state", small_bytes, &small_frames, small_reads);
    report("large state", big_bytes, &big_frames, big_reads);
    if let Some(mut server) = server {
        let _ = server.kill();
        let _ = server.wait();
    }
    // macroquad's loop would go on: the measurement is done.
    std::process::exit(0);
}

fn report(name: &str, bytes: usize, frames: &Frames, reads: u64) {
    let stats = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let over = v.iter().filter(|&&ms| ms > 1000.0 / 30.0).count();
        (v[v.len() / 2], v[v.len() - 1], over, v.len())
    };
    let (pm, pw, po, pn) = stats(&frames.plain);
    let (om, ow, oo, on) = stats(&frames.open);
    println!("{name} ({bytes} bytes encoded):");
    println!(
        "  without the panel: median {pm:6.2} ms, slowest {pw:6.2} ms, {po} of {pn} frames over 33 ms"
    );
    println!(
        "  panel open:        median {om:6.2} ms, slowest {ow:6.2} ms, {oo} of {on} frames over 33 ms; the tree read {reads} times"
    );
    let (rm, ..) = stats(&frames.rect);
    println!(
        "  a plain rectangle of the panel's size instead: median {rm:6.2} ms ({:+.2} ms)",
        rm - pm
    );
    let (pu, ou) = (stats(&frames.plain_update).0, stats(&frames.open_update).0);
    println!(
        "  the panel's share of the median frame: {:+.2} ms, of it {:+.2} ms its input and layout, the rest drawing it",
        om - pm,
        ou - pu
    );
}

/// Blocks with and without the panel on the fixture's state, after `setup` (which leaves the
/// input each frame then gets in `host`).
async fn measure(
    fx: &Fixture,
    setup: fn(&mut Worker<dyn Context>, &mut Host),
) -> (Frames, u64, usize) {
    let mut game = Worker::<dyn Context>::open(fx.lib()).unwrap();
    game.keep_history(64 << 20);
    let mut host = Host::default();
    setup(&mut game, &mut host);
    let bytes = game.snapshot().unwrap().bytes.len();
    let mut overlay = Overlay::new().opened();
    let mut frames = Frames::default();
    for _ in 0..BLOCKS {
        for (open, rect) in [(false, false), (false, true), (true, false)] {
            let started = Instant::now();
            let mut last = Instant::now();
            while started.elapsed() < BLOCK {
                clear_background(DARKGRAY);
                for i in 0..50 {
                    draw_rectangle(20.0 + i as f32 * 12.0, 40.0, 10.0, 10.0, GREEN);
                }
                let update = Instant::now();
                if open {
                    overlay.update(&mut game, &mut host).unwrap();
                    frames
                        .open_update
                        .push(update.elapsed().as_secs_f64() * 1e3);
                    overlay.draw();
                } else {
                    game.update(&mut host).unwrap();
                    frames
                        .plain_update
                        .push(update.elapsed().as_secs_f64() * 1e3);
                    if rect {
                        let w = PANEL_WIDTH;
                        draw_rectangle(screen_width() - w, 0.0, w, screen_height(), DARKBLUE);
                    }
                }
                host.lines.clear();
                next_frame().await;
                let now = Instant::now();
                let ms = (now - last).as_secs_f64() * 1e3;
                last = now;
                if open {
                    frames.open.push(ms);
                } else if rect {
                    frames.rect.push(ms);
                } else {
                    frames.plain.push(ms);
                }
            }
        }
    }
    (frames, overlay.inspector().reads(), bytes)
}
