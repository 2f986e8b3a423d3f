//! How the replayed `rustc` links the worker: against a copy of std without its debug info, and
//! with the wild linker when it is installed.
//!
//! For a small worker the link is the largest part of a rebuild (~40 of ~100 ms for the
//! template's), and most of what it reads and writes is the debug info of std, which every
//! context-layout worker links in: 4.9 MB of the template worker's 5.1 MB library. The user's
//! code needs its own line tables (backtraces, a debugger); without std's, a backtrace's std
//! frames show no `file:line` (rarely what a user reads), and `-C strip=debuginfo` would drop
//! both.
//!
//! So relive keeps a copy of the toolchain's std `rlib`s with their debug sections removed, made
//! once per toolchain in the target directory (`relive/link/std-nodebug/`) by the toolchain's own
//! `rust-objcopy`, in the background while the session starts. The replayed `rustc` then runs
//! `cargo relive` itself as its linker (`-C linker=`): in that role ([`shim`]) it puts the copies
//! in place of std's `rlib`s on the command line and runs the real linker (`cc`, or the one the
//! command named) with everything else unchanged.
//!
//! - `-C linker` is not tracked by incremental compilation: the replay's cache stays good
//!   whether a build links through the shim or not (after a fallback, say).
//! - The shim is not used for a worker that links std dynamically (`-C prefer-dynamic`, the
//!   engine-direct layout), for a command that picks its linker flavor or a linker that is not a
//!   C compiler driver, or when the copy cannot be made: that link is as cargo ran it.
//! - If a link fails with the shim, [`crate::replay::Invocation`] links again without it.
//!
//! When `wild` is on `PATH` (`cargo install --locked wild-linker`), the replay links with it
//! instead of rustc's bundled rust-lld (`-C linker-features=-lld` and `-B` naming a directory
//! whose `ld` is wild; untracked too). `RELIVE_WILD=off` keeps rust-lld. The `levers` bench
//! measures both, with and without std's debug info.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The environment variable that makes `cargo relive` act as the linker: the real linker, the
/// toolchain's std directory and the stripped copy's, one per line.
pub const SHIM_ENV: &str = "CARGO_RELIVE_LINK_SHIM";

/// The file the shim writes the link's duration to (microseconds, as text), if set.
pub const REPORT_ENV: &str = "CARGO_RELIVE_LINK_REPORT";

/// Arguments and environment a replayed command gets for its link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    /// Arguments for `rustc`.
    pub args: Vec<String>,
    /// Environment for `rustc` (and so for the linker it runs).
    pub env: Vec<(String, String)>,
    /// Whether they make wild the linker.
    pub wild: bool,
    /// Where the shim writes how long the link took.
    pub report: Option<PathBuf>,
}

/// Where a stripped copy of std's `rlib`s is: the toolchain's directory and the copy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrippedStd {
    /// The toolchain's `lib/rustlib/<target>/lib`.
    pub from: PathBuf,
    /// The copy, with the same file names.
    pub to: PathBuf,
}

/// What the preparation found: the stripped copy, and a directory whose `ld` is wild.
#[derive(Debug, Default)]
struct Prepared {
    stripped: Option<StrippedStd>,
    wild: Option<PathBuf>,
    /// wild is not on `PATH`, though rustc takes the flag that would let relive use it and
    /// `RELIVE_WILD` is not `off`: installing it would speed the link up.
    wild_missing: bool,
}

/// The replay's link setup: what is being prepared (or was), and the program that links.
#[derive(Debug, Clone)]
pub struct Link {
    /// Filled once by the preparation thread.
    prepared: Arc<OnceLock<Prepared>>,
    /// The program `rustc` runs as its linker to reach [`shim`]: a `cargo-relive` binary.
    shim: Option<PathBuf>,
    /// Whether wild is used when the preparation found it.
    use_wild: bool,
    /// Where the shim reports the link's duration (one file per process).
    report: Option<PathBuf>,
}

impl Default for Link {
    /// No shim: the command links as cargo ran it.
    fn default() -> Link {
        Link {
            prepared: Arc::new(OnceLock::from(Prepared::default())),
            shim: None,
            use_wild: false,
            report: None,
        }
    }
}

impl Link {
    /// Starts making (or checking) the stripped copy of std for the `rustc` at `rustc`, for
    /// `target` (`--target`, if the command has one), under `cache`, and looking for wild, on a
    /// thread of its own; once per process for each toolchain and target. The shim is this
    /// process's executable when it is `cargo-relive`.
    pub fn prepare(rustc: &str, target: Option<&str>, cache: &Path) -> Link {
        type Started = Vec<((String, Option<String>, PathBuf), Link)>;
        static STARTED: Mutex<Started> = Mutex::new(Vec::new());
        let key = (
            rustc.to_owned(),
            target.map(str::to_owned),
            cache.to_owned(),
        );
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, link)) = started.iter().find(|(k, _)| *k == key) {
            return link.clone();
        }
        let shim = std::env::current_exe().ok().filter(|exe| {
            exe.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cargo-relive"))
        });
        let link = Link {
            prepared: Arc::default(),
            shim,
            use_wild: true,
            report: Some(cache.join(format!("link-{}.us", std::process::id()))),
        };
        let slot = link.prepared.clone();
        let (rustc, target, cache) = key.clone();
        let spawned = std::thread::Builder::new()
            .name("relive-link".into())
            .spawn(move || {
                // Out of the way of the host starting meanwhile: on Linux this sets the calling
                // thread's priority, and the processes it starts inherit it.
                // SAFETY: setpriority reads only its integer arguments.
                unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
                let (wild, wild_missing) = match wild_dir(&cache.join("wild"), &rustc) {
                    Ok(dir) => (Some(dir), false),
                    Err(NoWild::NotOnPath) => (None, true),
                    Err(NoWild::Other) => (None, false),
                };
                let _ = slot.set(Prepared {
                    wild,
                    wild_missing,
                    stripped: make_stripped_std(&rustc, target.as_deref(), &cache).ok(),
                });
            });
        if spawned.is_err() {
            let _ = link.prepared.set(Prepared::default());
        }
        started.push((key, link.clone()));
        link
    }

    /// The same setup with `program` as the shim (a bench or a test, whose own executable is
    /// not `cargo-relive`).
    pub fn with_shim(mut self, program: PathBuf) -> Link {
        self.shim = Some(program);
        self
    }

    /// The same setup without wild (the `levers` bench's comparison).
    pub fn without_wild(mut self) -> Link {
        self.use_wild = false;
        self
    }

    /// Waits until the preparation is done, for at most `limit`; what it found.
    fn prepared(&self, limit: Duration) -> Option<&Prepared> {
        let start = Instant::now();
        while self.prepared.get().is_none() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.prepared.get()
    }

    /// Waits until the copy is made or known impossible, for at most `limit`; where it is.
    pub fn wait(&self, limit: Duration) -> Option<&StrippedStd> {
        self.prepared(limit)?.stripped.as_ref()
    }

    /// What to add to a command with `args`: `rustc` linking through the shim, unless the
    /// command links std another way or picks a linker the shim does not stand in for, or the
    /// copy could not be made; wild, if installed and the command leaves the linker to rustc.
    /// A copy still being made (it takes ~0.4 s, once per toolchain, when the session starts)
    /// is waited for, up to a few seconds.
    pub fn additions(&self, args: &[String]) -> Additions {
        let mut added = Additions::default();
        let stripped = self.wait(Duration::from_secs(5));
        // The shim times every link it can run; it swaps in the stripped std only where the
        // command links std statically (not `prefer-dynamic`) and the copy is ready.
        if let (Some(linker), Some(shim)) = (linker_of(args), self.shim.as_ref()) {
            let (from, to) = match (linker_to_wrap(args), stripped) {
                (Some(_), Some(stripped)) => (
                    stripped.from.display().to_string(),
                    stripped.to.display().to_string(),
                ),
                _ => (String::new(), String::new()),
            };
            let spec = format!("{linker}\n{from}\n{to}");
            added.args = vec!["-C".to_owned(), format!("linker={}", shim.display())];
            added.env.push((SHIM_ENV.to_owned(), spec));
            if let Some(report) = &self.report {
                added
                    .env
                    .push((REPORT_ENV.to_owned(), report.display().to_string()));
                added.report = Some(report.clone());
            }
        }
        if let Some(dir) = self.wild_for(args) {
            added.args.extend([
                "-C".to_owned(),
                "linker-features=-lld".to_owned(),
                "-C".to_owned(),
                format!("link-arg=-B{}/", dir.display()),
            ]);
            added.wild = true;
        }
        added
    }

    /// Whether wild would link a command with `args` if it were installed: it is not on `PATH`,
    /// rustc takes the flag relive uses it with, `RELIVE_WILD` is not `off` and the command
    /// leaves the choice of linker to rustc. `false` while the preparation runs.
    pub fn wild_missing_for(&self, args: &[String]) -> bool {
        self.use_wild
            && !chooses_linker(args)
            && self.prepared.get().is_some_and(|p| p.wild_missing)
    }

    /// The directory whose `ld` is wild, if wild is installed and the command (`args`) leaves
    /// the choice of linker to rustc.
    pub fn wild_for(&self, args: &[String]) -> Option<&Path> {
        if chooses_linker(args) || !self.use_wild {
            return None;
        }
        self.prepared.get()?.wild.as_deref()
    }
}

/// Whether a command with `args` picks its linker itself.
fn chooses_linker(args: &[String]) -> bool {
    args.iter()
        .any(|a| a.contains("linker-features") || a.contains("-fuse-ld") || a.contains("linker="))
}

/// Where the link setup keeps its files (the stripped std, wild's directory, the link timings,
/// [`WILD_SUGGESTED`]) for a target directory.
pub fn cache_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("relive").join("link")
}

/// The file, next to wild's directory, whose presence says that the session suggested
/// installing wild (once per target directory).
pub const WILD_SUGGESTED: &str = "wild-suggested";

/// Why relive does not link with wild.
#[derive(Debug, PartialEq)]
enum NoWild {
    /// It is not on `PATH`; everything else would let relive use it.
    NotOnPath,
    /// `RELIVE_WILD=off`, a rustc without `-C linker-features`, or its directory not made.
    Other,
}

/// Makes `dir` hold an `ld` that is the wild linker found on `PATH`, unless `RELIVE_WILD=off`.
/// The `rustc` must take `-C linker-features` (stable since rust 1.90): asked once.
fn wild_dir(dir: &Path, rustc: &str) -> Result<PathBuf, NoWild> {
    if std::env::var("RELIVE_WILD").is_ok_and(|v| v == "off") {
        return Err(NoWild::Other);
    }
    let wild = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("wild"))
            .find(|p| p.is_file())
    });
    // Without wild, rustc is asked only for the suggestion to install it, made once.
    let suggested = dir.with_file_name(WILD_SUGGESTED).exists();
    if wild.is_none() && suggested {
        return Err(NoWild::Other);
    }
    let takes_the_flag = Command::new(rustc)
        .args(["-C", "linker-features=-lld", "--print", "sysroot"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !takes_the_flag {
        return Err(NoWild::Other);
    }
    let wild = wild.ok_or(NoWild::NotOnPath)?;
    std::fs::create_dir_all(dir).map_err(|_| NoWild::Other)?;
    let ld = dir.join("ld");
    if std::fs::read_link(&ld).ok().as_deref() != Some(wild.as_path()) {
        // Into place by a rename: a link running meanwhile (another session) always finds one.
        let fresh = dir.join(format!(".ld.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        std::os::unix::fs::symlink(&wild, &fresh).map_err(|_| NoWild::Other)?;
        std::fs::rename(&fresh, &ld).map_err(|_| NoWild::Other)?;
    }
    Ok(dir.to_owned())
}

/// The linker the shim runs for a command with `args`: `cc`, or the C compiler driver the
/// command names with `-C linker=`. `None` when std is linked dynamically, or the command picks
/// a linker flavor or a linker the shim does not stand in for.
fn linker_to_wrap(args: &[String]) -> Option<String> {
    let dynamic = args.iter().enumerate().any(|(i, word)| {
        let flag = if word == "-C" {
            args.get(i + 1).map(String::as_str).unwrap_or_default()
        } else {
            word.strip_prefix("-C").unwrap_or_default()
        };
        flag.starts_with("prefer-dynamic")
    });
    if dynamic {
        return None;
    }
    linker_of(args)
}

/// The linker driver a command links with (`cc` unless it names one), if the shim can stand in
/// for it: a C compiler driver, not a linker flavor of rustc's own.
fn linker_of(args: &[String]) -> Option<String> {
    let mut linker = "cc".to_owned();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let flag = if word == "-C" {
            words.next().map(String::as_str).unwrap_or_default()
        } else {
            word.strip_prefix("-C").unwrap_or_default()
        };
        if flag.starts_with("linker-flavor") {
            return None;
        }
        if let Some(program) = flag.strip_prefix("linker=") {
            let name = Path::new(program).file_name()?.to_str()?;
            let driver = ["cc", "gcc", "clang", "c++", "g++", "clang++"]
                .iter()
                .any(|d| name == *d || name.ends_with(&format!("-{d}")));
            if !driver {
                return None;
            }
            linker = program.to_owned();
        }
    }
    Some(linker)
}

/// Makes (or brings up to date) the stripped copy of the `rlib`s in `rustc`'s target libdir.
/// A copy is current when its modification time is the original's.
fn make_stripped_std(
    rustc: &str,
    target: Option<&str>,
    cache: &Path,
) -> Result<StrippedStd, String> {
    let print = |what: &str| -> Result<PathBuf, String> {
        let mut cmd = Command::new(rustc);
        cmd.args(["--print", what]);
        if let Some(target) = target {
            cmd.args(["--target", target]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {rustc}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !text.is_empty())
            .then(|| PathBuf::from(text))
            .ok_or_else(|| format!("`{rustc} --print {what}` failed"))
    };
    let from = print("target-libdir")?;
    let sysroot = print("sysroot")?;
    let objcopy = std::fs::read_dir(sysroot.join("lib/rustlib"))
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin/rust-objcopy"))
        .find(|p| p.is_file())
        .ok_or("the toolchain has no rust-objcopy")?;
    let name = |p: &Path, up: usize| {
        p.ancestors()
            .nth(up)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // `<sysroot>/lib/rustlib/<target>/lib`: named after the toolchain and the target.
    let to = cache
        .join("std-nodebug")
        .join(name(&from, 4))
        .join(name(&from, 1));
    std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    let originals: Vec<PathBuf> = std::fs::read_dir(&from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rlib"))
        .collect();
    // Copies of rlibs the toolchain no longer has (it was updated) go.
    for entry in std::fs::read_dir(&to).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        // Not another session's copy in progress (`.<name>.<pid>.partial`).
        if !name.to_string_lossy().starts_with('.') && !from.join(name).is_file() {
            let _ = std::fs::remove_file(path);
        }
    }
    let library_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(p) if !p.is_empty() => {
            let mut joined = OsString::from(sysroot.join("lib"));
            joined.push(":");
            joined.push(p);
            joined
        }
        _ => sysroot.join("lib").into_os_string(),
    };
    for original in &originals {
        let (Some(file), Ok(modified)) = (
            original.file_name(),
            original.metadata().and_then(|m| m.modified()),
        ) else {
            continue;
        };
        let copy = to.join(file);
        if copy.metadata().and_then(|m| m.modified()).ok() == Some(modified) {
            continue;
        }
        // Two sessions sharing a target directory may make it at once.
        let partial = to.join(format!(
            ".{}.{}.partial",
            file.to_string_lossy(),
            std::process::id()
        ));
        // rust-objcopy finds its LLVM in the toolchain's `lib`.
        let stripped = Command::new(&objcopy)
            .arg("--strip-debug")
            .arg(original)
            .arg(&partial)
            .env("LD_LIBRARY_PATH", &library_path)
            .output()
            .is_ok_and(|o| o.status.success());
        let dated = stripped
            && std::fs::File::options()
                .write(true)
                .open(&partial)
                .and_then(|f| f.set_modified(modified))
                .is_ok();
        if dated {
            let _ = std::fs::rename(&partial, &copy);
        } else {
            // That rlib links as it is: the shim only swaps in copies that exist.
            let _ = std::fs::remove_file(&partial);
        }
    }
    Ok(StrippedStd { from, to })
}

/// When `cargo relive` runs as the replay's linker ([`SHIM_ENV`] set): runs the real linker
/// with std's `rlib`s replaced by their stripped copies, and returns its exit code. `None`
/// otherwise.
pub fn shim() -> Option<i32> {
    let spec = std::env::var(SHIM_ENV).ok()?;
    // `split`, not `lines`: empty lines (no copy: only timed) count.
    let mut lines = spec.split('\n');
    let (Some(linker), Some(from), Some(to)) = (lines.next(), lines.next(), lines.next()) else {
        eprintln!(
            "relive: {SHIM_ENV} is malformed: it names the linker, std's directory and the copy's, one per line"
        );
        return Some(2);
    };
    let stripped = StrippedStd {
        from: from.into(),
        to: to.into(),
    };
    let start = Instant::now();
    // No copy named: the link is only timed.
    let substitute = !stripped.from.as_os_str().is_empty();
    let args: Vec<OsString> = std::env::args_os()
        .skip(1)
        .map(|arg| {
            if substitute {
                stripped.substitute(arg)
            } else {
                arg
            }
        })
        .collect();
    let mut linking = Command::new(linker);
    linking
        .args(&args)
        .env_remove(SHIM_ENV)
        .env_remove(REPORT_ENV);
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        use std::os::unix::process::CommandExt as _;
        let error = linking.exec();
        eprintln!("relive: cannot run the linker `{linker}`: {error}");
        return Some(127);
    };
    match linking.status() {
        Ok(status) => {
            let _ = std::fs::write(report, start.elapsed().as_micros().to_string());
            Some(status.code().unwrap_or(1))
        }
        Err(error) => {
            eprintln!("relive: cannot run the linker `{linker}`: {error}");
            Some(127)
        }
    }
}

/// The link's duration the shim wrote to `report`, if it did.
pub fn read_report(report: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(report).ok()?;
    let _ = std::fs::remove_file(report);
    text.trim().parse().ok().map(Duration::from_micros)
}

impl StrippedStd {
    /// `arg`, or the stripped copy's path if `arg` is one of the toolchain's `rlib`s and the
    /// copy exists. A response file (`@path`, which rustc writes when a command line is too
    /// long) is rewritten into a file of its own next to it.
    fn substitute(&self, arg: OsString) -> OsString {
        if let Some(file) = arg.to_str().and_then(|a| a.strip_prefix('@')) {
            return self
                .substitute_response_file(Path::new(file))
                .map(|f| {
                    let mut a = OsString::from("@");
                    a.push(f);
                    a
                })
                .unwrap_or(arg);
        }
        self.copy_of(Path::new(&arg))
            .map(PathBuf::into_os_string)
            .unwrap_or(arg)
    }

    fn copy_of(&self, path: &Path) -> Option<PathBuf> {
        if path.parent()? != self.from || path.extension()? != "rlib" {
            return None;
        }
        let copy = self.to.join(path.file_name()?);
        copy.is_file().then_some(copy)
    }

    /// rustc writes one argument per line, escaping `\` and spaces: a path
    /// without them is the line itself.
    fn substitute_response_file(&self, file: &Path) -> Option<PathBuf> {
        let text = std::fs::read_to_string(file).ok()?;
        let mut changed = false;
        let lines: Vec<String> = text
            .lines()
            .map(|line| match self.copy_of(Path::new(line)) {
                Some(copy) if !copy.to_string_lossy().contains([' ', '\\', '"', '\'']) => {
                    changed = true;
                    copy.to_string_lossy().into_owned()
                }
                _ => line.to_owned(),
            })
            .collect();
        if !changed {
            return None;
        }
        let mut name = file.file_name()?.to_owned();
        name.push(".relive");
        let rewritten = file.with_file_name(name);
        std::fs::write(&rewritten, lines.join("\n") + "\n").ok()?;
        Some(rewritten)
    }
}

#[cfg(test)]
mod tests;
