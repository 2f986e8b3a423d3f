//! What each dev-loop lever does to the rebuild of a large worker, in one run: `cargo bench -p
//! cargo-relive --bench levers`.
//!
//! The worker is the scale bench's (~20k lines, 200 state types with serde derives, in one
//! module), with `LEVERS_WORKER=modules` the same code in 22 modules, or with
//! `LEVERS_WORKER=template` the terminal template's. After one `cargo build`, the bench takes the
//! worker's `rustc` command the way `cargo relive run` does (cargo's own, cut to the `cdylib`,
//! plus relive's link flag and std without debug info) and runs it after a one-constant edit, as
//! is and with one setting changed at a time; samples alternate between the variants so that
//! drift on the machine affects all alike. First, the baseline's compiler passes
//! (`-Z time-passes`, allowed on stable for this measurement with `RUSTC_BOOTSTRAP=1`).

#![allow(clippy::unwrap_used)]

#[path = "common/scale_worker.rs"]
mod scale_worker;
#[path = "common/session.rs"]
mod session;

use std::time::Instant;

use cargo_relive::link::Link;
use cargo_relive::project::{CargoOptions, Project};
use cargo_relive::replay::Invocation;
use scale_worker::{Derives, worker_source_in_modules, worker_source_with};
use session::{median, new_project, repo};

const SAMPLES: usize = 5;

/// The variant that stops after the front end: no code generated, nothing linked.
const CHECK_ONLY: &str = "check only (no codegen)";

/// A variant: its name, which of the command's flag values it drops, the arguments it adds.
type Setting<'a> = (&'a str, &'a dyn Fn(&str) -> bool, &'a [&'a str]);

/// The top-level passes of `-Z time-passes` output worth reporting, with their labels.
const PASSES: &[(&str, &str)] = &[
    ("parse_crate", "parse"),
    ("expand_crate", "macro expansion (derives)"),
    ("type_check_crate", "type check"),
    ("MIR_borrow_checking", "borrow check"),
    ("monomorphization_collector", "monomorphization"),
    ("codegen_crate", "codegen (to LLVM IR)"),
    ("LLVM_passes", "LLVM"),
    ("link", "link"),
    ("total", "total"),
];

fn main() {
    let root = repo().join("target/bench-levers");
    let dir = root.join("game");
    let target = root.join("target");
    new_project(&dir, "terminal");
    let src = dir.join("worker/src/lib.rs");
    // `LEVERS_WORKER=template`: the template's own worker instead, its message edited;
    // `LEVERS_WORKER=modules`: the scale worker in 22 modules.
    let shape = std::env::var("LEVERS_WORKER").unwrap_or_default();
    let template = shape == "template";
    let modules = shape == "modules";
    let template_source = std::fs::read_to_string(&src).unwrap();
    let mut k = 0;
    let mut edit = || {
        k += 1;
        let text = if template {
            template_source.replace("\"score {}", &format!("\"score{k} {{}}"))
        } else if modules {
            worker_source_in_modules(k)
        } else {
            worker_source_with(k, Derives::Serde)
        };
        std::fs::write(&src, text).unwrap();
    };
    edit();
    // SAFETY: the bench is single-threaded here; cargo_relive's build reads the variable.
    unsafe { std::env::set_var("CARGO_TARGET_DIR", &target) };
    let opts = CargoOptions {
        manifest_path: Some(dir.join("Cargo.toml")),
        ..CargoOptions::default()
    };
    let project = Project::discover(&opts, None).unwrap();
    let graph = cargo_relive::cargo::build_graph(&project, &opts).unwrap();
    let cargos = graph
        .replay
        .expect("cargo printed the worker's rustc command");
    // As `cargo relive run` links it: through `cargo relive` as the linker, std's debug info
    // left out (the bench's own executable is not `cargo-relive`: name it).
    let link = cargos
        .link()
        .clone()
        .with_shim(env!("CARGO_BIN_EXE_cargo-relive").into());
    assert!(
        link.wait(std::time::Duration::from_secs(120)).is_some(),
        "the copy of std without debug info was not made"
    );
    let base = cargos.with_link(link);
    let lines = std::fs::read_to_string(&src).unwrap().lines().count();

    // Each variant keeps its own incremental cache, as it would if it were the only setting: a
    // cache made with other flags is not reused.
    let incremental = |a: &str| a.starts_with("incremental=");
    let cache = base
        .codegen_flag("incremental")
        .expect("cargo's dev profile builds incrementally")
        .to_owned();
    let own_cache = |name: &str| format!("incremental={cache}-{name}");

    // The baseline's compiler passes, in a rebuild after an edit (the second run with these flags).
    let passes_cache = own_cache("passes");
    let mut timed = base.variant(
        incremental,
        &["-C", &passes_cache, "-Z", "time-passes"],
        &[("RUSTC_BOOTSTRAP", "1")],
    );
    let mut passes = Vec::new();
    let mut output = Vec::new();
    for _ in 0..2 {
        edit();
        output.clear();
        timed.run_to(&mut output).unwrap();
    }
    for line in String::from_utf8_lossy(&output).lines() {
        // `time:   0.123; rss: …  name`
        let Some(rest) = line.strip_prefix("time:") else {
            continue;
        };
        let secs: f64 = rest
            .trim()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap_or(0.0);
        let name = rest.split_whitespace().last().unwrap_or("");
        passes.push((name.to_owned(), secs * 1000.0));
    }
    let which = if template {
        "the template's worker"
    } else if modules {
        "the scale worker in modules (serde derives on 200 types)"
    } else {
        "the scale worker (serde derives on 200 types)"
    };
    let linker = if base.links_with_wild() {
        "wild"
    } else {
        "rust-lld"
    };
    println!("levers: {which}, {lines} lines, one rebuild after an edit, linked by {linker}");
    println!("  compiler passes of the replayed rustc (-Z time-passes):");
    for (pass, label) in PASSES {
        let ms: f64 = passes
            .iter()
            .filter(|(n, _)| n == pass)
            .map(|(_, ms)| ms)
            .sum();
        if ms > 0.0 {
            println!("    {label:<28} {ms:8.0} ms");
        }
    }
    println!("  every pass of 40 ms or more, in rustc's order (nested passes overlap):");
    for (name, ms) in passes.iter().filter(|(_, ms)| *ms >= 40.0) {
        println!("    {name:<40} {ms:8.0} ms");
    }

    let debuginfo = |a: &str| a.starts_with("debuginfo=");
    let settings: [Setting; 6] = [
        ("as relive replays it", &|_| false, &[]),
        ("-C debuginfo=0", &debuginfo, &["-C", "debuginfo=0"]),
        (
            "-C codegen-units=16",
            &|_| false,
            &["-C", "codegen-units=16"],
        ),
        (
            "-C codegen-units=64",
            &|_| false,
            &["-C", "codegen-units=64"],
        ),
        ("-C prefer-dynamic", &|_| false, &["-C", "prefer-dynamic"]),
        // The linker drops all debug info, std's included, instead of copying it.
        ("-C strip=debuginfo", &|_| false, &["-C", "strip=debuginfo"]),
    ];
    let mut variants: Vec<(&str, Invocation)> = settings
        .iter()
        .map(|(name, drop, extra)| {
            let own = own_cache(&name.replace([' ', '='], "-"));
            let mut args = vec!["-C", own.as_str()];
            args.extend_from_slice(extra);
            let v = base.variant(|a| incremental(a) || drop(a), &args, &[]);
            (*name, v)
        })
        .collect();
    variants.push(("no incremental", base.variant(incremental, &[], &[])));
    // relive's link levers, undone one at a time: wild (when relive links with it), then std's
    // debug info too (the replay as it was before either).
    if base.links_with_wild() {
        let lld = own_cache("rust-lld");
        variants.push((
            "rust-lld instead of wild",
            base.variant(incremental, &["-C", &lld], &[])
                .with_link(base.link().clone().without_wild()),
        ));
    } else {
        println!(
            "  (no `wild` on PATH: `cargo install --locked wild-linker --version 0.10.0`, the last \
             release that builds with rustc 1.95, adds it)"
        );
    }
    let with_std_debug = own_cache("std-debug");
    variants.push((
        "rust-lld, std's debug info",
        base.variant(incremental, &["-C", &with_std_debug], &[])
            .with_link(Link::default()),
    ));
    // The system's GNU ld: rustc's own rust-lld turned off (`-C linker-features=-lld`), so cc
    // runs `ld` (std without debug info still).
    let gnu_cache = own_cache("gnu-ld");
    variants.push((
        "GNU ld",
        base.variant(
            incremental,
            &["-C", &gnu_cache, "-C", "linker-features=-lld"],
            &[],
        ),
    ));
    // rustc's parallel front end, unstable: `-Z threads` (allowed on stable here by
    // `RUSTC_BOOTSTRAP=1`, which relive does not set for a user).
    let threads_cache = own_cache("threads");
    variants.push((
        "-Z threads=2",
        base.variant(
            incremental,
            &["-C", &threads_cache, "-Z", "threads=2"],
            &[("RUSTC_BOOTSTRAP", "1")],
        ),
    ));
    // The floor of any reload that compiles the crate with rustc: the front end and the
    // incremental save alone, no code generated and nothing linked (what `cargo check` runs).
    let check_cache = own_cache("check");
    variants.push((
        CHECK_ONLY,
        base.variant(
            |a| incremental(a) || a.starts_with("--emit="),
            &["-C", &check_cache, "--emit=dep-info,metadata"],
            &[],
        ),
    ));
    let mut times = vec![Vec::new(); variants.len()];
    // One untimed round first: each variant's first build fills its own caches. Each round
    // starts one variant further on, so that no variant always follows the same one (a run
    // once showed a 20 % difference between variants that vanished when run on their own).
    let n = variants.len();
    for round in 0..=SAMPLES {
        for j in 0..n {
            let i = (j + round) % n;
            edit();
            let t = Instant::now();
            let build = variants[i].1.run_to(&mut Vec::new()).unwrap();
            // The check-only variant makes no library: it succeeds when rustc reports no error.
            let built =
                build.success || (variants[i].0 == CHECK_ONLY && build.first_error.is_none());
            assert!(built, "{} does not build", variants[i].0);
            if round > 0 {
                times[i].push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let baseline = median(times[0].clone());
    println!("  the rebuild with one setting changed ({SAMPLES} alternating samples, medians):");
    for ((name, _), t) in variants.iter().zip(times) {
        let t = median(t);
        println!("    {name:<28} {t:8.0} ms   {:.2}x", t / baseline);
    }
}
