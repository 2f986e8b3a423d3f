//! A large worker: ~20k generated lines, 200 state types with serde derives. How much of
//! edit-to-effect is relive's (debounce, staging, loading, swapping) and how much the compiler's,
//! then what the state types' derives cost in each rebuild: serde's, nanoserde's (the leaner
//! codec a hand-made reloader uses), or none, and the same worker in 22 modules instead of
//! one. `cargo bench -p cargo-relive --bench scale`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[path = "common/scale_worker.rs"]
mod scale_worker;
#[path = "common/session.rs"]
mod session;

use scale_worker::{Derives, TYPES, state_crate_source, worker_source, worker_source_with};
use session::{Session, median, new_project, repo};

const EDITS: usize = 4;

/// Runs `cargo build -p worker` in the generated project; its duration in ms.
fn build_worker(dir: &Path, target: &Path) -> f64 {
    let t = std::time::Instant::now();
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "worker"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .unwrap()
        .success();
    assert!(ok, "the generated worker does not build");
    t.elapsed().as_secs_f64() * 1000.0
}

/// `cargo build -p worker` after a one-constant edit, per kind of derives: medians of `rounds`,
/// each timed build preceded by an untimed one that switches the derives.
fn derive_costs(dir: &Path, target: &Path, rounds: usize) -> Vec<(Derives, f64)> {
    let manifest = dir.join("worker/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "[dependencies]\n",
            "[dependencies]\nnanoserde = \"0.2\"\nstate = { path = \"../state\" }\n",
        ),
    )
    .unwrap();
    let root = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&root).unwrap();
    std::fs::write(&root, text.replace("\"worker\"]", "\"worker\", \"state\"]")).unwrap();
    std::fs::create_dir_all(dir.join("state/src")).unwrap();
    // The worker's own `relive-worker = …` line (a path or git source), for the state crate.
    let relive_worker = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("relive-worker = "))
        .unwrap()
        .to_owned();
    std::fs::write(
        dir.join("state/Cargo.toml"),
        format!(
            "[package]\nname = \"state\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\n{relive_worker}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("state/src/lib.rs"), state_crate_source()).unwrap();
    let src = dir.join("worker/src/lib.rs");
    let kinds = [
        Derives::Serde,
        Derives::SerdeCrate,
        Derives::StateCrate,
        Derives::Nanoserde,
        Derives::None,
        Derives::SerdeModules,
    ];
    let mut times = vec![Vec::new(); kinds.len()];
    let mut k = 100;
    for _ in 0..rounds {
        for (i, derives) in kinds.iter().enumerate() {
            for timed in [false, true] {
                k += 1;
                std::fs::write(&src, worker_source_with(k, *derives)).unwrap();
                let ms = build_worker(dir, target);
                if timed {
                    times[i].push(ms);
                }
            }
        }
    }
    kinds
        .into_iter()
        .zip(times.into_iter().map(median))
        .collect()
}

/// `cargo build -p worker` after a one-constant edit with the worker (serde derives) built at
/// opt-level 1, the profile that makes a plain-serde state codec fast: median of `rounds`.
fn opt_level_one_cost(dir: &Path, target: &Path, rounds: usize) -> f64 {
    let root = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&root).unwrap();
    std::fs::write(
        &root,
        format!("{text}\n[profile.dev.package.worker]\nopt-level = 1\n"),
    )
    .unwrap();
    let src = dir.join("worker/src/lib.rs");
    let mut times = Vec::new();
    for k in 0..=rounds {
        std::fs::write(&src, worker_source_with(200 + k, Derives::Serde)).unwrap();
        let ms = build_worker(dir, target);
        if k > 0 {
            times.push(ms); // the first one switched the profile
        }
    }
    std::fs::write(&root, text).unwrap();
    median(times)
}

/// Edit to effect under `cargo relive run` for the worker made with `derives`: medians of
/// (edit to effect, build, swap pause) in ms, and the state's size. The session's first edit,
/// right after its cargo build, is printed on its own.
fn hot_session(root: &Path, dir: &Path, target: &Path, derives: Derives) -> (f64, f64, f64, u64) {
    let src = dir.join("worker/src/lib.rs");
    std::fs::write(&src, worker_source_with(0, derives)).unwrap();
    let mut session = Session::start(dir, target, &root.join("events.fifo"), &[]);
    session.next("loaded");
    let (mut effect, mut build, mut pause, mut state) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..=EDITS {
        std::fs::write(&src, worker_source_with(i + 1, derives)).unwrap();
        let e = session.next("reloaded");
        if i == 0 {
            // The first replay after the session's cargo build: it finds the replay's own
            // incremental cache from the last session (sharing cargo's, it compiled the whole
            // crate).
            println!(
                "  ({derives:?}: the session's first edit, after its cargo build: {:.1} ms, build {:.1} ms)",
                e["edit_to_effect_ms"].as_f64().unwrap(),
                e["build_ms"].as_f64().unwrap()
            );
            continue;
        }
        effect.push(e["edit_to_effect_ms"].as_f64().unwrap());
        build.push(e["build_ms"].as_f64().unwrap());
        pause.push(e["timings"]["pause"].as_f64().unwrap() / 1000.0);
        state = e["state_bytes"].as_u64().unwrap();
    }
    session.stop();

    (median(effect), median(build), median(pause), state)
}

fn main() {
    let root = repo().join("target/bench-scale");
    let dir = root.join("game");
    let target = root.join("target");
    new_project(&dir, "terminal");
    let src = dir.join("worker/src/lib.rs");
    std::fs::write(&src, worker_source(0)).unwrap();
    let lines = worker_source(0).lines().count();

    let (e, b, p, state) = hot_session(&root, &dir, &target, Derives::Serde);
    println!(
        "scale: generated worker of {lines} lines, {TYPES} state types, state {state} bytes ({EDITS} edits, medians)"
    );
    println!("  edit to effect        {e:9.1} ms");
    println!("  of which the build    {b:9.1} ms");
    println!("  swap pause            {p:9.2} ms");
    println!(
        "  relive's share        {:9.2} %  (edit to effect minus the build, over edit to effect)",
        (e - b) / e * 100.0
    );

    let costs = derive_costs(&dir, &target, 3);
    let opt1 = opt_level_one_cost(&dir, &target, 2);
    let floor = costs
        .iter()
        .find(|(d, _)| *d == Derives::None)
        .map_or(f64::NAN, |(_, ms)| *ms);
    println!(
        "derives on the {TYPES} state types, `cargo build -p worker` after an edit (medians of 3):"
    );
    let serde_ms = costs
        .iter()
        .find(|(d, _)| *d == Derives::Serde)
        .map_or(f64::NAN, |(_, ms)| *ms);
    let costs_state = costs
        .iter()
        .find(|(d, _)| *d == Derives::StateCrate)
        .map_or(f64::NAN, |(_, ms)| *ms);
    for (derives, ms) in costs {
        if derives == Derives::SerdeModules {
            println!(
                "  {:<12} {ms:9.1} ms   {:.2}x the same code in one module (Serde)",
                format!("{derives:?}"),
                ms / serde_ms
            );
            continue;
        }
        println!(
            "  {:<12} {ms:9.1} ms   derives' share of the rebuild {:5.1} %",
            format!("{derives:?}"),
            (ms - floor) / ms * 100.0
        );
    }
    println!(
        "  Serde, worker at opt-level 1 (median of 2) {opt1:9.1} ms   ({:.1}x the opt-level 0 rebuild)",
        opt1 / serde_ms
    );
    // The same worker with its state and codec in the crate `state` (derive_costs made it), under
    // `cargo relive run`.
    let (e2, b2, _, _) = hot_session(&root, &dir, &target, Derives::StateCrate);
    println!(
        "StateCrate under cargo relive run: edit to effect {e2:.1} ms (build {b2:.1} ms); \
         {:.2}x its bare cargo build, {:.2}x the bare build of the worker with its derives",
        e2 / costs_state,
        e2 / serde_ms
    );
}
