//! Runs cargo builds: cargo's own output goes to the terminal as cargo shows it, the artifacts are
//! read from `--message-format=json`, never guessed.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::project::{CargoOptions, Project};
use crate::replay::{Invocation, strip_ansi};

/// The result of one build.
#[derive(Debug)]
pub struct Build {
    /// Whether cargo succeeded.
    pub success: bool,
    /// How long it took.
    pub duration: Duration,
    /// The artifact asked for (the worker's `.so` or the host's executable), on success.
    pub artifact: Option<PathBuf>,
}

/// Builds only the worker's `cdylib` (`cargo rustc --lib --crate-type cdylib`): the `rlib` a plain
/// `cargo build` also writes costs every rebuild and the host does not use it in the dev loop.
/// Also returns the `rustc` command cargo ran for it, to replay while only its sources change.
pub fn build_worker(project: &Project, opts: &CargoOptions) -> Result<(Build, Option<Invocation>)> {
    let mut cmd = cargo_command(opts, "rustc");
    cmd.args([
        "-p",
        &project.worker,
        "--lib",
        "--crate-type",
        "cdylib",
        "-vv",
    ]);
    if std::io::stderr().is_terminal() {
        cmd.arg("--color=always");
    }
    let crate_name = project.worker_crate();
    let mut invocation = None;
    let build = run(
        cmd,
        |message| {
            if message["target"]["name"].as_str() != Some(crate_name.as_str()) {
                return None;
            }
            message["filenames"]
                .as_array()?
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".so"))
                .map(PathBuf::from)
        },
        |line| {
            if let Some(inv) = Invocation::parse(line, &crate_name, &project.root) {
                invocation = Some(inv);
                return false;
            }
            // `-vv` is for the command above; the user sees cargo's usual output.
            let plain = strip_ansi(line);
            let plain = plain.trim_start();
            !(plain.starts_with("Running `")
                || plain.starts_with("Fresh ")
                || plain.starts_with("Dirty "))
        },
    )?;
    Ok((build, invocation))
}

/// Builds the host binary (hot mode unless `features` enables `static`).
pub fn build_host(project: &Project, opts: &CargoOptions, features: &[String]) -> Result<Build> {
    let mut cmd = cargo_command(opts, "build");
    cmd.args(["-p", &project.host, "--bin", &project.host_bin]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    run(
        cmd,
        |message| message["executable"].as_str().map(PathBuf::from),
        |_| true,
    )
}

fn cargo_command(opts: &CargoOptions, subcommand: &str) -> Command {
    let mut cmd = Command::new(CargoOptions::cargo());
    // cargo renders the diagnostics itself, exactly as a plain `cargo build` would (colors
    // included, following CARGO_TERM_COLOR and the terminal); the JSON carries the artifacts.
    cmd.arg(subcommand)
        .arg("--message-format=json-render-diagnostics");
    if let Some(path) = &opts.manifest_path {
        cmd.arg("--manifest-path").arg(path);
    }
    if opts.release {
        cmd.arg("--release");
    }
    cmd
}

/// Runs cargo, passing the stderr lines `show` accepts to the terminal, and picks the artifact
/// with `pick` from the JSON messages.
fn run(
    mut cmd: Command,
    pick: impl Fn(&serde_json::Value) -> Option<PathBuf>,
    mut show: impl FnMut(&str) -> bool + Send,
) -> Result<Build> {
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
    let mut artifact = None;
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(move || {
            let mut err = std::io::stderr().lock();
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
            if message["reason"].as_str() == Some("compiler-artifact") {
                if let Some(path) = pick(&message) {
                    artifact = Some(path);
                }
            }
        }
        Ok(())
    })?;
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {cmd:?}"))?;
    Ok(Build {
        success: status.success() && artifact.is_some(),
        duration: start.elapsed(),
        artifact: artifact.filter(|_| status.success()),
    })
}
