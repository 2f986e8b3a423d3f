//! Shared Rust libraries (the engine-direct layout: an engine crate of `crate-type = ["dylib",
//! "rlib"]` that host and worker both link, everything built with `-C prefer-dynamic`).
//!
//! The session runs a staged link of the host ([`super::build`]), and with it staged links of the
//! Rust libraries it needs from the target dir, so that neither another build of them nor a
//! crash restart ever pairs the running host with a build of its libraries it was not linked
//! against. A worker build that rebuilt one of them restarts the host instead of being staged:
//! the running host could not load it (the runtime refuses it too, see
//! `relive::shared_libs`).

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};

use super::Supervisor;
use super::build::stage_file;

/// The Rust libraries staged with the running host: file name and inode of the build staged.
pub(super) type Staged = Vec<(String, u64)>;

impl Supervisor {
    /// cargo's `deps/` directory of the profile being run.
    pub(super) fn deps_dir(&self) -> PathBuf {
        self.project
            .target_dir
            .join(self.opts.cargo.profile_dir())
            .join("deps")
    }

    /// Where the staged host finds its Rust libraries: their staged links.
    pub(super) fn staged_libs_dir(&self) -> PathBuf {
        self.staged_lib.with_file_name("lib")
    }

    /// Links the Rust libraries `exe` needs from the target dir (and those they need) into
    /// [`Self::staged_libs_dir`], replacing the previous set. None for a host linked statically.
    pub(super) fn stage_shared_libs(&mut self, exe: &Path) -> Result<()> {
        let deps = self.deps_dir();
        let dir = self.staged_libs_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut staged = Staged::new();
        let mut todo = relive::shared_libs::needed(exe);
        if self.toolchain_libs.is_none() && todo.iter().any(|n| n.starts_with("libstd-")) {
            self.toolchain_libs = toolchain_libs(&self.project.root);
        }
        while let Some(name) = todo.pop() {
            let built = deps.join(&name);
            if staged.iter().any(|(n, _)| *n == name) || !built.is_file() {
                continue;
            }
            let inode = std::fs::metadata(&built)
                .with_context(|| format!("cannot read {}", built.display()))?
                .ino();
            stage_file(&built, &dir.join(&name))?;
            todo.extend(relive::shared_libs::needed(&built));
            staged.push((name, inode));
        }
        self.shared_staged = staged;
        Ok(())
    }

    /// The first staged Rust library of which the target dir now has another build.
    pub(super) fn shared_lib_rebuilt(&self) -> Option<&str> {
        let deps = self.deps_dir();
        self.shared_staged
            .iter()
            .find(|(name, inode)| {
                std::fs::metadata(deps.join(name)).is_ok_and(|m| m.ino() != *inode)
            })
            .map(|(name, _)| name.as_str())
    }

    /// The host's `LD_LIBRARY_PATH`: the staged Rust libraries, cargo's output directories (as
    /// `cargo run` sets them) and the toolchain's own libraries (a shared `libstd-*.so`), then
    /// what the user had.
    pub(super) fn library_path(&self) -> OsString {
        let profile = self.project.target_dir.join(self.opts.cargo.profile_dir());
        let mut dirs = vec![self.staged_libs_dir(), self.deps_dir(), profile];
        dirs.extend(self.toolchain_libs.clone());
        let mut path = std::env::join_paths(&dirs).unwrap_or_default();
        if let Some(user) = std::env::var_os("LD_LIBRARY_PATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(user);
        }
        path
    }
}

/// The toolchain's library directory for the host target (`<sysroot>/lib/rustlib/<triple>/lib`),
/// where a shared `libstd-*.so` is, as the project's `rustc` reports it from `dir` (which honours
/// its `rust-toolchain.toml`).
pub(super) fn toolchain_libs(dir: &Path) -> Option<PathBuf> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let ask = |args: &[&str]| -> Option<String> {
        let out = Command::new(&rustc)
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let sysroot = ask(&["--print", "sysroot"])?;
    let version = ask(&["-vV"])?;
    let triple = version.lines().find_map(|l| l.strip_prefix("host: "))?;
    Some(
        Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(triple.trim())
            .join("lib"),
    )
}
