//! `cargo relive debug`: a debugger attached to the running host of this project, with pending
//! breakpoints, so that `--break worker/src/lib.rs:40` hits in the version running now and, after
//! a reload, in the next one (gdb and lldb re-resolve a breakpoint in every library loaded later,
//! and each worker version is a new library: `lib<worker>.v<N>.so`).
//!
//! The host cooperates: it lets a debugger of the same user attach under Yama's `ptrace_scope` 1,
//! and its watchdog does not call a host held by a debugger stuck. The session's supervisor does
//! nothing special: a build that finishes while the host is stopped waits for its next frame.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;

use crate::control;
use crate::project::Project;

/// Which debugger, and what it is told.
#[derive(Debug, Clone, Default)]
pub struct DebugOptions {
    /// Breakpoints as the user gave them (`worker/src/lib.rs:40`, `lib.rs:40`, `update`).
    pub breaks: Vec<String>,
    /// lldb instead of gdb.
    pub lldb: bool,
    /// Print the command (and the pid and program, for an IDE's attach) instead of running it.
    pub print: bool,
    /// More arguments for the debugger, as they are.
    pub args: Vec<String>,
}

/// Attaches the debugger to the running host (replacing this process), or prints how to.
pub fn debug(project: &Project, opts: &DebugOptions) -> Result<i32> {
    let info = control::request(project, json!({ "cmd": "session" }))?;
    let pid = info["host_pid"].as_u64().ok_or_else(|| {
        anyhow!(
            "the `cargo relive run` of `{}` has no host running now (it is restarting, or stopped after \
             crashes): run this again once the game is back",
            project.host
        )
    })?;
    let program = info["host_exe"].as_str().map(PathBuf::from);
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let breaks = opts
        .breaks
        .iter()
        .map(|b| location(b, &cwd, &project.root))
        .collect::<Result<Vec<_>>>()?;
    let command = if opts.lldb {
        lldb_command(pid, &breaks, &opts.args)
    } else {
        gdb_command(pid, &breaks, &opts.args)
    };
    if opts.print {
        println!("{}", shell_words::join(&command));
        println!("pid: {pid}");
        if let Some(program) = program {
            println!("program: {}", program.display());
        }
        return Ok(0);
    }
    check_ptrace_scope(pid)?;
    let (name, args) = command
        .split_first()
        .ok_or_else(|| anyhow!("no debugger command"))?;
    crate::status::info(&format!(
        "attaching {} to `{}` (pid {pid}): the game stops while it attaches; `continue` lets it run, \
         Ctrl-C stops it again; breakpoints stay set across reloads; `detach` or `quit` lets the game go on",
        if opts.lldb { "lldb" } else { "gdb" },
        project.host
    ));
    use std::os::unix::process::CommandExt as _;
    let error = Command::new(name).args(args).exec();
    if error.kind() == std::io::ErrorKind::NotFound {
        let (debugger, other) = if opts.lldb {
            ("lldb", "gdb: drop --lldb")
        } else {
            ("gdb", "lldb: --lldb")
        };
        bail!(
            "{debugger} is not installed: install it (on Debian and Ubuntu: `sudo apt-get install {debugger}`), \
             or use {other}"
        );
    }
    Err(error).with_context(|| format!("cannot start {name}"))
}

/// The debugger's command: rustup's `rust-gdb` wrapper (gdb with Rust's pretty printers) where it
/// is on `PATH`, else `gdb`; pending breakpoints on, so a location in a library that is not
/// loaded yet (the next worker version) is kept and resolved when it is.
pub fn gdb_command(pid: u64, breaks: &[String], args: &[String]) -> Vec<String> {
    let mut command = vec![
        if on_path("rust-gdb") {
            "rust-gdb"
        } else {
            "gdb"
        }
        .to_owned(),
        "-q".to_owned(),
        "-p".to_owned(),
        pid.to_string(),
        "-ex".to_owned(),
        "set breakpoint pending on".to_owned(),
    ];
    for b in breaks {
        command.extend(["-ex".to_owned(), format!("break {b}")]);
    }
    command.extend(args.iter().cloned());
    command
}

/// lldb's command (`rust-lldb` where it is on `PATH`); lldb keeps unresolved breakpoints pending.
pub fn lldb_command(pid: u64, breaks: &[String], args: &[String]) -> Vec<String> {
    let mut command = vec![
        if on_path("rust-lldb") {
            "rust-lldb"
        } else {
            "lldb"
        }
        .to_owned(),
        "-p".to_owned(),
        pid.to_string(),
    ];
    // `b` (lldb's own shorthand) takes `file:line` and function names alike.
    for b in breaks {
        command.extend(["-o".to_owned(), format!("b {b}")]);
    }
    command.extend(args.iter().cloned());
    command
}

/// A breakpoint location for the debugger. `FILE:LINE` whose file is in this workspace becomes
/// that file's absolute path (debuggers match a relative name against every file of that name:
/// `lib.rs:40` would break in every crate); a bare file name found once in the workspace is that
/// file; one found in several files is refused with them listed. Anything else (a function name,
/// a file elsewhere) is passed on as it is.
pub fn location(given: &str, cwd: &Path, root: &Path) -> Result<String> {
    let Some((file, line)) = given.rsplit_once(':') else {
        return Ok(given.to_owned());
    };
    if file.is_empty() || line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(given.to_owned());
    }
    for base in [cwd, root] {
        let path = base.join(file);
        if path.is_file() {
            let path = path.canonicalize().unwrap_or(path);
            return Ok(format!("{}:{line}", path.display()));
        }
    }
    let mut found = Vec::new();
    find_files(root, file, 0, &mut found);
    match found.as_slice() {
        [] => Ok(given.to_owned()),
        [one] => Ok(format!("{}:{line}", one.display())),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
                .collect();
            let example = list
                .iter()
                .find(|p| p.contains("worker"))
                .unwrap_or(&list[0]);
            bail!(
                "`{file}` is in {} files of this workspace ({}): say which, e.g. `--break {example}:{line}`",
                list.len(),
                list.join(", ")
            )
        }
    }
}

/// Files under `dir` whose path ends with `/name`, skipping `target` and hidden directories.
fn find_files(dir: &Path, name: &str, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth < 8 && !file_name.starts_with('.') && file_name != "target" {
                find_files(&path, name, depth + 1, found);
            }
        } else if path.to_string_lossy().ends_with(&format!("/{name}")) {
            found.push(path);
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Refuses early, saying what to do, where Yama's `ptrace_scope` forbids this user to attach.
fn check_ptrace_scope(pid: u64) -> Result<()> {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(0);
    // SAFETY: geteuid(2) reads the caller's effective user id; it cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    match scope {
        3 => bail!(
            "this system forbids attaching a debugger to a running process (kernel.yama.ptrace_scope = 3, \
             until a reboot): start the host under the debugger instead, or reboot with a lower ptrace_scope"
        ),
        2 if !root => bail!(
            "only root may attach a debugger here (kernel.yama.ptrace_scope = 2): run `sudo cargo relive debug`, \
             or `sudo sysctl kernel.yama.ptrace_scope=1` (the host {pid} lets any debugger of yours attach at 1)"
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_file_becomes_its_absolute_path_and_an_ambiguous_name_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        for f in [
            "worker/src/lib.rs",
            "base/src/lib.rs",
            "worker/src/enemy.rs",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/debug/enemy.rs"), "").unwrap();

        let abs = |f: &str, line: u32| format!("{}:{line}", root.join(f).display());
        assert_eq!(
            location("worker/src/lib.rs:40", &root, &root).unwrap(),
            abs("worker/src/lib.rs", 40)
        );
        // From a member's directory, and a name found once (target/ is not looked in).
        assert_eq!(
            location("src/lib.rs:7", &root.join("worker"), &root).unwrap(),
            abs("worker/src/lib.rs", 7)
        );
        assert_eq!(
            location("enemy.rs:3", &root, &root).unwrap(),
            abs("worker/src/enemy.rs", 3)
        );
        let e = location("lib.rs:40", &root, &root).unwrap_err().to_string();
        assert!(e.contains("`lib.rs` is in 2 files"), "{e}");
        assert!(e.contains("--break worker/src/lib.rs:40"), "{e}");
        // Function names and files elsewhere go to the debugger as they are.
        assert_eq!(
            location("worker::update", &root, &root).unwrap(),
            "worker::update"
        );
        assert_eq!(location("std.rs:1", &root, &root).unwrap(), "std.rs:1");
    }

    #[test]
    fn gdb_gets_pending_breakpoints_before_the_users_arguments() {
        let c = gdb_command(42, &["/w/lib.rs:3".to_owned()], &["-batch".to_owned()]);
        let at = |s: &str| c.iter().position(|a| a == s).unwrap();
        assert_eq!(c[at("-p") + 1], "42");
        assert!(at("set breakpoint pending on") < at("break /w/lib.rs:3"));
        assert_eq!(c.last().unwrap(), "-batch");
        let l = lldb_command(42, &["/w/lib.rs:3".to_owned()], &[]);
        assert_eq!(&l[1..], ["-p", "42", "-o", "b /w/lib.rs:3"]);
    }
}
