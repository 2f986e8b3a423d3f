//! What the host reports (reloaded, refused, panicked, stuck …): the terminal line and the event.

use serde_json::{Value, json};

use super::host::backtrace;
use super::{Supervisor, ms};
use crate::status;

/// The events a host's relive runtime sends (`relive::Event`).
const HOST_EVENTS: &[&str] = &[
    "loaded",
    "tweaked",
    "reloaded",
    "reload_failed",
    "panicked",
    "stale_mapping",
    "stuck",
    "restored",
    "restore_failed",
    "unloaded",
    "rewound",
    "loop_recording",
    "loop_playing",
    "loop_pass",
    "loop_stopped",
    "loop_refused",
    "warning",
];

impl Supervisor {
    pub(super) fn on_host_event(&mut self, mut event: Value) {
        let kind = event["event"].as_str().unwrap_or("").to_owned();
        // Only relive's own events reach the terminal and the events file.
        if !HOST_EVENTS.contains(&kind.as_str()) {
            return;
        }
        match kind.as_str() {
            "reloaded" => {
                self.check_memory();
                let version = event["version"].as_u64().unwrap_or(0);
                let us = |key: &str| event["timings"][key].as_u64().unwrap_or(0) as f64 / 1000.0;
                let (pause, prepare, to_swap) = (us("pause"), us("prepare"), us("detect_to_swap"));
                let mut line = format!("reloaded v{version}: swap {pause:.2}ms");
                let edit_build = self.pending_edit.map(|(_, build)| build);
                if let Some((first, build)) = self.pending_edit.take() {
                    let effect = ms(first.elapsed());
                    let build = ms(build);
                    // Where the time from the save to the new code went.
                    let before = (effect - build - to_swap).max(0.0);
                    let frame_wait = (to_swap - prepare - pause).max(0.0);
                    event["edit_to_effect_ms"] = json!(effect);
                    event["build_ms"] = json!(build);
                    event["build_via"] = json!(self.last_build_via);
                    // The link's share of the build, when relive's linker shim timed it.
                    let link = self.last_link.map(ms);
                    event["link_ms"] = json!(link);
                    event["phases_ms"] = json!({
                        "before_build": before,
                        "build": build,
                        "load": prepare,
                        "frame_wait": frame_wait,
                        "swap": pause,
                    });
                    // While a loop plays, a build waits for the end of the pass.
                    let wait = if self.loop_version.is_some() {
                        "wait for the loop's next pass"
                    } else {
                        "wait for a frame"
                    };
                    let via = match link {
                        Some(link) => format!("{}, link {link:.0}ms", self.last_build_via),
                        None => self.last_build_via.to_owned(),
                    };
                    line = format!(
                        "reloaded v{version} in {:.2}s: build {:.2}s ({via}), load {prepare:.1}ms, \
                         {wait} {frame_wait:.1}ms, swap {pause:.2}ms, before the build {before:.1}ms",
                        effect / 1000.0,
                        build / 1000.0,
                    );
                }
                status::info(&line);
                if let Some(build) = edit_build {
                    self.advise_if_slow(build);
                }
            }
            "reload_failed" => status::error(&format!(
                "reload refused: {}",
                event["reason"].as_str().unwrap_or("")
            )),
            "panicked" => {
                let count = event["count"].as_u64().unwrap_or(1);
                let times = if count > 1 {
                    format!(" {count} times in a row")
                } else {
                    String::new()
                };
                status::error(&format!(
                    "the worker panicked{times} in `{}`: {} at {}{}",
                    event["function"].as_str().unwrap_or("?"),
                    event["message"].as_str().unwrap_or(""),
                    event["location"].as_str().unwrap_or("?"),
                    if count > 1 {
                        ""
                    } else {
                        " (repeats are counted, not shown)"
                    }
                ))
            }
            "stale_mapping" => {
                status::error(&format!(
                    "an old worker version stayed in memory: {}",
                    event["why"].as_str().unwrap_or("")
                ));
                self.check_memory();
            }
            "stuck" => {
                let trace = self.host.as_ref().and_then(|h| backtrace(h.pid));
                status::error(&format!(
                    "the host has been in `{}` (worker v{}) for {} ms: an endless loop? Ctrl-C restarts it from its \
                     last snapshot{}",
                    event["function"].as_str().unwrap_or("?"),
                    event["version"].as_u64().unwrap_or(0),
                    event["stuck_ms"].as_u64().unwrap_or(0),
                    trace
                        .as_deref()
                        .map(|t| format!("; it is here:\n{t}"))
                        .unwrap_or_default()
                ));
                if let Some(trace) = trace {
                    event["backtrace"] = json!(trace);
                }
            }
            "restored" => status::info("state restored"),
            "warning" => status::error(event["message"].as_str().unwrap_or("")),
            "rewound" => status::info(&format!(
                "rewound {} frames",
                event["frames_back"].as_u64().unwrap_or(0)
            )),
            "loop_recording" => {
                status::info("loop: recording; `cargo relive loop end` plays it from its start")
            }
            "loop_playing" => {
                self.loop_version = Some(0);
                status::info(&format!(
                    "loop: playing {} frames ({} KiB recorded) again and again; each build plays \
                     from the next pass; `cargo relive loop stop` goes back to live play",
                    event["frames"].as_u64().unwrap_or(0),
                    event["bytes"].as_u64().unwrap_or(0).div_ceil(1024)
                ));
            }
            "loop_pass" => {
                let version = event["version"].as_u64().unwrap_or(0);
                if self.loop_version.is_some_and(|v| v != 0 && v != version) {
                    status::info(&format!(
                        "loop: pass {} plays v{version}",
                        event["pass"].as_u64().unwrap_or(0)
                    ));
                }
                self.loop_version = Some(version);
            }
            "loop_stopped" => {
                self.loop_version = None;
                status::info(&loop_stopped(event["passes"].as_u64().unwrap_or(0)));
            }
            "loop_refused" => status::error(&format!(
                "loop refused: {}; live play goes on",
                event["reason"].as_str().unwrap_or("")
            )),
            "restore_failed" => status::error(&format!(
                "could not restore the state: {}; started fresh, the snapshot is kept at {}",
                event["reason"].as_str().unwrap_or(""),
                event["kept_at"].as_str().unwrap_or("")
            )),
            _ => {}
        }
        self.events.emit(&kind, event);
    }
}

impl Supervisor {
    /// With `--restart-above`: asks for a restart of the host (with its state) once its memory
    /// passes the budget (each reload of a NODELETE library, or a leak, grows it).
    pub(super) fn check_memory(&mut self) {
        let (Some(limit), Some(host)) = (self.opts.restart_above, &self.host) else {
            return;
        };
        let Some(rss) = rss_bytes(host.pid) else {
            return;
        };
        if rss > limit && !self.restart_due {
            status::info(&format!(
                "the host uses {:.0} MB, more than --restart-above {:.0} MB: restarting it with its state",
                rss as f64 / 1e6,
                limit as f64 / 1e6
            ));
            self.restart_due = true;
        }
    }
}

/// The resident memory of process `pid`, from `/proc/<pid>/status`.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The line for a loop that stopped after `passes` passes (`cargo relive run` and `loop stop`).
pub fn loop_stopped(passes: u64) -> String {
    match passes {
        0 => "loop: stopped before it played; live play".to_owned(),
        1 => "loop: stopped after 1 pass; live play".to_owned(),
        n => format!("loop: stopped after {n} passes; live play"),
    }
}
