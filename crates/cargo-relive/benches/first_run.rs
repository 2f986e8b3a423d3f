//! A new user's first `cargo relive run`: from an empty target directory to the worker loaded in
//! the running host, against a plain `cargo build --workspace` of the same new project from an
//! empty target directory, in the same run: `cargo bench -p cargo-relive --bench first_run`.
//!
//! Samples alternate between the two, so drift on the machine affects both alike. Both share the
//! machine's cargo registry cache (downloads are not measured).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLES: usize = 3;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn plain_build(dir: &Path, target: &Path) -> Duration {
    let _ = std::fs::remove_dir_all(target);
    let t = Instant::now();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .unwrap();
    assert!(status.success());
    t.elapsed()
}

/// `cargo relive run --fresh` until the host reports the worker loaded; then Ctrl-C.
fn first_run(dir: &Path, target: &Path, events: &Path) -> Duration {
    let _ = std::fs::remove_dir_all(target);
    let _ = std::fs::remove_file(events);
    std::fs::write(events, "").unwrap();
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cargo-relive"))
        .args(["relive", "run", "--fresh", "--events"])
        .arg(events)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO", env!("CARGO"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let elapsed = loop {
        let text = std::fs::read_to_string(events).unwrap_or_default();
        if text.contains("\"event\":\"loaded\"") {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "no `loaded` event: {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // SAFETY: signalling the process we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let root = repo().join("target/bench-first-run");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("game");
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-relive"))
        .args(["relive", "new", "--vcs", "none"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let target = root.join("target");
    let events = root.join("events");
    let (mut plain, mut hot) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        plain.push(plain_build(&dir, &target).as_secs_f64());
        hot.push(first_run(&dir, &target, &events).as_secs_f64());
        eprintln!(
            "sample {i}: plain build {:.2}s, first cargo relive run {:.2}s",
            plain[i], hot[i]
        );
    }
    let (p, h) = (median(plain), median(hot));
    println!("first run of a new project (median of {SAMPLES}, alternating):");
    println!("  cargo build --workspace      {p:6.2}s  (baseline)");
    println!("  cargo relive run, to loaded  {h:6.2}s  ({:.2}x)", h / p);
}
