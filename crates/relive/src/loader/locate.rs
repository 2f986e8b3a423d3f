//! Finds a worker crate's library without hard-coded paths.

use std::path::PathBuf;

use crate::error::Error;

/// Environment variable naming the worker library to load; `cargo relive run` sets it.
pub const WORKER_LIB_ENV: &str = "RELIVE_WORKER_LIB";

/// The library of worker crate `crate_name`: `$RELIVE_WORKER_LIB` when set, else
/// `lib<crate>.so` in the running executable's directory or the one above it (cargo puts binaries
/// in `target/<profile>/`, tests and examples one level deeper).
pub fn locate(crate_name: &str) -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os(WORKER_LIB_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::NotFound {
                crate_name: crate_name.to_owned(),
                tried: vec![path],
            })
        };
    }
    let file = library_file_name(crate_name);
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot find the running executable", "", e))?;
    let tried: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&file))
        .collect();
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| Error::NotFound {
            crate_name: crate_name.to_owned(),
            tried,
        })
}

/// `lib<crate_name>.so`, with `-` turned into `_` as cargo does.
pub fn library_file_name(crate_name: &str) -> String {
    format!("lib{}.so", crate_name.replace('-', "_"))
}

/// The cargo target directory the running executable was built into: its nearest ancestor holding
/// the `CACHEDIR.TAG` cargo writes into a target directory it creates, or the `.rustc_info.json`
/// it writes at every build (a target directory created by hand has no tag).
pub fn own_target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file() || d.join(".rustc_info.json").is_file())
        .map(PathBuf::from)
}

/// Refuses a library outside the running executable's target directory: relive loads only what
/// the project itself built.
pub(crate) fn check_trusted(library: &std::path::Path) -> Result<(), Error> {
    let Some(target) = own_target_dir() else {
        return Err(Error::Untrusted {
            path: library.to_owned(),
            reason: "the running executable is not in a cargo target directory (no CACHEDIR.TAG or .rustc_info.json above it)".to_owned(),
        });
    };
    if library.starts_with(&target) {
        Ok(())
    } else {
        Err(Error::Untrusted {
            path: library.to_owned(),
            reason: format!(
                "it is outside this project's target directory {}",
                target.display()
            ),
        })
    }
}
