//! Finds the host, its worker and the directories to watch through `cargo metadata`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId};

use crate::debounce::Change;

/// A relive workspace as `cargo relive` sees it.
#[derive(Debug, Clone)]
pub struct Project {
    /// The workspace root.
    pub root: PathBuf,
    /// cargo's target directory.
    pub target_dir: PathBuf,
    /// The host package's name.
    pub host: String,
    /// The host's binary target name.
    pub host_bin: String,
    /// The worker package's name.
    pub worker: String,
    /// The worker package's directory.
    pub worker_dir: PathBuf,
    /// Source directories of local packages the host depends on (restart on change).
    pub host_dirs: Vec<PathBuf>,
    /// Source directories of local packages the worker depends on (reload on change).
    pub worker_dirs: Vec<PathBuf>,
    /// Local packages the worker depends on whose library is a Rust `dylib`: the engine crate
    /// of the engine-direct layout, shared with the host (built with `-C prefer-dynamic`).
    pub shared_crates: Vec<String>,
}

/// How to call cargo: the options `cargo relive` passes through.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    /// `--manifest-path`.
    pub manifest_path: Option<PathBuf>,
    /// `--release`.
    pub release: bool,
    /// `--features` for the host.
    pub features: Vec<String>,
}

impl CargoOptions {
    /// The cargo to run: `$CARGO` when cargo runs us, else `cargo`.
    pub fn cargo() -> PathBuf {
        std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| "cargo".into())
    }

    /// The profile directory name.
    pub fn profile_dir(&self) -> &'static str {
        if self.release { "release" } else { "debug" }
    }
}

impl Project {
    /// Reads the workspace's metadata and picks the host (`-p`, or the only binary depending on
    /// relive) and its worker (the cdylib depending on relive-worker).
    pub fn discover(opts: &CargoOptions, host: Option<&str>) -> Result<Project> {
        Project::discover_for(opts, host, false)
    }

    /// [`Project::discover`] for a command that talks to a running session (`state`, `save`,
    /// `load`, `inspect`, `rewind`): among several hosts, the one whose `cargo relive run` is
    /// running, when it is the only one.
    pub fn discover_running(opts: &CargoOptions, host: Option<&str>) -> Result<Project> {
        Project::discover_for(opts, host, true)
    }

    fn discover_for(opts: &CargoOptions, host: Option<&str>, running: bool) -> Result<Project> {
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(CargoOptions::cargo());
        if let Some(path) = &opts.manifest_path {
            cmd.manifest_path(path);
        }
        let meta = cmd
            .exec()
            .context("cannot read the workspace with `cargo metadata`")?;
        let members: Vec<&Package> = meta.workspace_packages();

        let depends_on = |p: &Package, name: &str| p.dependencies.iter().any(|d| d.name == name);
        let is_worker = |p: &Package| {
            depends_on(p, "relive-worker")
                && p.targets
                    .iter()
                    .any(|t| t.crate_types.iter().any(|c| c.to_string() == "cdylib"))
        };
        let host_pkg = match host {
            Some(name) => *members
                .iter()
                .find(|p| p.name.as_str() == name)
                .with_context(|| format!("no package `{name}` in the workspace"))?,
            None => {
                // A binary that depends on relive and on a worker (optionally, for ship builds);
                // one without a worker dependency is a tool that uses relive, like this one.
                let has_worker_dep = |p: &Package| {
                    p.dependencies.iter().any(|d| {
                        members
                            .iter()
                            .any(|m| m.name.as_str() == d.name && is_worker(m))
                    })
                };
                let hosts: Vec<&&Package> = members
                    .iter()
                    .filter(|p| depends_on(p, "relive") && p.targets.iter().any(|t| t.is_bin()))
                    .filter(|p| has_worker_dep(p))
                    .collect();
                // Among several, the only one with a session running, for a command to a session.
                let live: Vec<&&Package> = hosts
                    .iter()
                    .copied()
                    .filter(|p| {
                        running
                            && std::os::unix::net::UnixStream::connect(
                                meta.target_directory
                                    .join("relive")
                                    .join(p.name.as_str())
                                    .join("control.sock"),
                            )
                            .is_ok()
                    })
                    .collect();
                match hosts.as_slice() {
                    [one] => **one,
                    [_, _, ..] if live.len() == 1 => *live[0],
                    [] => bail!(
                        "no host in this workspace: a host is a binary package that depends on `relive`; \
                         `cargo relive new <dir>` creates a workspace with one"
                    ),
                    many => bail!(
                        "several hosts in this workspace ({}){}: choose one with `-p`",
                        many.iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if running && live.is_empty() {
                            " and no `cargo relive run` of any of them is running"
                        } else {
                            ""
                        }
                    ),
                }
            }
        };
        let host_bin = host_pkg
            .targets
            .iter()
            .find(|t| t.is_bin())
            .map(|t| t.name.clone())
            .with_context(|| format!("package `{}` has no binary target", host_pkg.name))?;

        let workers: Vec<&&Package> = members.iter().filter(|p| is_worker(p)).collect();
        let worker_pkg = match workers
            .iter()
            .find(|w| depends_on(host_pkg, w.name.as_str()))
            .or(if workers.len() == 1 {
                workers.first()
            } else {
                None
            }) {
            Some(w) => **w,
            None if workers.is_empty() => bail!(
                "no worker in this workspace: a worker is a package with `crate-type = [\"cdylib\", \"rlib\"]` \
                 that depends on `relive-worker`"
            ),
            None => bail!(
                "several workers in this workspace and `{}` names none of them as its (optional) dependency",
                host_pkg.name
            ),
        };

        let shared_crates = members
            .iter()
            .filter(|p| depends_on(worker_pkg, p.name.as_str()))
            .filter(|p| {
                p.targets
                    .iter()
                    .any(|t| t.crate_types.iter().any(|c| c.to_string() == "dylib"))
            })
            .map(|p| p.name.to_string())
            .collect();
        let host_dirs = local_dirs(&meta, &host_pkg.id);
        let worker_dirs = local_dirs(&meta, &worker_pkg.id);
        Ok(Project {
            root: meta.workspace_root.clone().into_std_path_buf(),
            target_dir: meta.target_directory.clone().into_std_path_buf(),
            host: host_pkg.name.to_string(),
            host_bin,
            worker: worker_pkg.name.to_string(),
            worker_dir: worker_pkg
                .manifest_path
                .parent()
                .map(|d| d.to_path_buf().into_std_path_buf())
                .unwrap_or_default(),
            host_dirs,
            worker_dirs,
            shared_crates,
        })
    }

    /// What a change of `path` requires, if anything: the deepest package directory containing it
    /// decides.
    pub fn classify(&self, path: &Path) -> Option<Change> {
        if path.starts_with(&self.target_dir) {
            return None;
        }
        let deepest = |dirs: &[PathBuf]| {
            dirs.iter()
                .filter(|d| path.starts_with(d) && !ignored(path.strip_prefix(d).unwrap_or(path)))
                .map(|d| d.as_os_str().len())
                .max()
        };
        match (deepest(&self.host_dirs), deepest(&self.worker_dirs)) {
            (Some(h), Some(w)) if h >= w => Some(Change::Host),
            (Some(_), None) => Some(Change::Host),
            (_, Some(w)) => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let own_sources = w == self.worker_dir.as_os_str().len()
                    && !matches!(name, "Cargo.toml" | "Cargo.lock" | "build.rs");
                Some(if own_sources {
                    Change::Worker
                } else {
                    Change::WorkerDeps
                })
            }
            (None, None) => None,
        }
    }

    /// Every directory to watch.
    pub fn watch_dirs(&self) -> BTreeSet<PathBuf> {
        self.host_dirs
            .iter()
            .chain(&self.worker_dirs)
            .cloned()
            .collect()
    }

    /// The worker's crate name (`-` as `_`).
    pub fn worker_crate(&self) -> String {
        self.worker.replace('-', "_")
    }
}

/// Directories of the local (path) packages in `root`'s dependency closure, `root` included.
fn local_dirs(meta: &Metadata, root: &PackageId) -> Vec<PathBuf> {
    let packages: HashMap<&PackageId, &Package> =
        meta.packages.iter().map(|p| (&p.id, p)).collect();
    let Some(resolve) = &meta.resolve else {
        return packages
            .get(root)
            .and_then(|p| p.manifest_path.parent())
            .map(|d| vec![d.to_path_buf().into_std_path_buf()])
            .unwrap_or_default();
    };
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    let mut dirs = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(pkg) = packages.get(id) else {
            continue;
        };
        if pkg.source.is_some() {
            continue; // from a registry or git: not the user's to edit
        }
        if let Some(dir) = pkg.manifest_path.parent() {
            dirs.insert(dir.to_path_buf().into_std_path_buf());
        }
        if let Some(node) = nodes.get(id) {
            for dep in &node.deps {
                // Build-time-only and dev dependencies do not change what runs.
                let normal = dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == cargo_metadata::DependencyKind::Normal);
                if normal {
                    stack.push(&dep.pkg);
                }
            }
        }
    }
    dirs.into_iter().collect()
}

/// Paths (relative to their package) whose changes never matter: build output, version control,
/// editor droppings.
pub fn ignored(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
    {
        return true;
    }
    path.components().any(|c| {
        let c = c.as_os_str().to_str().unwrap_or("");
        c == "target" || c == ".git"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            root: "/ws".into(),
            target_dir: "/ws/target".into(),
            host: "host".into(),
            host_bin: "host".into(),
            worker: "worker".into(),
            worker_dir: "/ws/worker".into(),
            host_dirs: vec!["/ws/host".into(), "/ws/base".into()],
            worker_dirs: vec![
                "/ws/worker".into(),
                "/ws/base".into(),
                "/ws/worker/nested".into(),
            ],
            shared_crates: Vec::new(),
        }
    }

    #[test]
    fn changes_are_classified_by_the_deepest_package() {
        let p = project();
        let check = |path: &str, expected: Option<Change>| {
            assert_eq!(p.classify(Path::new(path)), expected, "{path}")
        };
        check("/ws/worker/src/lib.rs", Some(Change::Worker));
        check("/ws/worker/nested/src/lib.rs", Some(Change::WorkerDeps));
        check("/ws/worker/Cargo.toml", Some(Change::WorkerDeps));
        check("/ws/worker/build.rs", Some(Change::WorkerDeps));
        check("/ws/base/src/lib.rs", Some(Change::Host));
        check("/ws/host/src/main.rs", Some(Change::Host));
        check("/ws/host/Cargo.toml", Some(Change::Host));
        check("/ws/README.md", None);
        check("/ws/target/debug/libworker.so", None);
        check("/ws/worker/target/x.rs", None);
        check("/ws/worker/src/.lib.rs.swp", None);
        check("/ws/worker/src/lib.rs~", None);
        check("/ws/worker/src/4913", None);
        check("/ws/worker/.git/index", None);
    }
}
