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
