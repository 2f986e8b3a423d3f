//! Building the worker and the host, and staging the worker where the host watches.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::json;

use super::{Supervisor, ms};
use crate::{cargo, status};

impl Supervisor {
    /// Builds the worker and stages it for the running host. The build's duration on success.
    /// `edit` is when the change that started it was saved.
    pub(super) fn build_and_stage_worker(
        &mut self,
        reason: &str,
        edit: Option<Instant>,
    ) -> Option<Duration> {
        let (duration, artifact) = self.build_worker(reason)?;
        if let Some(name) = self.shared_lib_rebuilt() {
            // The running host cannot load a worker linked against another build of a library
            // it has loaded: restart it (with its state), which stages both anew.
            status::info(&format!(
                "`{name}` was rebuilt: the host restarts with it, with its state"
            ));
            self.retry = Some((Instant::now(), crate::debounce::Change::Host));
            return None;
        }
        self.send_status(&json!({
            "status": "built",
            "build_ms": ms(duration),
            "since_edit_ms": edit.map(|e| ms(e.elapsed())),
        }));
        self.stage(&artifact).then_some(duration)
    }

    pub(super) fn stage(&self, artifact: &Path) -> bool {
        match stage_file(artifact, &self.staged_lib) {
            Ok(()) => true,
            Err(e) => {
                status::error(&format!("{e:#}"));
                false
            }
        }
    }

    /// Waits for the replay's warm-up, if it still runs (a build must not run beside it).
    fn finish_warmup(&mut self) {
        if let Some(mut warmup) = self.warmup.take() {
            if warmup.running() {
                status::info(
                    "waiting for the worker's first compile in the background to end (once, in \
                     a new project: it makes the next builds incremental)",
                );
            }
            warmup.finish();
        }
    }

    /// Says, once per target directory, that the wild linker would make reloads faster (it is
    /// not on `PATH`, and relive would use it).
    fn suggest_wild(&self) {
        let marker =
            crate::link::cache_dir(&self.project.target_dir).join(crate::link::WILD_SUGGESTED);
        if marker.exists() {
            return;
        }
        status::advice(
            "the worker links with rustc's rust-lld: with the wild linker on PATH, a small \
             worker reloads ~15 % sooner (`cargo install --locked wild-linker --version \
             0.10.0`, which builds with rustc 1.95 and later; then start `cargo relive run` \
             again: relive uses wild when it finds it, unless `RELIVE_WILD=off`). Said once for \
             this target directory",
        );
        let _ = std::fs::create_dir_all(marker.parent().unwrap_or(&marker))
            .and_then(|()| std::fs::write(&marker, ""));
    }

    /// Builds the worker. The build's duration and library on success.
    pub(super) fn build_worker(&mut self, reason: &str) -> Option<(Duration, PathBuf)> {
        self.sources.building(None);
        self.finish_warmup();
        self.events.emit(
            "build_started",
            json!({ "crate": self.project.worker, "reason": reason }),
        );
        self.send_status(&json!({ "status": "building" }));
        if let Some(replay) = &self.replay
            && !self.told_linker
        {
            if replay.links_with_wild() {
                self.told_linker = true;
                status::info(
                    "linking the worker with wild, found on PATH (`RELIVE_WILD=off` links with \
                     rustc's rust-lld)",
                );
            } else if replay.wild_missing() {
                self.told_linker = true;
                self.suggest_wild();
            }
        }
        // A replay that cannot even start (the toolchain moved) falls back to cargo.
        let replayed = self.replay.as_mut().and_then(|replay| replay.run().ok());
        self.last_build_via = if replayed.is_some() {
            "rustc replayed"
        } else {
            "cargo"
        };
        self.last_link = replayed.as_ref().and_then(|b| b.link);
        let result = match replayed {
            Some(build) => Ok(build),
            None => cargo::build_graph(&self.project, &self.opts.cargo).map(|graph| {
                self.replay = graph.replay;
                graph.worker
            }),
        };
        let worker = self.project.worker.clone();
        if self.discard_if_changed(&worker) {
            return None;
        }
        if result.is_err() {
            self.retry_later(crate::debounce::Change::WorkerDeps);
        }
        let (duration, artifact) = self.finish_build(&worker, result)?;
        status::info(&format!(
            "built `{worker}` in {:.2}s",
            duration.as_secs_f64()
        ));
        Some((duration, artifact))
    }

    /// A build during which sources were saved again is neither staged nor reported as failed:
    /// it is done again once the burst of saves is over. Whether it was discarded.
    fn discard_if_changed(&mut self, krate: &str) -> bool {
        if !self.sources_changed_during_build() {
            return false;
        }
        self.events.emit(
            "build_discarded",
            json!({ "crate": krate, "why": "sources changed while it ran" }),
        );
        status::info(&format!(
            "sources changed while `{krate}` was building: building it again"
        ));
        true
    }

    /// Reports a finished build (event, and the error if it failed); its duration and artifact
    /// when it succeeded.
    pub(super) fn finish_build(
        &mut self,
        krate: &str,
        result: Result<cargo::Build>,
    ) -> Option<(Duration, PathBuf)> {
        let build = match result {
            Ok(build) => build,
            Err(e) => {
                status::error(&format!("{e:#}"));
                return None;
            }
        };
        let help = build.first_error.as_ref().and_then(|e| {
            let engines = super::engine_types::Engines {
                names: &self.project.shared_crates,
                dirs: &self.project.worker_dirs,
            };
            super::engine_types::advice(e, &engines)
        });
        let first_error = build
            .first_error
            .as_ref()
            .map(|e| json!({ "message": e.message, "location": e.location, "help": help }));
        self.events.emit(
            "build_finished",
            json!({
                "crate": krate,
                "success": build.success,
                "duration_ms": ms(build.duration),
                "first_error": first_error,
            }),
        );
        if !build.success {
            // The game shows it: the terminal's copy scrolls away under a full-screen host.
            let (error, location, rendered) = match &build.first_error {
                // The advice where the user looks: after the message on the status line, and
                // above the compiler's own hints in the whole error.
                Some(e) => match &help {
                    Some(help) => (
                        format!("{}: {help}", e.message),
                        e.location.clone(),
                        e.rendered
                            .as_ref()
                            .map(|r| format!("help (relive): {help}\n{r}")),
                    ),
                    None => (e.message.clone(), e.location.clone(), e.rendered.clone()),
                },
                None => (
                    format!("`{krate}` does not build (see the terminal)"),
                    None,
                    None,
                ),
            };
            self.send_status(&json!({
                "status": "build_failed",
                "error": error,
                "location": location,
                "rendered": rendered,
            }));
        }
        match build.artifact {
            Some(artifact) if build.success => Some((build.duration, artifact)),
            _ => {
                let keeps = if self.host.is_some() {
                    "the host keeps running the last good version"
                } else {
                    "fix it and save"
                };
                status::error(&format!("`{krate}` does not build: {keeps}"));
                if let Some(help) = &help {
                    status::advice(help);
                }
                None
            }
        }
    }

    /// Builds the worker and the host in one cargo run (one build graph); the worker's library
    /// when both succeeded. It is staged only when the new host starts, so that the old host
    /// never sees a worker built against an interface it does not have.
    pub(super) fn build_all(&mut self, reason: &str) -> Option<PathBuf> {
        let (worker, host) = (self.project.worker.clone(), self.project.host.clone());
        for krate in [&worker, &host] {
            self.events
                .emit("build_started", json!({ "crate": krate, "reason": reason }));
        }
        self.send_status(&json!({ "status": "building" }));
        let sources = self.sources.snapshot_all(&self.project.worker_dir);
        self.sources.building(Some(&sources));
        self.finish_warmup();
        let graph = cargo::build_graph(&self.project, &self.opts.cargo);
        if self.discard_if_changed(&worker) {
            return None;
        }
        let graph = match graph {
            Ok(graph) => graph,
            Err(e) => {
                status::error(&format!("{e:#}"));
                self.retry_later(crate::debounce::Change::Host);
                return None;
            }
        };
        self.replay = graph.replay;
        let (duration, library) = self.finish_build(&worker, Ok(graph.worker))?;
        let Some((_, exe)) = self.finish_build(&host, Ok(graph.host)) else {
            self.host_outdated = true;
            return None;
        };
        self.host_outdated = false;
        status::info(&format!(
            "built `{worker}` and `{host}` in {:.2}s",
            duration.as_secs_f64()
        ));
        // The session runs (and restarts after a crash) its own link of this build, so that
        // another build of the host (`cargo relive build`, a plain `cargo build` with other
        // features) replacing cargo's file never changes what this session runs.
        let file_name = exe.file_name()?.to_owned();
        let staged = self.staged_lib.with_file_name(file_name);
        if let Err(e) = stage_file(&exe, &staged) {
            status::error(&format!("{e:#}"));
            return None;
        }
        if let Err(e) = self.stage_shared_libs(&staged) {
            status::error(&format!("{e:#}"));
            return None;
        }
        self.host_exe = Some(staged);
        self.sources.built(sources);
        self.prepare_tweaks();
        Some(library)
    }
}

/// Puts a finished build where the host watches, atomically: a link (or copy) then a rename.
pub(super) fn stage_file(artifact: &Path, staged: &Path) -> Result<()> {
    let mut tmp = staged.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(artifact, &tmp).is_err() {
        std::fs::copy(artifact, &tmp)
            .with_context(|| format!("cannot copy {} to {}", artifact.display(), tmp.display()))?;
    }
    std::fs::rename(&tmp, staged)
        .with_context(|| format!("cannot move the build to {}", staged.display()))
}
