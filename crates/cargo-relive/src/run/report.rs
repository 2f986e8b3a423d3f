//! What the host reports (reloaded, refused, panicked, stuck …): the terminal line and the event.

use serde_json::{Value, json};

use super::host::backtrace;
use super::{Supervisor, ms};
use crate::status;

/// The events a host's relive runtime sends (`relive::Event`).
const HOST_EVENTS: &[&str] = &[
    "loaded",
    "reloaded",
    "reload_failed",
    "panicked",
    "stale_mapping",
    "stuck",
    "restored",
    "restore_failed",
    "unloaded",
    "rewound",
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
                let version = event["version"].as_u64().unwrap_or(0);
                let pause_us = event["timings"]["pause"].as_u64().unwrap_or(0);
                let mut line = format!(
                    "reloaded v{version}: swap {:.2}ms",
                    pause_us as f64 / 1000.0
                );
                if let Some((first, build)) = self.pending_edit.take() {
                    let effect = first.elapsed();
                    event["edit_to_effect_ms"] = json!(ms(effect));
                    event["build_ms"] = json!(ms(build));
                    line = format!(
                        "{line}, build {:.2}s, edit to effect {:.2}s",
                        build.as_secs_f64(),
                        effect.as_secs_f64()
                    );
                }
                status::info(&line);
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
            "stale_mapping" => status::error(
                "an old worker version stayed in memory, most likely because a thread it started \
                     still runs its code (stop and join it in the state's Drop to let each version go)",
            ),
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
            "rewound" => status::info(&format!(
                "rewound {} frames, to frame {}",
                event["frames_back"].as_u64().unwrap_or(0),
                event["frame"].as_u64().unwrap_or(0)
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
