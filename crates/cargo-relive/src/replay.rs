//! Rebuilds the worker by running cargo's last `rustc` command for it again, without cargo.
//!
//! When only the worker's own sources changed, everything cargo would decide is already decided:
//! the same dependencies, flags and output paths. Running that `rustc` command directly skips
//! cargo's start-up and fingerprinting (~40 ms of a ~200 ms rebuild on the template worker). The
//! command comes from cargo itself (`-vv` prints it with its environment), never guessed, and any
//! change of a manifest, a build script or another crate goes through cargo again.
//!
//! What is added speeds up its link: `-C link-arg=-Wl,-O0` (see [`Invocation::link_speedups`]),
//! std without its debug info and the wild linker when installed (see [`crate::link`]).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::diag::Build;
use crate::link::Link;

pub use crate::status::strip_ansi;

/// A replay running in the background to fill its incremental cache.
#[derive(Debug)]
pub struct Warmup(std::process::Child);

impl Warmup {
    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// Waits for it: a build must not run beside it (the same output files and cache).
    pub fn finish(mut self) {
        let _ = self.0.wait();
    }

    /// Stops it (the session ends: its rustc would outlive it, writing into the target
    /// directory). rustc leaves an unfinished incremental session to be cleaned up later.
    pub fn cancel(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

    /// Whether installing wild would make this command link with it (see
    /// [`Link::wild_missing_for`]).
    pub fn wild_missing(&self) -> bool {
        self.speedups && self.link.wild_missing_for(&self.args)
    }

    /// Whether the replay has no incremental cache yet (its directory holds no crate's cache):
    /// its first run would compile the whole crate.
    pub fn cache_is_cold(&self) -> bool {
        self.codegen_flag("incremental").is_some_and(|dir| {
            std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
        })
    }

    /// Starts the command in the background, at the lowest priority, to fill its incremental
    /// cache while nothing waits for it (a new project's first edit would otherwise compile the
    /// whole worker). It links as cargo would (no waiting for relive's link setup: the link's
    /// flags are not part of the cache); its output is dropped.
    pub fn warm_up(&self) -> Option<Warmup> {
        use std::os::unix::process::CommandExt as _;
        let mut cmd = self.command(&[], &crate::link::Additions::default());
        cmd.stderr(Stdio::null());
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // setpriority, which is async-signal-safe; 0 names the child itself.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                Ok(())
            });
        }
        cmd.spawn().ok().map(Warmup)
    }

    /// The command with relive's `speedups` and link `additions`, its output not yet directed.
    fn command(&self, speedups: &[String], additions: &crate::link::Additions) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .args(speedups)
            .args(&additions.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(additions.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
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
    /// `-C`/`-Z` flags that `drop` selects are removed with their flag, and so are the long
    /// options (`--emit=dep-info,link`) it selects; `extra` arguments and `env` variables added.
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
            if word.starts_with("--") && drop(word) {
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
        let speedups = self.link_speedups();
        let additions = self.link_additions();
        let (build, link_failed) = self.run_once(out, &speedups, &additions)?;
        if build.success || !link_failed || (speedups.is_empty() && additions.args.is_empty()) {
            return Ok(build);
        }
        // The link failed with what relive adds: once more without it. Only if that links are
        // the additions to blame (and left out from then on); a link error of the worker's own
        // (an undefined symbol) fails both ways, and its first report stands.
        let (again, _) = self.run_once(&mut Vec::new(), &[], &crate::link::Additions::default())?;
        let duration = build.duration + again.duration;
        if !again.success {
            return Ok(Build { duration, ..build });
        }
        let added = [speedups, additions.args].concat().join(" ");
        let _ = writeln!(
            out,
            "relive: the link failed with `{added}`, which relive adds to speed it up (see \
             \"How a reload is fast\" in relive's guide, docs/guide/src/fast-reloads.md); linking \
             again without it worked, so it is left out from now on"
        );
        self.speedups = false;
        Ok(Build { duration, ..again })
    }

    /// Runs the command once with `speedups` and `additions`; also whether rustc reported a
    /// failed link (or could not run the linker, or refused a link flag).
    fn run_once(
        &self,
        err: &mut dyn Write,
        speedups: &[String],
        additions: &crate::link::Additions,
    ) -> Result<(Build, bool)> {
        let start = Instant::now();
        let report = additions.report.clone();
        if let Some(report) = &report {
            let _ = std::fs::remove_file(report);
        }
        let mut child = self
            .command(speedups, additions)
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
                    link_failed |= msg["message"].as_str().is_some_and(|m| {
                        m.starts_with("linking with")
                            || m.starts_with("linker `")
                            || m.contains("linker-features")
                    });
                    if first_error.is_none() {
                        first_error = crate::diag::error_of(&msg);
                    }
                    if let Some(rendered) = msg["rendered"].as_str() {
                        let rendered = crate::status::plain_unless_colored(rendered);
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
mod tests;
