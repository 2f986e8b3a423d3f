//! Rust `dylib`s shared by host and worker (the engine-direct layout: a crate of
//! `crate-type = ["dylib", "rlib"]` both depend on, everything built with `-C prefer-dynamic`).
//!
//! The host maps one build of such a library for its whole life; a worker built later is linked
//! against whatever build is in the target directory then. The loader resolves the worker's
//! `NEEDED` entry to the copy already loaded, by name, so a worker linked against another build
//! would run against code and data layouts it was not compiled for: such a worker is refused
//! before it is opened (`relive::Error::SharedLibraryRebuilt`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Where the builds of shared libraries are (cargo's `target/<profile>/deps`), when the worker
/// relive watches is not in `target/<profile>` itself (a supervisor's staged copy).
pub const DEPS_DIR_ENV: &str = "RELIVE_DEPS_DIR";

/// The libraries the ELF file at `path` needs (its `DT_NEEDED` entries), by file name.
pub fn needed(path: &Path) -> Vec<String> {
    crate::loader::elf::needed(path)
}

/// Refuses the worker built at `built` (the file cargo wrote, not relive's copy) when a Rust
/// library it needs is loaded in this process from another build than the one now in the
/// target directory's `deps/`, the build the worker was linked against.
pub(crate) fn check(built: &Path) -> Result<(), Error> {
    // Without a shared std there are no shared Rust libraries (a `dylib` links through
    // `-C prefer-dynamic`): nothing to read on the reload path.
    if !crate::unload::shared_std::std_is_shared() {
        return Ok(());
    }
    let deps = match std::env::var_os(DEPS_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => match built.parent() {
            Some(dir) => dir.join("deps"),
            None => return Ok(()),
        },
    };
    for name in needed(built) {
        // std comes with the toolchain: the fingerprint's rustc check covers it.
        if name.starts_with("libstd-") || !name.ends_with(".so") {
            continue;
        }
        let Some((mapped, inode)) = crate::unload::maps::mapped_object(&name) else {
            continue;
        };
        let candidate = deps.join(&name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.ino() != inode {
            return Err(Error::SharedLibraryRebuilt {
                name,
                loaded: mapped,
                built: candidate,
            });
        }
    }
    Ok(())
}
