//! The two layouts side by side, in one run: `cargo bench -p cargo-relive --bench layouts`.
//!
//! - `terminal, own copies`: the terminal template as `cargo relive new` makes it (the worker
//!   carries its own std and dependencies, the context layout);
//! - `terminal, shared std`: the same project with `.cargo/config.toml` setting
//!   `-C prefer-dynamic` (host and worker share one `libstd-*.so`);
//! - `window, engine direct`: the window template (the worker calls macroquad through the shared
//!   `base` dylib), on an Xvfb display of its own.
//!
//! For each: the worker library's size, a bare `cargo build -p worker` of an edit, edit to
//! effect under `cargo relive run` (samples alternate with the bare builds), the swap pause, and
//! the host's resident memory per reload. Needs Xvfb for the window project.

#![allow(clippy::unwrap_used)]

#[path = "common/session.rs"]
mod session;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use session::{Session, cargo_timed, median, new_project, repo};
use std::time::Duration;

const SAMPLES: usize = 8;

/// Replaces the text between `from` and the next `until` with `from` + `i`.
fn edit(src: &Path, from: &str, until: &str, i: usize) {
    let text = std::fs::read_to_string(src).unwrap();
    let start = text.find(from).unwrap();
    let end = start + text[start..].find(until).unwrap();
    let new = format!("{}{from}{i}{}", &text[..start], &text[end..]);
    std::fs::write(src, new).unwrap();
}

fn rss_kib(pid: u64) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

struct Layout {
    name: &'static str,
    template: &'static str,
    shared_std: bool,
    /// The edit: the text before the changing number, and the text after it.
    edit: (&'static str, &'static str),
}

struct Measured {
    so_bytes: u64,
    bare_ms: f64,
    effect_ms: f64,
    build_ms: f64,
    pause_ms: f64,
    rss_per_reload_kib: f64,
}

/// An X server of the bench's own, killed however the bench ends.
struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xvfb() -> (Xvfb, String) {
    let n = 200 + std::process::id() % 500;
    let display = format!(":{n}");
    let child = Command::new("Xvfb")
        .args([&display, "-screen", "0", "800x600x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (apt-get install xvfb libgl1-mesa-dri)");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    while !socket.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    (Xvfb(child), display)
}

fn measure(layout: &Layout, root: &Path, display: &str) -> Measured {
    let mut projects = Vec::new();
    for side in ["hot", "bare"] {
        let dir = root.join(format!("{}-{side}", layout.template));
        let dir = if layout.shared_std {
            dir.with_extension("shared")
        } else {
            dir
        };
        let target = dir.with_extension(if layout.shared_std {
            "shared-target"
        } else {
            "target"
        });
        new_project(&dir, layout.template);
        if layout.shared_std {
            std::fs::create_dir_all(dir.join(".cargo")).unwrap();
            std::fs::write(
                dir.join(".cargo/config.toml"),
                "[build]\nrustflags = [\"-C\", \"prefer-dynamic\"]\n",
            )
            .unwrap();
        }
        cargo_timed(&dir, &target, &["build", "-p", "worker", "-p", "host"]);
        projects.push((dir, target));
    }
    let (hot_dir, hot_target) = projects[0].clone();
    let (bare_dir, bare_target) = projects[1].clone();
    let so_bytes = std::fs::metadata(bare_target.join("debug/libworker.so"))
        .unwrap()
        .len();

    let events = root.join(format!("{}.fifo", layout.name.replace([' ', ','], "-")));
    let mut session = Session::start(&hot_dir, &hot_target, &events, &[("DISPLAY", display)]);
    let pid = session.next("host_started")["pid"].as_u64().unwrap();
    session.next("loaded");
    let (mut bare, mut effect, mut build, mut pause) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rss_start = 0.0;
    let (from, until) = layout.edit;
    // One warm-up round each (the first cdylib-only build after a full one rebuilds more).
    for i in 0..=SAMPLES {
        // From 1: the window template's `300.` + `0` is its own text, and a save that changes
        // nothing builds nothing.
        edit(&hot_dir.join("worker/src/lib.rs"), from, until, i + 1);
        let e = session.next("reloaded");
        edit(&bare_dir.join("worker/src/lib.rs"), from, until, i + 1);
        let b = cargo_timed(&bare_dir, &bare_target, &["build", "-p", "worker"]);
        if i == 0 {
            rss_start = rss_kib(pid);
            continue;
        }
        bare.push(b.as_secs_f64() * 1000.0);
        effect.push(e["edit_to_effect_ms"].as_f64().unwrap());
        build.push(e["build_ms"].as_f64().unwrap());
        pause.push(e["timings"]["pause"].as_f64().unwrap() / 1000.0);
    }
    let rss_end = rss_kib(pid);
    session.stop();
    Measured {
        so_bytes,
        bare_ms: median(bare),
        effect_ms: median(effect),
        build_ms: median(build),
        pause_ms: median(pause),
        rss_per_reload_kib: (rss_end - rss_start) / SAMPLES as f64,
    }
}

fn main() {
    let root = repo().join("target/bench-layouts");
    let (x, display) = xvfb();
    let layouts = [
        Layout {
            name: "terminal, own copies",
            template: "terminal",
            shared_std: false,
            edit: ("\"score", " {}"),
        },
        Layout {
            name: "terminal, shared std",
            template: "terminal",
            shared_std: true,
            edit: ("\"score", " {}"),
        },
        Layout {
            name: "window, engine direct",
            template: "window",
            shared_std: false,
            edit: ("const SPEED: f32 = 300.", ";"),
        },
    ];
    let results: Vec<(&str, Measured)> = layouts
        .iter()
        .map(|l| (l.name, measure(l, &root, &display)))
        .collect();
    drop(x);
    println!(
        "layouts ({SAMPLES} alternating samples each; medians; edit to effect is also given as a \
         ratio of the bare `cargo build -p worker` of the same edit)"
    );
    println!(
        "  {:<24} {:>9} {:>9} {:>14} {:>9} {:>9} {:>12}",
        "layout", "worker .so", "bare ms", "effect ms", "build ms", "pause ms", "RSS/reload"
    );
    for (name, m) in results {
        println!(
            "  {:<24} {:>7.0}KB {:>9.0} {:>7.0} ({:.2}×) {:>9.0} {:>9.2} {:>9.0} KiB",
            name,
            m.so_bytes as f64 / 1024.0,
            m.bare_ms,
            m.effect_ms,
            m.effect_ms / m.bare_ms,
            m.build_ms,
            m.pause_ms,
            m.rss_per_reload_kib
        );
    }
}
