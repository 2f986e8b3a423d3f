//! Edit-to-effect of `cargo relive run` against a bare `cargo build -p worker` of the same edit, in
//! the same run: `cargo bench -p cargo-relive --bench edit_to_effect`.
//!
//! The projects are the `cargo relive new` template (a 60 fps host). Samples alternate between
//! the two, so drift on the machine affects both alike.

#![allow(clippy::unwrap_used)]

#[path = "common/session.rs"]
mod session;

use std::path::Path;

use session::{Session, cargo_timed, new_project, repo};

const SAMPLES: usize = 8;

fn edit(src: &Path, i: usize) {
    let text = std::fs::read_to_string(src).unwrap();
    let start = text.find("\"score").unwrap();
    let end = start + text[start..].find(" {}").unwrap();
    let new = format!("{}\"score{i}{}", &text[..start], &text[end..]);
    std::fs::write(src, new).unwrap();
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.0), at(1.0))
}

fn main() {
    let root = repo().join("target/bench-e2e");
    // Two identical projects: one runs under `cargo relive run`, the other takes the bare builds,
    // so that the samples can alternate.
    let mut projects = Vec::new();
    for name in ["hot", "bare"] {
        let dir = root.join(name);
        let target = root.join(format!("{name}-target"));
        new_project(&dir, "terminal");
        cargo_timed(&dir, &target, &["build", "-p", "worker", "-p", "host"]);
        projects.push((dir, target));
    }
    let (hot_dir, hot_target) = projects[0].clone();
    let (bare_dir, bare_target) = projects[1].clone();
    let hot_src = hot_dir.join("worker/src/lib.rs");
    let bare_src = bare_dir.join("worker/src/lib.rs");

    let mut session = Session::start(&hot_dir, &hot_target, &root.join("events.fifo"), &[]);
    session.next("loaded");
    let (mut bare, mut effect, mut build, mut swap) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut prepare, mut to_swap) = (Vec::new(), Vec::new());
    // One warm-up round each (the first cdylib-only build after a full one rebuilds more).
    for i in 0..=SAMPLES {
        edit(&hot_src, i);
        let e = session.next("reloaded");
        edit(&bare_src, i);
        let b = cargo_timed(&bare_dir, &bare_target, &["build", "-p", "worker"]);
        if i == 0 {
            continue;
        }
        bare.push(b.as_secs_f64() * 1000.0);
        effect.push(e["edit_to_effect_ms"].as_f64().unwrap());
        build.push(e["build_ms"].as_f64().unwrap());
        swap.push(e["timings"]["pause"].as_f64().unwrap() / 1000.0);
        prepare.push(e["timings"]["prepare"].as_f64().unwrap() / 1000.0);
        to_swap.push(e["timings"]["detect_to_swap"].as_f64().unwrap() / 1000.0);
    }
    session.stop();

    let (b, bmin, bmax) = stats(bare);
    let (e, emin, emax) = stats(effect);
    let (bu, bumin, bumax) = stats(build);
    let (s, smin, smax) = stats(swap);
    println!(
        "edit to effect, template worker ({SAMPLES} alternating samples; median [min, max], ms)"
    );
    println!("  bare `cargo build -p worker`         {b:7.1} [{bmin:.1}, {bmax:.1}]");
    println!(
        "  cargo relive run: edit to effect    {e:7.1} [{emin:.1}, {emax:.1}]   ratio {:.2} of the bare build",
        e / b
    );
    println!("    of which the worker build          {bu:7.1} [{bumin:.1}, {bumax:.1}]");
    let (p, pmin, pmax) = stats(prepare);
    let (d, dmin, dmax) = stats(to_swap);
    println!("    build done to library loaded       {p:7.2} [{pmin:.2}, {pmax:.2}]");
    println!("    build done to swap (frame wait)    {d:7.2} [{dmin:.2}, {dmax:.2}]");
    println!("    of which the swap pause            {s:7.2} [{smin:.2}, {smax:.2}]");
}
