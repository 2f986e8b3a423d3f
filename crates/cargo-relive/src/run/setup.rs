//! Setting up a session: private directories, the lock, signals and the file watcher.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use notify::{RecursiveMode, Watcher};

use super::{Msg, Supervisor};
use crate::project::Project;
use crate::status;

/// Holds an exclusive lock on the state directory for as long as the returned file lives: two
/// `cargo relive run` of one host would fight over its socket, snapshot and staged library.
pub(super) fn lock(state_dir: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = state_dir.join("lock");
    refuse_link(&path)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock(2) on a file descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        bail!(
            "another `cargo relive run` is already running this host (it holds {}): stop it first",
            path.display()
        );
    }
    Ok(file)
}

/// What cargo writes into a target directory it creates (the cache directory tag,
/// <https://bford.info/cachedir/>).
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by cargo.
# For information about cache directory tags see https://bford.info/cachedir/
";

/// Makes `target` a target directory as cargo would, before relive puts its own directory in it:
/// cargo writes `CACHEDIR.TAG` only into a target directory it creates itself, and the host's
/// relive runtime loads only libraries from a tagged target directory.
pub(super) fn ensure_target_dir(target: &Path) -> Result<()> {
    std::fs::create_dir_all(target)
        .with_context(|| format!("cannot create the target directory {}", target.display()))?;
    let tag = target.join("CACHEDIR.TAG");
    if !tag.exists() {
        std::fs::write(&tag, CACHEDIR_TAG)
            .with_context(|| format!("cannot write {}", tag.display()))?;
    }
    Ok(())
}

/// Refuses a symbolic link where relive keeps its own files: following it would let whoever
/// planted it choose where relive writes (and which directory it makes private).
fn refuse_link(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => bail!(
            "{} is a symbolic link, and relive does not follow links where it keeps its files: \
             remove it (`rm {}`) and run again",
            path.display(),
            path.display()
        ),
        _ => Ok(()),
    }
}

pub(super) fn make_private_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            refuse_link(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", dir.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
}

pub(super) fn spawn_signals(tx: Sender<Msg>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot handle signals")?;
    std::thread::Builder::new()
        .name("relive-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send(Msg::Signal(sig)).is_err() {
                    return;
                }
            }
        })
        .context("cannot start a thread")?;
    Ok(())
}

pub(super) fn watch(project: &Project, tx: Sender<Msg>) -> Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            let _ = tx.send(Msg::File(path));
        }
    })
    .context("cannot start the file watcher")?;
    for dir in project.watch_dirs() {
        watcher
            .watch(&dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    Ok(watcher)
}

impl Supervisor {
    /// Reads the workspace again (`cargo metadata`) and watches any new directory. Whether the
    /// worker was renamed, which needs the host restarted. A workspace that cannot be read keeps
    /// the last one (the build then says what is wrong).
    pub(super) fn reread_project(&mut self) -> bool {
        let project = match Project::discover(&self.opts.cargo, self.opts.host.as_deref()) {
            Ok(project) => project,
            Err(e) => {
                status::error(&format!("{e:#}"));
                return false;
            }
        };
        let old_dirs = self.project.watch_dirs();
        for dir in project.watch_dirs().difference(&old_dirs) {
            if let Err(e) = self.watcher.watch(dir, RecursiveMode::Recursive) {
                status::error(&format!("cannot watch {}: {e}", dir.display()));
            }
        }
        let renamed = project.worker != self.project.worker;
        if renamed {
            status::info(&format!(
                "the worker is now `{}` (was `{}`)",
                project.worker, self.project.worker
            ));
            self.staged_lib = self
                .staged_lib
                .with_file_name(relive::locate::library_file_name(&project.worker));
            self.replay = None;
        }
        self.project = project;
        renamed
    }

    /// The last session's final state: resumed unless `--fresh`, and in any case kept under
    /// `saves/` with a name (`session-2026-11-29-083406`) that `cargo relive load` takes. The
    /// snapshot to start from, if any.
    pub(super) fn resume_or_archive(&mut self, saves: &Path) -> Option<PathBuf> {
        let saved = std::fs::metadata(&self.snapshot)
            .and_then(|m| m.modified())
            .ok()?;
        let name = format!("session-{}", utc_stamp(saved));
        let kept = std::fs::create_dir_all(saves)
            .and_then(|()| std::fs::copy(&self.snapshot, saves.join(format!("{name}.snapshot"))))
            .is_ok();
        prune_sessions(saves, SESSIONS_KEPT);
        let age = saved
            .elapsed()
            .map(|a| human_age(a.as_secs()))
            .unwrap_or_default();
        let load = if kept {
            format!("; this state stays loadable as `cargo relive load {name}`")
        } else {
            String::new()
        };
        if self.opts.fresh {
            let _ = std::fs::remove_file(&self.snapshot);
            let kept = if kept {
                format!(
                    "; the last session's state (saved {age} ago) stays loadable as \
                     `cargo relive load {name}`"
                )
            } else {
                String::new()
            };
            status::info(&format!("starting from a new state (--fresh){kept}"));
            None
        } else {
            status::info(&format!(
                "resuming the last session's state (saved {age} ago); `--fresh` starts over{load}"
            ));
            Some(self.snapshot.clone())
        }
    }
}

/// How many `session-*` saves are kept.
const SESSIONS_KEPT: usize = 10;

/// Removes all but the `keep` newest `session-*.snapshot` files of `saves` (their names sort by
/// time).
fn prune_sessions(saves: &Path, keep: usize) {
    let Ok(dir) = std::fs::read_dir(saves) else {
        return;
    };
    let mut sessions: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("session-") && n.ends_with(".snapshot"))
        })
        .collect();
    sessions.sort();
    let excess = sessions.len().saturating_sub(keep);
    for old in &sessions[..excess] {
        let _ = std::fs::remove_file(old);
    }
}

/// `3 s`, `4 min`, `2 h`, `5 days`.
fn human_age(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// `YYYY-MM-DD-HHMMSS` in UTC.
fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_civil_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "1970-01-01-000000");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_854_846);
        assert_eq!(utc_stamp(t), "2026-11-28-083406");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(utc_stamp(leap), "2000-02-29-000000");
    }

    #[test]
    fn only_the_newest_sessions_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=12 {
            std::fs::write(
                dir.path()
                    .join(format!("session-2026-11-{day:02}-000000.snapshot")),
                "",
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("mine.snapshot"), "").unwrap();
        prune_sessions(dir.path(), 10);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 11);
        assert_eq!(left[0], "mine.snapshot");
        assert_eq!(left[1], "session-2026-11-03-000000.snapshot");
    }
}
