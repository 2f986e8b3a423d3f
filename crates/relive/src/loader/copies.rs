//! Versioned copies of the worker library, one per version, in a private directory.
//!
//! glibc returns the already-loaded image for a path (or inode) that is still loaded, so every
//! version is loaded from a fresh file. A copy (not a hard link) also protects the mapped image
//! from a writer that rewrites the built file in place. Under a supervisor that sets
//! [`STAGED_ENV`] (`cargo relive run`), the watched file is only ever replaced by a rename of a
//! file written once, so a version is a hard link to it instead: no bytes are copied on the way
//! to loading a new build (a copy is still made if the file is the inode of a kept version). The
//! directory,
//! `<library dir>/.relive/<library>.<pid>.<n>/`, is created `0700`; the current and the previous copy
//! are kept (the previous one for rollback and post-mortems), older ones removed, and the whole
//! directory is removed when the worker is dropped. Directories left by dead processes are removed
//! on the next start.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// Set to `1` by a supervisor that only ever renames new builds over the watched library.
pub const STAGED_ENV: &str = "RELIVE_STAGED";

/// The private directory of one host process for one worker crate.
#[derive(Debug)]
pub(crate) struct Copies {
    dir: PathBuf,
    stem: String,
    kept: Vec<PathBuf>,
    /// Whether a version may be a hard link to the watched file (see the module docs).
    link: bool,
}

impl Copies {
    /// Creates the directory for the library at `library`; versions are hard links when this
    /// process runs under a supervisor that set [`STAGED_ENV`] to `1`.
    pub(crate) fn new(library: &Path) -> Result<Copies, Error> {
        let staged = std::env::var_os(STAGED_ENV).is_some_and(|v| v == "1");
        Copies::with_links(library, staged)
    }

    /// Creates the directory for the library at `library`; `link`: versions are hard links.
    pub(crate) fn with_links(library: &Path, link: bool) -> Result<Copies, Error> {
        let parent = library.parent().unwrap_or(Path::new("."));
        let root = parent.join(".relive");
        make_private_dir(&root)?;
        let stem = library
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "worker".to_owned());
        remove_dead(&root, &stem);
        // Unique per worker: two workers of one crate in a process must never share a path, or
        // the loader would hand the second one the first one's image.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = root.join(format!("{stem}.{}.{n}", std::process::id()));
        if dir.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
        make_private_dir(&dir)?;
        Ok(Copies {
            dir,
            stem,
            kept: Vec::new(),
            link,
        })
    }

    /// Copies (or links) `source` as version `version` and returns the new path.
    pub(crate) fn add(&mut self, source: &Path, version: u64) -> Result<PathBuf, Error> {
        let dest = self.dir.join(format!("{}.v{version}.so", self.stem));
        if !(self.link && self.hard_link(source, &dest)) {
            fs::copy(source, &dest)
                .map_err(|e| Error::io("cannot copy the worker library", source, e))?;
        }
        self.kept.push(dest.clone());
        Ok(dest)
    }

    /// Links `dest` to `source` unless `source` is the inode of a kept version (loading it would
    /// hand back that version's image). `false` when it did not link.
    fn hard_link(&self, source: &Path, dest: &Path) -> bool {
        let Ok(meta) = fs::metadata(source) else {
            return false;
        };
        let same_inode = |p: &PathBuf| {
            fs::metadata(p).is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        };
        !self.kept.iter().any(same_inode) && fs::hard_link(source, dest).is_ok()
    }

    /// Forgets a copy that was never loaded or was refused.
    pub(crate) fn discard(&mut self, copy: &Path) {
        self.kept.retain(|p| p != copy);
        let _ = fs::remove_file(copy);
    }

    /// Keeps `current` and the copy before it, removing older ones.
    pub(crate) fn prune(&mut self, current: &Path) {
        let Some(at) = self.kept.iter().position(|p| p == current) else {
            return;
        };
        let keep_from = at.saturating_sub(1);
        for old in self.kept.drain(..keep_from) {
            let _ = fs::remove_file(old);
        }
    }

    /// The directory.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn make_private_dir(dir: &Path) -> Result<(), Error> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("cannot make private", dir, e))
        }
        Err(e) => Err(Error::io("cannot create", dir, e)),
    }
}

/// Removes the copy directories of processes that no longer run.
fn remove_dead(root: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{stem}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        // `<stem>.<pid>.<n>`
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.split('.').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_private_versioned_and_pruned_to_current_and_previous() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("libw.so");
        fs::write(&lib, b"v").unwrap();
        let mut copies = Copies::new(&lib).unwrap();
        let mode = fs::metadata(copies.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let root_mode = fs::metadata(tmp.path().join(".relive"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(root_mode, 0o700);
        let v1 = copies.add(&lib, 1).unwrap();
        let v2 = copies.add(&lib, 2).unwrap();
        let v3 = copies.add(&lib, 3).unwrap();
        copies.prune(&v3);
        assert!(!v1.exists());
        assert!(v2.exists() && v3.exists());
        let dir = copies.dir().to_owned();
        drop(copies);
        assert!(!dir.exists());
    }

    #[test]
    fn staged_versions_are_links_unless_the_file_is_a_kept_version() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("libw.so");
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        fs::write(&lib, b"v1").unwrap();
        let mut copies = Copies::with_links(&lib, true).unwrap();
        let v1 = copies.add(&lib, 1).unwrap();
        assert_eq!(ino(&v1), ino(&lib), "a staged build is linked, not copied");
        // Touched but not replaced: the same inode as version 1, so it must be a real copy.
        let v2 = copies.add(&lib, 2).unwrap();
        assert_ne!(ino(&v2), ino(&v1));
        assert_eq!(fs::read(&v2).unwrap(), b"v1");
        // A new build renamed over the staged file: a new inode, linked again.
        let next = tmp.path().join("libw.so.tmp");
        fs::write(&next, b"v3").unwrap();
        fs::rename(&next, &lib).unwrap();
        let v3 = copies.add(&lib, 3).unwrap();
        assert_eq!(ino(&v3), ino(&lib));
        assert_eq!(
            fs::read(&v1).unwrap(),
            b"v1",
            "the old version keeps its bytes"
        );
        // Without staging, every version is a copy.
        let mut unstaged = Copies::with_links(&lib, false).unwrap();
        let c = unstaged.add(&lib, 1).unwrap();
        assert_ne!(ino(&c), ino(&lib));
    }

    #[test]
    fn directories_of_dead_processes_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("libw.so");
        fs::write(&lib, b"v").unwrap();
        let dead = tmp.path().join(".relive/libw.999999999.0");
        fs::create_dir_all(&dead).unwrap();
        let _copies = Copies::new(&lib).unwrap();
        assert!(!dead.exists());
    }
}
