//! Rebuilds the worker by running cargo's last `rustc` command for it again, without cargo.
//!
//! When only the worker's own sources changed, everything cargo would decide is already decided:
//! the same dependencies, flags and output paths. Running that `rustc` command directly skips
//! cargo's start-up and fingerprinting (~40 ms of a ~200 ms rebuild on the template worker). The
//! command comes from cargo itself (`-vv` prints it with its environment), never guessed, and any
//! change of a manifest, a build script or another crate goes through cargo again.
//!
//! Two things are added to speed up its link: `-C link-arg=-Wl,-O0` (see
//! [`Invocation::link_speedups`]) and std without its debug info (see [`crate::link`]).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::cargo::Build;
use crate::link::Link;

/// A replay running in the background to fill its incremental cache.
#[derive(Debug)]
pub struct Warmup(Option<std::thread::JoinHandle<()>>);

impl Warmup {
    /// Waits for it: a build must not run beside it (the same output files and cache).
    pub fn finish(self) {
        if let Some(handle) = self.0 {
            let _ = handle.join();
        }
    }
}

/// One `rustc` command as cargo ran it.
#[derive(Debug, Clone)]
pub struct Invocation {
    env: Vec<(String, String)>,
    program: String,
    args: Vec<String>,
    cwd: PathBuf,
    /// Whether [`Invocation::link_speedups`] and the [`Link`] shim are still tried (off once a
    /// link failed with them).
    speedups: bool,
    link: Link,
}

/// Removes ANSI escape sequences (cargo colors its status lines).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ … final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Invocation {
    /// Parses a line of `cargo -vv` output, `Running `ENV=… rustc …``, if it is the command that
    /// builds `crate_name` as a `cdylib`. `cwd` is where cargo ran it (the workspace root).
    pub fn parse(line: &str, crate_name: &str, cwd: &Path) -> Option<Invocation> {
        let line = strip_ansi(line);
        let inner = line.trim().strip_prefix("Running `")?.strip_suffix('`')?;
        let words = shell_words::split(inner).ok()?;
        let mut env = Vec::new();
        let mut rest = words.into_iter();
        let program = loop {
            let word = rest.next()?;
            match word.split_once('=') {
                Some((k, v))
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    env.push((k.to_owned(), v.to_owned()));
                }
                _ => break word,
            }
        };
        let args: Vec<String> = rest.collect();
        let has = |flag: &str, value: &str| args.windows(2).any(|w| w[0] == flag && w[1] == value);
        if !has("--crate-name", crate_name) || !has("--crate-type", "cdylib") {
            return None;
        }
        Some(Invocation {
            env,
            program,
            args,
            cwd: cwd.to_owned(),
            speedups: true,
            link: Link::default(),
        })
    }

    /// The `rustc` program cargo ran.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The command's `--target`, if it names one.
    pub fn target(&self) -> Option<&str> {
        let mut words = self.args.iter();
        while let Some(word) = words.next() {
            if word == "--target" {
                return words.next().map(String::as_str);
            }
            if let Some(target) = word.strip_prefix("--target=") {
                return Some(target);
            }
        }
        None
    }

    /// The command linking through `link` (std without debug info, once its copy is ready).
    pub fn with_link(mut self, link: Link) -> Invocation {
        self.link = link;
        self
    }

    /// The link setup.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The command cut to the `cdylib`: the `rlib` the worker's declared crate types also ask for
    /// (with the metadata only it needs) costs every rebuild, and the dev loop loads only the
    /// `cdylib`. The output paths stay cargo's, but for the incremental cache: rustc ignores a
    /// cache made by a command with other crate types, so the replay keeps its own next to
    /// cargo's (`incremental-relive`). Sharing cargo's, the first replay after every cargo build
    /// of the worker (each session's first edit, say) compiled the whole crate again, and so did
    /// cargo's next build after a replay.
    pub fn cdylib_only(mut self) -> Invocation {
        let mut args = Vec::with_capacity(self.args.len());
        let mut words = std::mem::take(&mut self.args).into_iter().peekable();
        while let Some(arg) = words.next() {
            if arg == "--crate-type"
                && matches!(words.peek().map(String::as_str), Some("rlib" | "lib"))
            {
                words.next();
                continue;
            }
            if matches!(arg.as_str(), "--crate-type=rlib" | "--crate-type=lib") {
                continue;
            }
            if let Some(dir) = arg.strip_prefix("incremental=") {
                args.push(format!("incremental={dir}-relive"));
                continue;
            }
            if let Some(dir) = arg.strip_prefix("-Cincremental=") {
                args.push(format!("-Cincremental={dir}-relive"));
                continue;
            }
            if let Some(kinds) = arg.strip_prefix("--emit=") {
                let kept: Vec<&str> = kinds.split(',').filter(|k| *k != "metadata").collect();
                args.push(format!("--emit={}", kept.join(",")));
                continue;
            }
            args.push(arg);
        }
        self.args = args;
        self
    }

    /// Arguments the replay adds to cargo's command: `-Wl,-O0`, which tells a GNU-style linker
    /// (lld, the default; mold, gold and bfd accept it too) not to merge duplicate strings in the
    /// output. The library is a little larger and works the same; the link of the template
    /// worker takes ~37 ms instead of ~44 ms, and the link is a third of a rebuild. Left out when
    /// the command picks a linker flavor (it may not take `-Wl,`) or passes its own `-O` level,
    /// and after a link that failed with it.
    pub fn link_speedups(&self) -> Vec<String> {
        let skip = !self.speedups
            || self.args.iter().any(|a| {
                a.contains("linker-flavor") || (a.contains("link-arg") && a.contains("-O"))
            });
        if skip {
            Vec::new()
        } else {
            vec!["-C".to_owned(), "link-arg=-Wl,-O0".to_owned()]
        }
    }

    /// What the [`Link`] adds to the command, while the speedups are on.
    fn link_additions(&self) -> crate::link::Additions {
        if !self.speedups {
            return crate::link::Additions::default();
        }
        self.link.additions(&self.args)
    }

    /// Whether the next run links with the wild linker (see [`crate::link`]).
    pub fn links_with_wild(&self) -> bool {
        self.link_additions().wild
    }

    /// Whether the replay has no incremental cache yet (its directory holds no crate's cache):
    /// its first run would compile the whole crate.
    pub fn cache_is_cold(&self) -> bool {
        self.codegen_flag("incremental").is_some_and(|dir| {
            std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
        })
    }

    /// Runs the command once in the background, at the lowest priority, to fill its incremental
    /// cache while nothing waits for it (a new project's first edit would otherwise compile the
    /// whole worker). Its output is dropped; [`Warmup::finish`] waits for it.
    pub fn warm_up(&self) -> Warmup {
        let mut replay = self.clone();
        let handle = std::thread::Builder::new()
            .name("relive-warm-up".into())
            .spawn(move || {
                // SAFETY: setpriority reads only its integer arguments; on Linux it sets the
                // calling thread's priority, which the rustc it starts inherits.
                unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
                let _ = replay.run_to(&mut std::io::sink());
            })
            .ok();
        Warmup(handle)
    }

    /// The value of the command's `-C name=value` flag, if it has one (`incremental`, say).
    pub fn codegen_flag(&self, name: &str) -> Option<&str> {
        let mut words = self.args.iter();
        while let Some(word) = words.next() {
            let flag = if word == "-C" {
                words.next().map(String::as_str)
            } else {
                word.strip_prefix("-C")
            };
            if let Some(value) = flag.and_then(|f| f.strip_prefix(name)?.strip_prefix('=')) {
                return Some(value);
            }
        }
        None
    }

    /// A copy of the command for trying a codegen setting (the `levers` bench): the values of
    /// `-C`/`-Z` flags that `drop` selects are removed with their flag, `extra` arguments and
    /// `env` variables added.
    pub fn variant(
        &self,
        drop: impl Fn(&str) -> bool,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Invocation {
        let mut args = Vec::with_capacity(self.args.len() + extra.len());
        let mut words = self.args.iter().peekable();
        while let Some(word) = words.next() {
            if (word == "-C" || word == "-Z") && words.peek().is_some_and(|v| drop(v)) {
                words.next();
                continue;
            }
            if let Some(value) = word.strip_prefix("-C").or_else(|| word.strip_prefix("-Z"))
                && !value.is_empty()
                && drop(value)
            {
                continue;
            }
            args.push(word.clone());
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut variant = Invocation {
            args,
            ..self.clone()
        };
        variant
            .env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        variant
    }

    /// Runs the command: diagnostics are printed as rustc renders them, the library is read from
    /// rustc's `artifact` notification. If the link failed with the added arguments, runs it
    /// again without them, and leaves them out from then on.
    pub fn run(&mut self) -> Result<Build> {
        self.run_to(&mut crate::status::out())
    }

    /// [`Invocation::run`], writing the diagnostics and relive's notes to `out`.
    pub fn run_to(&mut self, out: &mut dyn Write) -> Result<Build> {
        let (build, link_failed) = self.run_once(out)?;
        let additions = self.link_additions();
        if build.success
            || !link_failed
            || (self.link_speedups().is_empty() && additions.args.is_empty())
        {
            return Ok(build);
        }
        let added = [self.link_speedups(), additions.args].concat().join(" ");
        let _ = writeln!(
            out,
            "relive: the link failed with `{added}`, which relive adds to speed it up (see \
             \"How a reload is fast\" in relive's README); linking again without it (and leaving \
             it out from now on)"
        );
        self.speedups = false;
        let (again, _) = self.run_once(out)?;
        Ok(Build {
            duration: build.duration + again.duration,
            ..again
        })
    }

    /// Runs the command once; also whether rustc reported a failed link.
    fn run_once(&self, err: &mut dyn Write) -> Result<(Build, bool)> {
        let start = Instant::now();
        let additions = self.link_additions();
        let report = additions.report.clone();
        if let Some(report) = &report {
            let _ = std::fs::remove_file(report);
        }
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .args(self.link_speedups())
            .args(&additions.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(additions.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.program))?;
        let stderr = child
            .stderr
            .take()
            .context("rustc's stderr is not captured")?;
        let mut artifact = None;
        let mut first_error = None;
        let mut link_failed = false;
        for line in BufReader::new(stderr).lines() {
            let line = line.context("cannot read rustc's output")?;
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(msg) if msg["$message_type"] == "artifact" => {
                    if msg["emit"] == "link" {
                        artifact = msg["artifact"]
                            .as_str()
                            .filter(|a| a.ends_with(".so"))
                            .map(PathBuf::from);
                    }
                }
                Ok(msg) if msg["$message_type"] == "diagnostic" => {
                    link_failed |= msg["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("linking with"));
                    if first_error.is_none() {
                        first_error = crate::diag::error_of(&msg);
                    }
                    if let Some(rendered) = msg["rendered"].as_str() {
                        let rendered = crate::cargo::plain_unless_colored(rendered);
                        let _ = err.write_all(rendered.as_bytes());
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = writeln!(err, "{line}");
                }
            }
        }
        let status = child
            .wait()
            .with_context(|| format!("cannot wait for {}", self.program))?;
        let build = Build {
            success: status.success() && artifact.is_some(),
            duration: start.elapsed(),
            artifact: artifact.filter(|_| status.success()),
            first_error,
            link: report.and_then(|r| crate::link::read_report(&r)),
        };
        Ok((build, link_failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_drops_the_selected_flag_values_and_adds_arguments_and_environment() {
        let line = "Running `CARGO=/c /r/rustc --crate-name worker --crate-type cdylib \
                    -C incremental=/t/inc -Cdebuginfo=1 -C opt-level=0 --out-dir /t`";
        let inv = Invocation::parse(line, "worker", Path::new("/ws")).unwrap();
        let v = inv.variant(
            |a| a.starts_with("incremental=") || a.starts_with("debuginfo="),
            &["-C", "debuginfo=0"],
            &[("RUSTC_BOOTSTRAP", "1")],
        );
        assert_eq!(
            v.args,
            [
                "--crate-name",
                "worker",
                "--crate-type",
                "cdylib",
                "-C",
                "opt-level=0",
                "--out-dir",
                "/t",
                "-C",
                "debuginfo=0"
            ]
        );
        assert!(
            v.env
                .contains(&("RUSTC_BOOTSTRAP".to_owned(), "1".to_owned()))
        );
        assert_eq!(v.program, inv.program);
    }

    #[test]
    fn cargo_running_lines_parse_into_env_program_and_args() {
        let line = "\x1b[1m\x1b[32m     Running\x1b[0m `CARGO=/c CARGO_PKG_AUTHORS='' CARGO_PKG_NAME=worker \
                    /r/rustc --crate-name worker --edition=2024 worker/src/lib.rs --crate-type cdylib \
                    -C 'link-arg=a b' --out-dir /t/debug/deps`";
        let inv = Invocation::parse(line, "worker", Path::new("/ws")).unwrap();
        assert_eq!(inv.program, "/r/rustc");
        assert_eq!(
            inv.env,
            [
                ("CARGO", "/c"),
                ("CARGO_PKG_AUTHORS", ""),
                ("CARGO_PKG_NAME", "worker")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(inv.args.contains(&"link-arg=a b".to_owned()));
        assert_eq!(inv.cwd, Path::new("/ws"));
    }

    #[test]
    fn the_replay_links_at_o0_unless_the_command_chose_its_linker_flavor_or_level() {
        let parse = |extra: &str| {
            let line = format!(
                "Running `/r/rustc --crate-name worker worker/src/lib.rs --crate-type cdylib {extra}`"
            );
            Invocation::parse(&line, "worker", Path::new("/ws")).unwrap()
        };
        assert_eq!(parse("").link_speedups(), ["-C", "link-arg=-Wl,-O0"]);
        assert_eq!(
            parse("-C link-arg=-fuse-ld=mold").link_speedups(),
            ["-C", "link-arg=-Wl,-O0"]
        );
        assert!(parse("-C linker-flavor=ld.lld").link_speedups().is_empty());
        assert!(parse("-C link-arg=-Wl,-O2").link_speedups().is_empty());
        assert!(
            parse("-C link-args=-Wl,--gc-sections,-O1")
                .link_speedups()
                .is_empty()
        );
    }

    #[test]
    fn a_link_that_fails_with_o0_is_run_again_without_it_and_o0_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        // A stand-in for rustc whose "linker" refuses `-O0`, speaking rustc's JSON on stderr.
        let rustc = dir.path().join("rustc");
        let lib = dir.path().join("libworker.so");
        std::fs::write(
            &rustc,
            format!(
                "#!/bin/sh\n\
                 for a in \"$@\"; do case \"$a\" in *-O0*) \
                 echo '{{\"$message_type\":\"diagnostic\",\"message\":\"linking with `cc` failed: exit status: 1\",\"rendered\":\"error: linking with cc failed\"}}' >&2; exit 1;; esac; done\n\
                 echo '{{\"$message_type\":\"artifact\",\"artifact\":\"{}\",\"emit\":\"link\"}}' >&2\n",
                lib.display()
            ),
        )
        .unwrap();
        // Run through `sh`: executing a file this multi-threaded test process just wrote could
        // race another test's fork (ETXTBSY).
        let line = format!(
            "Running `/bin/sh {} --crate-name worker src/lib.rs --crate-type cdylib`",
            rustc.display()
        );
        let mut inv = Invocation::parse(&line, "worker", dir.path()).unwrap();
        assert!(!inv.link_speedups().is_empty());
        let mut shown = Vec::new();
        let build = inv.run_to(&mut shown).unwrap();
        assert!(build.success, "the second link, without -O0, succeeds");
        let shown = String::from_utf8(shown).unwrap();
        assert!(shown.contains("error: linking with cc failed"), "{shown}");
        assert!(shown.contains("linking again without it"), "{shown}");
        assert_eq!(build.artifact.as_deref(), Some(lib.as_path()));
        assert!(
            inv.link_speedups().is_empty(),
            "-O0 is left out from now on"
        );
        assert!(inv.run_to(&mut Vec::new()).unwrap().success);
    }

    #[test]
    fn the_replay_builds_the_cdylib_without_the_rlib_and_its_metadata_in_an_incremental_cache_of_its_own()
     {
        let line = "Running `CARGO=/c /r/rustc --crate-name worker --edition=2024 worker/src/lib.rs \
                    --crate-type cdylib --crate-type rlib --emit=dep-info,metadata,link -C embed-bitcode=no \
                    -C incremental=/t/debug/incremental`";
        let inv = Invocation::parse(line, "worker", Path::new("/ws"))
            .unwrap()
            .cdylib_only();
        assert_eq!(
            inv.args,
            [
                "--crate-name",
                "worker",
                "--edition=2024",
                "worker/src/lib.rs",
                "--crate-type",
                "cdylib",
                "--emit=dep-info,link",
                "-C",
                "embed-bitcode=no",
                "-C",
                "incremental=/t/debug/incremental-relive"
            ]
        );
    }

    #[test]
    fn other_crates_and_other_lines_are_not_the_worker() {
        let rlib = "Running `CARGO=/c /r/rustc --crate-name base base/src/lib.rs --crate-type lib`";
        assert!(Invocation::parse(rlib, "worker", Path::new("/")).is_none());
        let build_script = "Running `/t/debug/build/x/build-script-build`";
        assert!(Invocation::parse(build_script, "worker", Path::new("/")).is_none());
        assert!(
            Invocation::parse("   Compiling worker v0.1.0", "worker", Path::new("/")).is_none()
        );
    }
}
