//! Records what the ABI of this build depends on: the compiler, the target and the codegen flags.
//! Host and worker each compile relive-worker, so each carries the facts of its own build.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    let mut release = String::new();
    let mut commit = String::new();
    for line in version.lines() {
        if let Some(v) = line.strip_prefix("release: ") {
            release = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("commit-hash: ") {
            commit = v.trim().to_owned();
        }
    }
    let rustc_id = if release.is_empty() {
        "unknown".to_owned()
    } else {
        format!("{release} ({commit})")
    };
    println!("cargo:rustc-env=RELIVE_BUILD_RUSTC={rustc_id}");

    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=RELIVE_BUILD_TARGET={target}");

    // Only flags that can change code generation or layout matter; lint levels do not.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut kept = Vec::new();
    let mut args = flags.split('\x1f').filter(|a| !a.is_empty());
    while let Some(arg) = args.next() {
        match lint_flag(arg) {
            Some(true) => {
                args.next();
            }
            Some(false) => {}
            None => kept.push(arg.to_owned()),
        }
    }
    println!("cargo:rustc-env=RELIVE_BUILD_FLAGS={}", kept.join(" "));
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `Some(takes_value)` when `arg` sets a lint level, which cannot change the ABI.
fn lint_flag(arg: &str) -> Option<bool> {
    for short in ["-D", "-W", "-A", "-F"] {
        if arg == short {
            return Some(true);
        }
        if arg.starts_with(short) {
            return Some(false);
        }
    }
    for long in [
        "--cap-lints",
        "--deny",
        "--warn",
        "--allow",
        "--forbid",
        "--force-warn",
    ] {
        if arg == long {
            return Some(true);
        }
        if arg
            .strip_prefix(long)
            .is_some_and(|rest| rest.starts_with('='))
        {
            return Some(false);
        }
    }
    None
}
