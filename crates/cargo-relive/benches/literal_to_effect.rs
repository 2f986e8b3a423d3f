//! A literal edit to its effect (the `tweaked` event: the save seen → the value in the host's
//! next frame) against the rebuild path of the very same save (its `reloaded` event: edit to the
//! new version swapped in), in the same run, on the template worker and on the scale bench's
//! 20k-line worker: `cargo bench -p cargo-relive --bench literal_to_effect`.

#![allow(clippy::unwrap_used)]

#[path = "common/scale_worker.rs"]
mod scale_worker;
#[path = "common/session.rs"]
mod session;

use std::path::Path;

use session::{Session, new_project, repo};

const SAMPLES: usize = 8;

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.0), at(1.0))
}

/// Edits with `edit(i)` and reads, for each sample, the tweak's effect and the rebuild's edit
/// to effect of the same save, in ms.
fn measure(dir: &Path, target: &Path, fifo: &Path, edit: impl Fn(usize)) -> (Vec<f64>, Vec<f64>) {
    let mut session = Session::start(dir, target, fifo, &[]);
    session.next("loaded");
    let (mut tweak, mut rebuild) = (Vec::new(), Vec::new());
    // One warm-up round (the first cdylib-only build after a full one rebuilds more).
    for i in 0..=SAMPLES {
        edit(i);
        let t = session.next("tweaked");
        let r = session.next("reloaded");
        if i == 0 {
            continue;
        }
        tweak.push(t["effect_ms"].as_f64().unwrap());
        rebuild.push(r["edit_to_effect_ms"].as_f64().unwrap());
    }
    session.stop();
    (tweak, rebuild)
}

fn report(what: &str, tweak: Vec<f64>, rebuild: Vec<f64>) {
    let (t, tmin, tmax) = stats(tweak);
    let (r, rmin, rmax) = stats(rebuild);
    println!("{what} ({SAMPLES} samples; median [min, max], ms)");
    println!("  literal edit to effect (tweak)      {t:8.2} [{tmin:.2}, {tmax:.2}]");
    println!("  the same save, rebuilt and swapped  {r:8.1} [{rmin:.1}, {rmax:.1}]");
    println!("  ratio                               {:8.4}", t / r);
}

fn main() {
    let root = repo().join("target/bench-literals");

    let dir = root.join("template");
    let target = root.join("template-target");
    new_project(&dir, "terminal");
    let src = dir.join("worker/src/lib.rs");
    let template = std::fs::read_to_string(&src).unwrap();
    assert!(template.contains("state.score += 1;"));
    let (tweak, rebuild) = measure(&dir, &target, &root.join("events.fifo"), |i| {
        let text = template.replace("state.score += 1;", &format!("state.score += {};", i + 2));
        std::fs::write(&src, text).unwrap();
    });
    report(
        "template worker: `state.score += N` in the marked `update`",
        tweak,
        rebuild,
    );

    let dir = root.join("scale");
    let target = root.join("scale-target");
    new_project(&dir, "terminal");
    let src = dir.join("worker/src/lib.rs");
    let mark = |k: usize| {
        scale_worker::worker_source(k)
            .replace("const K: u32", "#[relive_worker::tweak]\nconst K: u32")
            .replace("fn update(", "#[relive_worker::tweak]\nfn update(")
    };
    std::fs::write(&src, mark(0)).unwrap();
    let lines = mark(0).lines().count();
    let (tweak, rebuild) = measure(&dir, &target, &root.join("events.fifo"), |i| {
        std::fs::write(&src, mark(i + 1)).unwrap();
    });
    report(
        &format!("scale worker ({lines} lines): `const K` read in the marked `update`"),
        tweak,
        rebuild,
    );
}
