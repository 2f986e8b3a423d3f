//! Saves that leave the worker's sources as they were build nothing: an editor's save without
//! an edit, a format-on-save with nothing to format, a save-all of open files.
//!
//! The supervisor notes which worker sources the watcher reported, reads them when the burst of
//! saves is over, and compares their contents with those of the last build that succeeded. Only
//! while the last build succeeded: after a failed or discarded one (the game shows the failure),
//! saving anything builds again, so the game's status follows the sources.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// The contents (hashed) of some worker sources, read at one moment; `None` for a file that
/// cannot be read (deleted, say).
#[derive(Debug, Default)]
pub(super) struct Snapshot(Vec<(PathBuf, Option<u64>)>, HashMap<PathBuf, String>);

/// What the last successful build saw, and what was saved since.
#[derive(Debug, Default)]
pub(super) struct Sources {
    built: HashMap<PathBuf, u64>,
    /// The text of each source as the last successful build saw it: what the running version
    /// was built from, for the tweaks of a save that changed only literals.
    texts: HashMap<PathBuf, String>,
    saved: BTreeSet<PathBuf>,
    /// The text of each source as the session last read it (a save, or a build's start): what
    /// a write-back edits, and refuses to write over when the file holds something else.
    seen: HashMap<PathBuf, String>,
    /// A build started since the last one that succeeded.
    unsettled: bool,
}

impl Snapshot {
    /// The contents of `paths`, read now.
    fn read(paths: BTreeSet<PathBuf>) -> Snapshot {
        let mut texts = HashMap::new();
        let hashes = paths
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).ok();
                let hash = bytes.as_ref().map(|b| {
                    let mut hasher = DefaultHasher::new();
                    b.hash(&mut hasher);
                    hasher.finish()
                });
                if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
                    texts.insert(p.clone(), text);
                }
                (p, hash)
            })
            .collect();
        Snapshot(hashes, texts)
    }

    /// The files read, with their text (those that could be read, as UTF-8).
    pub(super) fn texts(&self) -> impl Iterator<Item = (&Path, Option<&str>)> {
        self.0
            .iter()
            .map(|(p, _)| (p.as_path(), self.1.get(p).map(String::as_str)))
    }
}

/// The files under `dir`, in all its subdirectories (symbolic links are not followed).
pub(super) fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => {
                    files.insert(entry.path());
                }
                _ => {}
            }
        }
    }
    files
}

impl Sources {
    /// A worker source the watcher reported.
    pub(super) fn saved(&mut self, path: &Path) {
        self.saved.insert(path.to_owned());
    }

    /// The sources saved since the last snapshot, read now.
    pub(super) fn snapshot_saved(&mut self) -> Snapshot {
        let snapshot = Snapshot::read(std::mem::take(&mut self.saved));
        self.see(&snapshot);
        snapshot
    }

    fn see(&mut self, snapshot: &Snapshot) {
        for (path, _) in &snapshot.0 {
            match snapshot.1.get(path) {
                Some(text) => self.seen.insert(path.clone(), text.clone()),
                None => self.seen.remove(path),
            };
        }
    }

    /// Whether the watcher reported a save of `path` that the session has not read yet.
    pub(super) fn pending(&self, path: &Path) -> bool {
        self.saved.contains(path)
    }

    /// Every source the session read, with the text it read.
    pub(super) fn seen_texts(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.seen.iter().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// The session itself wrote `text` to `path` (a write-back): that is what it has read.
    pub(super) fn wrote(&mut self, path: &Path, text: String) {
        self.seen.insert(path.to_owned(), text);
    }

    /// Every file under `dir/src` and every source saved since the last snapshot, read now (a
    /// build of the whole worker).
    pub(super) fn snapshot_all(&mut self, dir: &Path) -> Snapshot {
        let mut files = std::mem::take(&mut self.saved);
        files.extend(files_under(&dir.join("src")));
        let snapshot = Snapshot::read(files);
        self.see(&snapshot);
        snapshot
    }

    /// A build starts, of the contents in `snapshot` if it has one. Until [`Sources::built`],
    /// those files count as changed: a build that fails or is discarded leaves them so (the
    /// game runs something else than what they held then).
    pub(super) fn building(&mut self, snapshot: Option<&Snapshot>) {
        self.unsettled = true;
        for (path, _) in snapshot.map(|s| s.0.as_slice()).unwrap_or_default() {
            self.built.remove(path);
        }
    }

    /// The files of `snapshot` if each has the contents of the last build, which succeeded;
    /// `None` if any changed (or none was saved, or a build since failed).
    ///
    /// A file that is gone and that no build saw is no change: an editor's temporary file,
    /// renamed over the source it saved (`sed -i`, vim's `backupcopy=no`, atomic saves).
    pub(super) fn unchanged<'a>(&self, snapshot: &'a Snapshot) -> Option<Vec<&'a Path>> {
        let files: Vec<_> = snapshot
            .0
            .iter()
            .filter(|(path, hash)| hash.is_some() || self.texts.contains_key(path))
            .collect();
        let same = !self.unsettled
            && !files.is_empty()
            && files
                .iter()
                .all(|(path, hash)| hash.is_some() && self.built.get(path) == hash.as_ref());
        same.then(|| files.iter().map(|(p, _)| p.as_path()).collect())
    }

    /// The text of `path` in the last successful build.
    pub(super) fn built_text(&self, path: &Path) -> Option<&str> {
        self.texts.get(path).map(String::as_str)
    }

    /// The texts of every source the last successful builds saw.
    pub(super) fn built_texts(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.texts.iter().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// A build of `snapshot`'s contents succeeded.
    pub(super) fn built(&mut self, mut snapshot: Snapshot) {
        self.unsettled = false;
        for (path, _) in &snapshot.0 {
            match snapshot.1.remove(path) {
                Some(text) => self.texts.insert(path.clone(), text),
                None => self.texts.remove(path),
            };
        }
        for (path, hash) in snapshot.0 {
            match hash {
                Some(hash) => self.built.insert(path, hash),
                None => self.built.remove(&path),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contents_a_successful_build_saw_count_as_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("deep")).unwrap();
        let lib = src.join("lib.rs");
        let deep = src.join("deep/mod.rs");
        std::fs::write(&lib, "a").unwrap();
        std::fs::write(&deep, "b").unwrap();
        let mut sources = Sources::default();

        // Nothing built yet: any save builds.
        sources.saved(&lib);
        let first = sources.snapshot_saved();
        assert!(sources.unchanged(&first).is_none());

        // A whole build saw both files.
        let all = sources.snapshot_all(dir.path());
        sources.built(all);
        sources.saved(&deep);
        let same = sources.snapshot_saved();
        assert_eq!(sources.unchanged(&same), Some(vec![deep.as_path()]));

        // Other contents build; once that build failed, even the contents of the build before
        // build again (the game shows the failure); once it succeeded, they are unchanged.
        std::fs::write(&lib, "a2").unwrap();
        sources.saved(&lib);
        let edited = sources.snapshot_saved();
        assert!(sources.unchanged(&edited).is_none());
        sources.building(Some(&edited));
        sources.saved(&deep);
        let before_failure = sources.snapshot_saved();
        assert!(
            sources.unchanged(&before_failure).is_none(),
            "a build failed since"
        );
        sources.saved(&lib);
        let again = sources.snapshot_saved();
        assert!(
            sources.unchanged(&again).is_none(),
            "the failed build counts for nothing"
        );
        sources.built(again);
        sources.saved(&lib);
        let saved = sources.snapshot_saved();
        assert!(sources.unchanged(&saved).is_some());

        // A file of a build that was discarded (another file saved meanwhile) counts as
        // changed even after the next build, of the other file, succeeds: reverting it builds.
        std::fs::write(&lib, "a3").unwrap();
        sources.saved(&lib);
        let discarded = sources.snapshot_saved();
        sources.building(Some(&discarded));
        sources.saved(&deep);
        let next = sources.snapshot_saved();
        sources.building(Some(&next));
        sources.built(next);
        std::fs::write(&lib, "a2").unwrap();
        sources.saved(&lib);
        let reverted = sources.snapshot_saved();
        assert!(sources.unchanged(&reverted).is_none(), "the revert builds");

        // A save that renames a temporary file over the source, with the same contents: the
        // temporary file is gone by the time the burst is read, and the source is unchanged.
        sources.building(Some(&reverted));
        sources.built(reverted);
        let temp = src.join("sedX1a2b3");
        std::fs::write(&temp, "a2").unwrap();
        sources.saved(&temp);
        std::fs::rename(&temp, &lib).unwrap();
        sources.saved(&lib);
        let renamed = sources.snapshot_saved();
        assert_eq!(sources.unchanged(&renamed), Some(vec![lib.as_path()]));

        // A deleted file is a change.
        std::fs::remove_file(&deep).unwrap();
        sources.saved(&deep);
        let deleted = sources.snapshot_saved();
        assert!(sources.unchanged(&deleted).is_none());
    }
}
