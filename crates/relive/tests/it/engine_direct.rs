//! The engine-direct layout (`fixtures/engine_direct`): host and worker share a Rust `dylib`
//! engine crate and one std (`-C prefer-dynamic`). The host is a real process started with plain
//! `cargo run`, driven line by line on stdin; the worker is rebuilt by cargo while it runs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::support::{fixture_target, fixtures, repo};

/// A private copy of the fixture workspace, with its own target dir.
struct Project {
    dir: tempfile::TempDir,
    target: PathBuf,
}

impl Project {
    fn new(name: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("relive-engine-direct-")
            .tempdir()
            .unwrap();
        copy_dir(&fixtures().join("engine_direct"), dir.path());
        // Point the path dependencies at this repository's crates.
        let crates = repo().join("crates");
        for manifest in ["host/Cargo.toml", "worker/Cargo.toml"] {
            let path = dir.path().join(manifest);
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace("../../../crates", crates.to_str().unwrap());
            std::fs::write(&path, text).unwrap();
        }
        let target = fixture_target().with_file_name(format!("fixtures-engine-direct-{name}"));
        let project = Project { dir, target };
        project.cargo(&["build"]);
        project
    }

    fn cargo_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("RELIVE_WORKER_LIB");
        cmd
    }

    fn cargo(&self, args: &[&str]) {
        let out = self.cargo_command(args).arg("--quiet").output().unwrap();
        assert!(
            out.status.success(),
            "cargo {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    /// Starts the host as a user would without relive's CLI: `cargo run`, which puts the target
    /// dir, its `deps/` and the toolchain's libraries on the library path.
    fn start_host(&self) -> Host {
        let worker = self.target.join("debug/libed_worker.so");
        let mut child = self
            .cargo_command(&["run", "--quiet", "-p", "ed-host", "--"])
            .arg(worker)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Host {
            child,
            stdin,
            stdout,
        }
    }
}

struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Host {
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the host ended at `{command}`:\n{}",
            self.finish()
        );
        line.trim_end().to_owned()
    }

    fn state(&mut self) -> serde_json::Value {
        serde_json::from_str(&self.ask("state")).unwrap()
    }

    /// Ends the host and returns its stderr; the host must exit cleanly.
    fn finish(&mut self) -> String {
        use std::io::Read;
        let _ = writeln!(self.stdin, "quit");
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the host failed ({status}):\n{stderr}");
        stderr
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_worker_calling_its_engine_shares_statics_type_ids_allocator_panics_and_logs_with_host() {
    let project = Project::new("one-copy");
    let mut host = project.start_host();

    // One copy of the engine's statics: the worker's tick is the host's count.
    assert_eq!(host.ask("call update"), "ok");
    let state = host.state();
    assert_eq!(state["engine_frames"], 1);
    let seen = host.ask("host");
    assert!(seen.starts_with("frames 1 "), "{seen}");
    // One TypeId for a type of the shared crate.
    let marker = state["marker"].as_str().unwrap().to_owned();
    assert!(
        seen.contains(&format!("marker {marker} ")),
        "{seen} vs {marker}"
    );

    // The engine's #[global_allocator] serves the worker: its 8 MiB show in the count.
    let allocated = |line: &str| -> u64 {
        let at = line.find("allocated ").unwrap() + "allocated ".len();
        line[at..].split(' ').next().unwrap().parse().unwrap()
    };
    let before = allocated(&host.ask("host"));
    assert_eq!(host.ask("call allocate"), "ok");
    let after = allocated(&host.ask("host"));
    assert!(after - before >= 8 << 20, "{before} → {after}");

    // A panic inside engine code the worker called is caught like the worker's own, with where
    // it happened; neither reaches the host's hook, and the host's hook still gets its own.
    let engine = host.ask("call engine_panic");
    assert!(
        engine.starts_with("err ") && engine.contains("the engine refused: no fuel"),
        "{engine}"
    );
    assert!(engine.contains("engine/src/lib.rs:"), "{engine}");
    let own = host.ask("call own_panic");
    assert!(
        own.contains("the worker's own panic at worker/src/lib.rs:"),
        "{own}"
    );
    assert_eq!(host.ask("host-panic"), "ok");

    // A thread the worker started through the shared std, and a thread-local with a destructor:
    // the version stays mapped while the thread runs, and the reload carries the state.
    assert_eq!(host.ask("call spawn"), "ok");
    assert_eq!(host.ask("call tls"), "ok");
    project.edit("worker/src/lib.rs", "VERSION: u32 = 1", "VERSION: u32 = 2");
    project.cargo(&["build", "-p", "ed-worker"]);
    assert_eq!(host.ask("reload"), "reloaded");
    assert_eq!(host.ask("call update"), "ok");
    let state = host.state();
    assert_eq!(state["version"], 2);
    assert_eq!(state["frames"], 2);
    assert_eq!(state["engine_frames"], 2);
    assert_eq!(state["tls"], 1 << 20);
    let events = host.ask("events");
    assert!(
        events.contains("StaleMapping { version: 1") && events.contains("a thread the worker"),
        "the first version's thread still ran: {events}"
    );
    // Once the thread has ended, versions close and unmap again.
    assert_eq!(host.ask("release"), "ok");
    std::thread::sleep(std::time::Duration::from_millis(100));
    project.edit("worker/src/lib.rs", "VERSION: u32 = 2", "VERSION: u32 = 3");
    project.cargo(&["build", "-p", "ed-worker"]);
    assert_eq!(host.ask("reload"), "reloaded");
    let events = host.ask("events");
    assert!(events.contains("Unloaded { version: 2 }"), "{events}");
    assert_eq!(host.ask("call update"), "ok");
    assert_eq!(host.state()["frames"], 3);

    let stderr = host.finish();
    assert_eq!(
        stderr.matches("host hook:").count(),
        1,
        "only the host's own panic reaches its hook:\n{stderr}"
    );
    assert!(stderr.contains("the host's own panic"), "{stderr}");
    // The worker's `log` records reach the host's logger, from each version.
    for line in [
        "LOG INFO ed_worker: frame 1 of version 1",
        "LOG INFO ed_worker: frame 2 of version 2",
        "LOG INFO ed_worker: frame 3 of version 3",
    ] {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
}

#[test]
fn a_worker_linked_against_a_rebuilt_engine_is_refused_and_the_old_version_runs_on() {
    let project = Project::new("rebuilt");
    let mut host = project.start_host();
    assert_eq!(host.ask("call update"), "ok");

    // The engine changes: cargo rebuilds it and the worker against it; this host still has the
    // old build mapped.
    project.edit("engine/src/lib.rs", "    1\n}", "    2\n}");
    project.edit("worker/src/lib.rs", "VERSION: u32 = 1", "VERSION: u32 = 2");
    project.cargo(&["build"]);
    let refused = host.ask("reload");
    assert!(
        refused.starts_with("err ") && refused.contains("libed_engine.so"),
        "{refused}"
    );
    assert!(refused.contains("Restart the host"), "{refused}");
    assert!(
        refused.contains("the previous version keeps running"),
        "{refused}"
    );

    assert_eq!(host.ask("call update"), "ok");
    let state = host.state();
    assert_eq!(
        (state["version"].clone(), state["frames"].clone()),
        (1.into(), 2.into())
    );
    assert!(host.ask("host").ends_with("build 1"));
    host.finish();
}
