//! Runs cargo builds: cargo's own output goes to the terminal as cargo shows it, the artifacts are
//! read from `--message-format=json`, never guessed.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::diag::{FirstError, error_of, is_local_package};
use crate::project::{CargoOptions, Project};
use crate::replay::Invocation;
use crate::status::{color, plain_unless_colored, strip_ansi};

pub use crate::diag::Build;

/// The host and the worker built in one cargo run.
#[derive(Debug)]
pub struct GraphBuild {
    /// The worker's build: its `.so`.
    pub worker: Build,
    /// The host's build: its executable.
    pub host: Build,
    /// The `rustc` command cargo ran for the worker, cut to its `cdylib` (see
    /// [`Invocation::cdylib_only`]), to replay while only its sources change.
    pub replay: Option<Invocation>,
}

/// Builds the host's binary and the worker's library in one `cargo build`: one build graph, so
/// that every dependency they share is compiled once, with the features both sides need (two
/// cargo runs resolve features per side and compile such crates twice), and the interface crate
/// is one crate whose types have one `TypeId` on both sides. `--keep-going`: a host that does not
/// compile does not stop the worker's build, nor the reverse.
pub fn build_graph(project: &Project, opts: &CargoOptions) -> Result<GraphBuild> {
    let mut cmd = cargo_command(opts, "build");
    // In the workspace, so that its `.cargo/config.toml` applies (the engine-direct layout's
    // `-C prefer-dynamic`) wherever `cargo relive` was started with `--manifest-path`.
    cmd.current_dir(&project.root);
    cmd.args([
        "-p",
        &project.host,
        "--bin",
        &project.host_bin,
        "-p",
        &project.worker,
        "--lib",
        "--keep-going",
        "-vv",
    ]);
    if !opts.features.is_empty() {
        // With two packages, features name their package.
        let features: Vec<String> = opts
            .features
            .iter()
            .map(|f| {
                if f.contains('/') {
                    f.clone()
                } else {
                    format!("{}/{f}", project.host)
                }
            })
            .collect();
        cmd.arg("--features").arg(features.join(","));
    }
    let crate_name = project.worker_crate();
    let mut invocation = None;
    let mut filter = VerboseFilter::default();
    let (mut library, mut executable) = (None, None);
    let outcome = run(
        cmd,
        |message| {
            if message["target"]["name"].as_str() == Some(crate_name.as_str())
                && let Some(so) = message["filenames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_str())
                    .find(|f| f.ends_with(".so"))
            {
                library = Some(PathBuf::from(so));
            }
            if message["target"]["name"].as_str() == Some(project.host_bin.as_str())
                && let Some(exe) = message["executable"].as_str()
            {
                executable = Some(PathBuf::from(exe));
            }
        },
        |line| match filter.line(line) {
            Verbose::Show => true,
            Verbose::Hide => false,
            Verbose::Command(command) => {
                if let Some(inv) = Invocation::parse(&command, &crate_name, &project.root) {
                    invocation = Some(inv.cdylib_only());
                }
                false
            }
        },
    )?;
    let part = |artifact: Option<PathBuf>| Build {
        success: artifact.is_some(),
        duration: outcome.duration,
        artifact,
        first_error: outcome.first_error.clone(),
        link: None,
    };
    Ok(GraphBuild {
        worker: part(library),
        host: part(executable),
        replay: invocation.map(|inv: Invocation| {
            let cache = crate::link::cache_dir(&project.target_dir);
            let link = crate::link::Link::prepare(inv.program(), inv.target(), &cache);
            inv.with_link(link)
        }),
    })
}

/// Builds the host binary with `features` (hot mode unless they enable `static`): `cargo relive
/// build`.
pub fn build_host(project: &Project, opts: &CargoOptions, features: &[String]) -> Result<Build> {
    let mut cmd = cargo_command(opts, "build");
    cmd.current_dir(&project.root);
    if !project.shared_crates.is_empty() && features.iter().any(|f| f == "static") {
        // The ship build links everything in: the engine crate's rlib, std statically. The
        // config's `-C prefer-dynamic` is for the dev loop only; the flags set here, which
        // replace the config's, keep the user's RUSTFLAGS but that one.
        let flags = ship_rustflags(std::env::var("RUSTFLAGS").ok().as_deref());
        cmd.env_remove("RUSTFLAGS")
            .env("CARGO_ENCODED_RUSTFLAGS", flags.replace(' ', "\x1f"));
    }
    cmd.args(["-p", &project.host, "--bin", &project.host_bin]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let mut executable = None;
    let outcome = run(
        cmd,
        |message| {
            if let Some(exe) = message["executable"].as_str() {
                executable = Some(PathBuf::from(exe));
            }
        },
        |_| true,
    )?;
    Ok(Build {
        success: outcome.success && executable.is_some(),
        duration: outcome.duration,
        artifact: executable.filter(|_| outcome.success),
        first_error: outcome.first_error,
        link: None,
    })
}

/// `flags` (RUSTFLAGS) without `-C prefer-dynamic`.
fn ship_rustflags(flags: Option<&str>) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut words = flags.unwrap_or_default().split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "-Cprefer-dynamic" | "-Cprefer-dynamic=yes" => {}
            "-C" if words
                .peek()
                .is_some_and(|w| w.starts_with("prefer-dynamic")) =>
            {
                words.next();
            }
            _ => kept.push(word),
        }
    }
    kept.join(" ")
}

/// What to do with a line of `cargo -vv`'s stderr.
#[derive(Debug, PartialEq, Eq)]
enum Verbose {
    /// A line a plain `cargo build` shows too.
    Show,
    /// What `-vv` adds (or a part of a command not complete yet).
    Hide,
    /// A whole `Running` command (not shown).
    Command(String),
}

/// Splits `cargo -vv`'s stderr into what a plain `cargo build` shows and the commands it ran. A
/// `Running` line whose environment holds a newline (a multi-line package description) spans
/// several lines: they are joined into one command, and none of them is shown.
#[derive(Debug, Default)]
struct VerboseFilter {
    running: Option<String>,
}

impl VerboseFilter {
    fn line(&mut self, line: &str) -> Verbose {
        let plain = strip_ansi(line);
        let plain = plain.trim_start();
        let command = match self.running.take() {
            Some(mut start) => {
                start.push('\n');
                start.push_str(line);
                start
            }
            None if plain.starts_with("Running `") => line.to_owned(),
            None if shows_at_default_verbosity(plain) => return Verbose::Show,
            None => return Verbose::Hide,
        };
        if strip_ansi(&command).trim_end().ends_with('`') {
            Verbose::Command(command)
        } else {
            self.running = Some(command);
            Verbose::Hide
        }
    }
}

/// What `-vv` adds to cargo's stderr and a plain `cargo build` would not show: the commands it
/// runs, its freshness notes, and build scripts' output (`[pkg 1.0.0] cargo:…`).
fn shows_at_default_verbosity(plain: &str) -> bool {
    !(plain.starts_with("Running `")
        || plain.starts_with("Fresh ")
        || plain.starts_with("Dirty ")
        || is_build_script_output(plain))
}

/// `[name 1.2.3] …`, as cargo `-vv` prefixes a build script's output.
fn is_build_script_output(plain: &str) -> bool {
    let Some(rest) = plain.strip_prefix('[') else {
        return false;
    };
    let Some((tag, _)) = rest.split_once("] ") else {
        return false;
    };
    tag.rsplit_once(' ').is_some_and(|(name, version)| {
        !name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit())
    })
}

fn cargo_command(opts: &CargoOptions, subcommand: &str) -> Command {
    let mut cmd = Command::new(CargoOptions::cargo());
    // The diagnostics come as JSON with their rendering (colored as cargo would color them), so
    // that relive shows exactly what a plain `cargo build` shows (the user's own crates'
    // diagnostics, not those of registry dependencies that `-vv` would let through) and reads the
    // first error for the host's status; the JSON also carries the artifacts.
    let format = if color() {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    };
    // Nothing cargo or rustc runs reads the terminal (the host's keys are not theirs).
    cmd.stdin(std::process::Stdio::null());
    cmd.arg(subcommand).arg(format);
    if color() {
        cmd.arg("--color=always");
    }
    if let Some(path) = &opts.manifest_path {
        // Absolute: the command may run in the workspace root rather than here.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        cmd.arg("--manifest-path").arg(path);
    }
    if opts.release {
        cmd.arg("--release");
    }
    cmd
}

/// How a cargo run ended.
struct Outcome {
    success: bool,
    duration: Duration,
    first_error: Option<FirstError>,
}

/// Runs cargo, passing the stderr lines `show` accepts to the terminal (or the session log) and
/// every `compiler-artifact` message to `artifact`; the user's own crates' diagnostics are shown
/// as cargo renders them, the first error is kept.
fn run(
    mut cmd: Command,
    mut artifact: impl FnMut(&serde_json::Value),
    mut show: impl FnMut(&str) -> bool + Send,
) -> Result<Outcome> {
    let start = Instant::now();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    let stdout = child
        .stdout
        .take()
        .context("cargo's stdout is not captured")?;
    let stderr = child
        .stderr
        .take()
        .context("cargo's stderr is not captured")?;
    let mut first_error = None;
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            let mut err = crate::status::out();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if show(&line) {
                    let _ = writeln!(err, "{line}");
                }
            }
        });
        for line in BufReader::new(stdout).lines() {
            let line = line.context("cannot read cargo's output")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            match message["reason"].as_str() {
                Some("compiler-artifact") => artifact(&message),
                Some("compiler-message")
                    if message["package_id"].as_str().is_some_and(is_local_package) =>
                {
                    let diagnostic = &message["message"];
                    if first_error.is_none() {
                        first_error = error_of(diagnostic);
                    }
                    if let Some(rendered) = diagnostic["rendered"].as_str() {
                        let _ = crate::status::out()
                            .write_all(plain_unless_colored(rendered).as_bytes());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {cmd:?}"))?;
    Ok(Outcome {
        success: status.success(),
        duration: start.elapsed(),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ship_build_drops_prefer_dynamic_and_keeps_the_other_flags() {
        assert_eq!(ship_rustflags(None), "");
        assert_eq!(
            ship_rustflags(Some(
                "-C prefer-dynamic -C target-cpu=native -Cprefer-dynamic"
            )),
            "-C target-cpu=native"
        );
        assert_eq!(ship_rustflags(Some("--cfg x")), "--cfg x");
    }

    #[test]
    fn vv_output_shows_only_what_a_plain_build_shows() {
        let mut f = VerboseFilter::default();
        assert_eq!(
            f.line("   Compiling worker v0.1.0 (/g/worker)"),
            Verbose::Show
        );
        assert_eq!(f.line("       Fresh serde v1.0.228"), Verbose::Hide);
        assert_eq!(
            f.line("       Dirty worker v0.1.0: the file changed"),
            Verbose::Hide
        );
        assert_eq!(
            f.line("[glam 0.30.0] cargo:rerun-if-changed=build.rs"),
            Verbose::Hide
        );
        assert_eq!(f.line("warning: unused variable: `x`"), Verbose::Show);
        assert_eq!(f.line("[1/2] something"), Verbose::Show);
        // A command whose environment has a multi-line value: no fragment leaks out.
        assert_eq!(
            f.line("     Running `CARGO_PKG_DESCRIPTION='A game"),
            Verbose::Hide
        );
        assert_eq!(
            f.line("in two lines' /r/rustc --crate-name worker"),
            Verbose::Hide
        );
        assert_eq!(
            f.line("--crate-type cdylib`"),
            Verbose::Command(
                "     Running `CARGO_PKG_DESCRIPTION='A game\nin two lines' /r/rustc --crate-name worker\n--crate-type cdylib`"
                    .to_owned()
            )
        );
        assert_eq!(f.line("    Finished `dev` profile"), Verbose::Show);
    }
}
