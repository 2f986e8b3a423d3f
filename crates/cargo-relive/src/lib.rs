//! `cargo relive`: create, run with hot reloading, and ship a relive workspace.
//!
//! - `cargo relive new <dir>` scaffolds a base / host / worker workspace.
//! - `cargo relive run` builds the worker and the host, starts the host, rebuilds the worker on
//!   every save (the host swaps it in with its state), restarts the host with its state when a
//!   crate of the host changes, and restarts it from its last snapshot when it crashes.
//! - `cargo relive build` builds the ship version: the worker linked statically.

#![deny(missing_docs)]

pub mod cargo;
pub mod control;
pub mod debounce;
pub mod debug;
pub mod diag;
pub mod events;
pub mod inspect;
pub mod link;
pub mod new;
pub mod project;
pub mod protocol;
pub mod replay;
pub mod run;
pub mod status;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

use crate::project::{CargoOptions, Project};

/// Invoked by cargo as `cargo-relive relive …`.
#[derive(Parser, Debug)]
#[command(name = "cargo", bin_name = "cargo")]
enum CargoCli {
    /// Stateful hot reloading for Rust.
    #[command(name = "relive", version, about)]
    Relive(Cli),
}

/// `cargo relive` itself.
#[derive(Args, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new relive workspace (base, host and worker crates).
    New(new::NewArgs),
    /// Build and run the host, hot-reloading the worker on every save.
    Run(RunArgs),
    /// Build the ship version: the worker linked statically, no hot reloading.
    Build(BuildArgs),
    /// Read or change the running game's state (JSON; pipe it to jq).
    State(StateArgs),
    /// Save the running game's state under a name.
    Save(NameArgs),
    /// Load a state saved under a name into the running game.
    Load(NameArgs),
    /// Browse and edit the running game's state in an interactive tree.
    Inspect(CommonArgs),
    /// Go back in the running game: `2s`, `500ms`, `120f` (frames); play continues from there.
    Rewind(RewindArgs),
    /// Set a tweakable literal (`#[relive_worker::tweak]`) in the running game and in its source
    /// file, with no rebuild: `tweak SPEED 450`; with no arguments, list them.
    Tweak(TweakArgs),
    /// Play a span of the running game again and again, each pass under the newest build:
    /// `loop start`, play, `loop end`; `loop stop` goes back to live play.
    Loop(LoopArgs),
    /// Attach gdb (or lldb) to the running game, breakpoints kept across reloads:
    /// `debug --break worker/src/lib.rs:40`.
    Debug(DebugArgs),
}

#[derive(Args, Debug)]
struct DebugArgs {
    /// A breakpoint to set once attached: `worker/src/lib.rs:40`, `lib.rs:40` when one file of
    /// the workspace has that name, or a function (`worker::update`). Repeatable.
    #[arg(long = "break", short = 'b', value_name = "LOCATION")]
    breaks: Vec<String>,
    /// Attach lldb instead of gdb.
    #[arg(long)]
    lldb: bool,
    /// Print the debugger's command, the host's pid and its program (for an IDE's attach
    /// configuration) instead of attaching.
    #[arg(long)]
    print: bool,
    /// More arguments for the debugger, after `--` (`-- -x my.gdb`).
    #[arg(last = true)]
    args: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct TweakArgs {
    /// Which literal: a const's name (`SPEED`), an item's literal by its place in it
    /// (`update#3`), or where it is (`lib.rs:40`, `worker/src/lib.rs:40:17`).
    name: Option<String>,
    /// Its new value, as you would write it in the source (`450`, `0.5`, `true`, `'x'`, a
    /// string's text or a Rust string literal).
    #[arg(allow_hyphen_values = true, requires = "name")]
    value: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct LoopArgs {
    #[command(subcommand)]
    action: LoopAction,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand, Debug, Clone, Copy)]
enum LoopAction {
    /// Start recording at the next frame: the state, and every value the game reads from the host.
    Start,
    /// End the recording and play it from its start, again and again.
    End,
    /// Stop the loop (recording or playing); play goes on live from where the loop is.
    Stop,
}

#[derive(Args, Debug)]
struct StateArgs {
    #[command(subcommand)]
    action: StateAction,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Subcommand, Debug)]
enum StateAction {
    /// Print the state, or the value at a JSON pointer (`/player/x`).
    Get {
        /// A JSON pointer; the whole state when omitted.
        pointer: Option<String>,
    },
    /// Set the value at a JSON pointer; a value that does not fit the state is refused.
    Set {
        /// A JSON pointer (`/player/x`).
        pointer: String,
        /// The new value, as JSON (`3`, `"hero"`, `[1, 2]`); other text is taken as a string.
        value: String,
    },
}

#[derive(Args, Debug)]
struct RewindArgs {
    /// How far back: `2s`, `500ms`, or frames (`120f`, `120`).
    amount: relive::Rewind,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct NameArgs {
    /// The save's name.
    name: String,
    #[command(flatten)]
    common: CommonArgs,
}

/// Which workspace and host: every command that finds a project.
#[derive(Args, Debug, Clone)]
struct CommonArgs {
    /// Path to the workspace's Cargo.toml.
    #[arg(long, value_name = "PATH", global = true)]
    manifest_path: Option<PathBuf>,
    /// The host package.
    #[arg(short = 'p', long = "package", value_name = "HOST", global = true)]
    package: Option<String>,
}

impl CommonArgs {
    /// How to call cargo, for commands that do not build (only the manifest matters).
    fn cargo_options(&self) -> CargoOptions {
        CargoOptions {
            manifest_path: self.manifest_path.clone(),
            release: false,
            features: Vec::new(),
        }
    }
}

/// How to build: only `run` and `build` build anything.
#[derive(Args, Debug, Clone)]
struct BuildOptions {
    #[command(flatten)]
    common: CommonArgs,
    /// Build with the release profile.
    #[arg(long, short = 'r')]
    release: bool,
    /// Features of the host to enable (comma or space separated).
    #[arg(long, short = 'F', value_delimiter = ',')]
    features: Vec<String>,
}

impl BuildOptions {
    fn cargo_options(&self) -> CargoOptions {
        CargoOptions {
            release: self.release,
            features: self
                .features
                .iter()
                .flat_map(|f| f.split_whitespace())
                .map(str::to_owned)
                .collect(),
            ..self.common.cargo_options()
        }
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    build: BuildOptions,
    /// Write one JSON object per line for each build, reload, failure, panic and restart.
    #[arg(long, value_name = "FILE", env = "RELIVE_EVENTS")]
    events: Option<PathBuf>,
    /// How often the host saves its state for crash recovery, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    snapshot_interval: u64,
    /// Start from a new state instead of resuming the last session's (which stays loadable
    /// as `cargo relive load session-…`).
    #[arg(long)]
    fresh: bool,
    /// Memory for the rewind history, in MiB (the states of the last frames); 0 turns it off.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    history: usize,
    /// Restart the host, with its state, once it uses more than this many MB (a safety valve for
    /// workers whose old versions cannot be unloaded).
    #[arg(long, value_name = "MB")]
    restart_above: Option<u64>,
    /// Arguments for the host.
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Args, Debug)]
struct BuildArgs {
    #[command(flatten)]
    build: BuildOptions,
}

/// Parses the command line and runs; returns the process's exit code.
pub fn main() -> i32 {
    // The replayed rustc runs `cargo relive` as its linker.
    if let Some(code) = link::shim() {
        return code;
    }
    let CargoCli::Relive(cli) = CargoCli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            status::error(&format!("{e:#}"));
            1
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::New(args) => new::new(&args).map(|()| 0),
        Command::Run(args) => run::run(run::RunOptions {
            cargo: args.build.cargo_options(),
            host: args.build.common.package.clone(),
            events: args.events,
            snapshot_interval: Duration::from_millis(args.snapshot_interval),
            args: args.args,
            fresh: args.fresh,
            history_bytes: args.history << 20,
            restart_above: args.restart_above.map(|mb| mb * 1_000_000),
        }),
        Command::Build(args) => build(&args.build),
        Command::State(args) => {
            let project = Project::discover_running(
                &args.common.cargo_options(),
                args.common.package.as_deref(),
            )?;
            let command = match &args.action {
                StateAction::Get { pointer } => {
                    serde_json::json!({ "cmd": "get", "pointer": pointer.as_deref().unwrap_or("") })
                }
                StateAction::Set { pointer, value } => {
                    serde_json::json!({ "cmd": "set", "pointer": pointer, "value": control::parse_value(value) })
                }
            };
            let value = control::request(&project, command)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(0)
        }
        Command::Inspect(common) => {
            let project =
                Project::discover_running(&common.cargo_options(), common.package.as_deref())?;
            inspect::run(&project)
        }
        Command::Rewind(args) => {
            let project = Project::discover_running(
                &args.common.cargo_options(),
                args.common.package.as_deref(),
            )?;
            let command = match args.amount {
                relive::Rewind::Frames(frames) => {
                    serde_json::json!({ "cmd": "rewind", "frames": frames })
                }
                relive::Rewind::Seconds(seconds) => {
                    serde_json::json!({ "cmd": "rewind", "seconds": seconds })
                }
                relive::Rewind::ToFrame(frame) => {
                    serde_json::json!({ "cmd": "rewind", "frame": frame })
                }
            };
            let answer = control::request(&project, command)?;
            status::info(&format!(
                "rewound {} frames",
                answer["frames_back"].as_u64().unwrap_or(0)
            ));
            Ok(0)
        }
        Command::Debug(args) => {
            let project = Project::discover_running(
                &args.common.cargo_options(),
                args.common.package.as_deref(),
            )?;
            debug::debug(
                &project,
                &debug::DebugOptions {
                    breaks: args.breaks,
                    lldb: args.lldb,
                    print: args.print,
                    args: args.args,
                },
            )
        }
        Command::Loop(args) => {
            let project = Project::discover_running(
                &args.common.cargo_options(),
                args.common.package.as_deref(),
            )?;
            let action = match args.action {
                LoopAction::Start => "start",
                LoopAction::End => "end",
                LoopAction::Stop => "stop",
            };
            let answer = control::request(
                &project,
                serde_json::json!({ "cmd": "loop", "action": action }),
            )?;
            status::info(&match args.action {
                LoopAction::Start => {
                    "loop: recording from the next frame; `cargo relive loop end` plays it"
                        .to_owned()
                }
                LoopAction::End => format!(
                    "loop: playing {} frames again and again; save a file to see the change \
                     from the next pass; `cargo relive loop stop` goes back to live play",
                    answer["frames"].as_u64().unwrap_or(0)
                ),
                LoopAction::Stop => run::loop_stopped(answer["passes"].as_u64().unwrap_or(0)),
            });
            Ok(0)
        }
        Command::Tweak(args) => tweak(&args),
        Command::Save(args) => save_or_load(&args, "save"),
        Command::Load(args) => save_or_load(&args, "load"),
    }
}

/// `cargo relive save|load NAME`: the session keeps saves under `target/relive/<host>/saves/`.
fn save_or_load(args: &NameArgs, cmd: &str) -> Result<i32> {
    let project =
        Project::discover_running(&args.common.cargo_options(), args.common.package.as_deref())?;
    let path = control::request(
        &project,
        serde_json::json!({ "cmd": cmd, "name": args.name }),
    )?;
    let done = if cmd == "save" { "saved to" } else { "loaded" };
    status::info(&format!("{done} {}", path.as_str().unwrap_or(&args.name)));
    Ok(0)
}

/// `cargo relive tweak [NAME VALUE]`: lists the tweakable literals, or sets one.
fn tweak(args: &TweakArgs) -> Result<i32> {
    let project =
        Project::discover_running(&args.common.cargo_options(), args.common.package.as_deref())?;
    let (Some(name), Some(value)) = (&args.name, &args.value) else {
        let list = control::request(&project, serde_json::json!({ "cmd": "literals" }))?;
        let list = list.as_array().cloned().unwrap_or_default();
        let wanted = |l: &&serde_json::Value| {
            args.name
                .as_deref()
                .is_none_or(|n| l["name"].as_str().is_some_and(|name| name.contains(n)))
        };
        let shown: Vec<&serde_json::Value> = list.iter().filter(wanted).collect();
        if shown.is_empty() {
            status::info(if list.is_empty() {
                "the worker has no tweakable literals: mark a function, an impl block or a const with #[relive_worker::tweak]"
            } else {
                "no tweakable literal has that name"
            });
            return Ok(if list.is_empty() { 0 } else { 1 });
        }
        let width = shown
            .iter()
            .map(|l| l["name"].as_str().unwrap_or("").len())
            .max()
            .unwrap_or(0);
        for l in shown {
            println!(
                "{:width$}  {}  ({}, {})",
                l["name"].as_str().unwrap_or(""),
                l["text"].as_str().unwrap_or(""),
                l["kind"].as_str().unwrap_or(""),
                l["at"].as_str().unwrap_or(""),
            );
        }
        return Ok(0);
    };
    let done = control::request(
        &project,
        serde_json::json!({ "cmd": "write_literal", "name": name, "value": value }),
    )?;
    let text = |k: &str| done[k].as_str().unwrap_or("").to_owned();
    status::info(&format!(
        "tweaked {} {} \u{2192} {} at {}: {}, and written to {}",
        text("name"),
        text("old"),
        text("new"),
        text("at"),
        if done["applied"].as_bool() == Some(true) {
            "in the game now"
        } else {
            "in the game at the next reload"
        },
        text("file"),
    ));
    Ok(0)
}

/// `cargo relive build`: the host with its `static` feature.
fn build(args: &BuildOptions) -> Result<i32> {
    let opts = args.cargo_options();
    let project = Project::discover(&opts, args.common.package.as_deref())?;
    let mut features = opts.features.clone();
    features.push("static".to_owned());
    if !project.shared_crates.is_empty() {
        status::info(&format!(
            "ship build: `{}` linked in statically, without the dev loop's `-C prefer-dynamic` \
             (rustflags from the config files do not apply to it; RUSTFLAGS does)",
            project.shared_crates.join("`, `")
        ));
    }
    let build = cargo::build_host(&project, &opts, &features)?;
    match build.artifact {
        Some(exe) if build.success => {
            // The ship version needs nothing from the target dir or the toolchain at run time.
            let shared: Vec<String> = relive::shared_libs::needed(&exe)
                .into_iter()
                .filter(|n| n.starts_with("libstd-") || exe.with_file_name(n).exists())
                .collect();
            if !shared.is_empty() {
                status::error(&format!(
                    "the ship version of `{}` still links {} dynamically, although `cargo relive \
                     build` set its flags without `-C prefer-dynamic`: does a build script or a \
                     `-C` in the manifest ask for it?",
                    project.host,
                    shared.join(", ")
                ));
                return Ok(1);
            }
            // cargo's file is replaced by the next dev build of the host (`cargo relive run`, a
            // plain `cargo build`): the ship binary is kept where none writes.
            let ship = project
                .target_dir
                .join("relive/ship")
                .join(opts.profile_dir())
                .join(exe.file_name().unwrap_or(exe.as_os_str()));
            if let Some(dir) = ship.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let _ = std::fs::remove_file(&ship);
            std::fs::copy(&exe, &ship)
                .with_context(|| format!("cannot copy {} to {}", exe.display(), ship.display()))?;
            status::info(&format!(
                "built the ship version of `{}` in {:.1}s: {} (a copy of {}, which the next dev \
                 build replaces)",
                project.host,
                build.duration.as_secs_f64(),
                ship.display(),
                exe.display()
            ));
            Ok(0)
        }
        _ => {
            status::error(&format!(
                "`{}` does not build with `--features static`; its Cargo.toml needs \
                 `static = [\"dep:{}\", \"relive/static\"]`",
                project.host, project.worker
            ));
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(args: &[&str]) -> bool {
        CargoCli::try_parse_from(["cargo", "relive"].iter().chain(args)).is_ok()
    }

    #[test]
    fn build_options_are_offered_only_where_something_is_built() {
        assert!(parses(&["run", "-r", "-F", "x", "--fresh"]));
        assert!(parses(&["build", "--release", "-p", "host"]));
        for command in [
            &["state", "-r", "get"][..],
            &["state", "get", "-F", "x"],
            &["save", "a", "--release"],
            &["load", "a", "-r"],
            &["inspect", "-F", "x"],
        ] {
            assert!(!parses(command), "{command:?} is accepted");
        }
        assert!(parses(&["state", "get", "/x", "-p", "host"]));
        assert!(parses(&["inspect", "--manifest-path", "Cargo.toml"]));
    }
}
