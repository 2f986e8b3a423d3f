//! Real fixture crates: copied per test into a temp dir, edited there, built with cargo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fixture_base::Context;
use relive::Event;

/// The test host's context: records what the worker emits.
#[derive(Default)]
pub struct Host {
    pub lines: Vec<String>,
    pub input: i64,
}

impl Context for Host {
    fn emit(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }

    fn input(&self) -> i64 {
        self.input
    }
}

impl Host {
    pub fn last(&self) -> &str {
        self.lines.last().map(String::as_str).unwrap_or("")
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// The target dir all fixture builds share: `fixtures/` inside this test's own target directory
/// (wherever `CARGO_TARGET_DIR` put it; not the target directory itself, whose lock `cargo test`
/// holds). relive loads only libraries under the running executable's target directory.
pub fn fixture_target() -> PathBuf {
    relive::locate::own_target_dir()
        .expect("the test runs from a cargo target directory")
        .join("fixtures")
}

/// `cargo ARGS` on the fixtures' own workspace (`fixtures/Cargo.toml`) into `target`, which must
/// succeed.
pub fn cargo_fixtures(args: &[&str], target: &Path) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(fixtures().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Set in the process of the test of relive's stderr fallback for a host without a logger.
pub const NO_LOGGER_CHILD: &str = "RELIVE_TEST_NO_LOGGER_CHILD";

/// A private, editable copy of one fixture crate.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub name: String,
    target: PathBuf,
    rustflags: Option<String>,
    release: bool,
}

impl Fixture {
    /// Copies `fixtures/<template>` as a crate named `<template>_<test>` and builds it.
    pub fn new(template: &str, test: &str) -> Fixture {
        let fx = Fixture::copy(template, test);
        fx.build()
            .unwrap_or_else(|e| panic!("fixture {template} does not build:\n{e}"));
        fx
    }

    /// Copies without building.
    pub fn copy(template: &str, test: &str) -> Fixture {
        // The tests' logger: failures are logged, not also printed on stderr (relive's fallback
        // for a host with no logger), which would read as errors in a green run. Not in the
        // process that tests that fallback.
        if std::env::var_os(NO_LOGGER_CHILD).is_none() {
            capture();
        }
        let tmp = tempfile::Builder::new()
            .prefix("relive-it-")
            .tempdir()
            .unwrap();
        let name = format!("{template}_{test}");
        let dir = tmp.path().join(&name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let src = fixtures().join(template);
        for entry in std::fs::read_dir(src.join("src")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join("src").join(entry.file_name())).unwrap();
        }
        let manifest = std::fs::read_to_string(src.join("Cargo.toml")).unwrap();
        let fixtures_dir = fixtures();
        let manifest = manifest
            .replace(
                &format!("name = \"{template}\""),
                &format!("name = \"{name}\""),
            )
            .replace(
                "path = \"../../",
                &format!("path = \"{}/", repo().display()),
            )
            .replace(
                "path = \"../",
                &format!("path = \"{}/", fixtures_dir.display()),
            );
        let manifest =
            format!("{manifest}\n[workspace]\n\n[profile.dev]\ndebug = \"line-tables-only\"\n");
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(fixtures_dir.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Fixture {
            _tmp: tmp,
            dir,
            name,
            target: fixture_target(),
            rustflags: None,
            release: false,
        }
    }

    /// Gives the copy its own copy of the interface crate, at `<tmp>/base`, with the same
    /// sources (so the same fingerprint) until [`Fixture::edit_base`] changes them.
    pub fn with_own_base(self) -> Fixture {
        let base = self.dir.parent().unwrap().join("base");
        std::fs::create_dir_all(base.join("src")).unwrap();
        let src = fixtures().join("base");
        std::fs::copy(src.join("src/lib.rs"), base.join("src/lib.rs")).unwrap();
        let manifest = std::fs::read_to_string(src.join("Cargo.toml"))
            .unwrap()
            .replace(
                "path = \"../../",
                &format!("path = \"{}/", repo().display()),
            );
        std::fs::write(base.join("Cargo.toml"), manifest).unwrap();
        let manifest_path = self.dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest_path).unwrap().replace(
            &fixtures().join("base").display().to_string(),
            &base.display().to_string(),
        );
        std::fs::write(manifest_path, manifest).unwrap();
        self
    }

    /// Replaces `from` with `to` in the own interface crate's `src/lib.rs`.
    pub fn edit_base(&self, from: &str, to: &str) {
        let path = self.dir.parent().unwrap().join("base/src/lib.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is not in {}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Builds with another target dir and RUSTFLAGS (for a build that differs from the host's).
    pub fn with_flags(mut self, target: PathBuf, rustflags: &str) -> Fixture {
        self.target = target;
        self.rustflags = Some(rustflags.to_owned());
        self
    }

    /// Appends `text` (profile tables) to the copy's manifest, e.g. to build its dependencies
    /// optimized; the crate's own name is `self.name`.
    #[allow(dead_code)]
    pub fn with_manifest_tail(self, text: &str) -> Fixture {
        let path = self.dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{manifest}\n{text}\n")).unwrap();
        self
    }

    /// Builds with the release profile from now on (the reload bench measures calls with it).
    #[allow(dead_code)]
    pub fn release(mut self) -> Fixture {
        self.release = true;
        self
    }

    /// The library cargo writes (and relive watches).
    pub fn lib(&self) -> PathBuf {
        let profile = if self.release { "release" } else { "debug" };
        self.target
            .join(profile)
            .join(format!("lib{}.so", self.name))
    }

    /// Replaces `from` (which must be there) with `to` in `src/lib.rs`.
    pub fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("src/lib.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is not in {}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Replaces every `from` (which must be there) with `to` in `src/lib.rs`.
    pub fn edit_all(&self, from: &str, to: &str) {
        let path = self.dir.join("src/lib.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is not in {}", path.display());
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    /// Sets one of the fixture's `const NAME: bool = false; // EDIT` knobs to true.
    pub fn knob(&self, name: &str) {
        self.edit(
            &format!("const {name}: bool = false;"),
            &format!("const {name}: bool = true;"),
        );
    }

    /// `cargo build` of the copy; the compiler's output on failure.
    pub fn build(&self) -> Result<(), String> {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(self.dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&self.target)
            .args(self.release.then_some("--release"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        if let Some(flags) = &self.rustflags {
            cmd.env("RUSTFLAGS", flags);
        }
        let out = cmd.output().unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Waits for the first event that `pick` accepts, failing the test after 60 s.
pub fn wait_for<T>(
    events: &Receiver<Event>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => {
                if let Some(t) = pick(&event) {
                    return t;
                }
                seen.push(event);
            }
            Err(_) => panic!("no {what} within 60 s; events seen: {seen:#?}"),
        }
    }
}

/// How long a test waits for a build to be picked up.
pub const BUILD_WAIT: Duration = Duration::from_secs(60);

/// Whether any mapping of this process comes from `path`.
pub fn is_mapped(path: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let wanted = path.to_string_lossy();
    maps.lines().any(|l| {
        l.find('/')
            .map(|at| &l[at..])
            .is_some_and(|p| p.strip_suffix(" (deleted)").unwrap_or(p) == wanted)
    })
}

/// Resident set size of this process in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The test process's logger: keeps the records of the fixture's target.
pub struct Capture(pub Mutex<Vec<(log::Level, String, Option<String>)>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "fixture_log" && self.enabled(record.metadata()) {
            let file = record.file().map(str::to_owned);
            self.0
                .lock()
                .unwrap()
                .push((record.level(), record.args().to_string(), file));
        }
    }

    fn flush(&self) {}
}

pub fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        capture
    })
}
