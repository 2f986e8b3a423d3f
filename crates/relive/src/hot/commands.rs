//! The supervised host's side of `cargo relive run` inside a `Worker`: restoring its snapshot,
//! writing recovery snapshots, answering `state get|set`, `save` and `load`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use relive_worker::Interface;

use super::Worker;
use crate::session::event::Event;
use crate::state::snapshot::Format;

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Starts from the supervisor's snapshot, if it gave one. An unreadable snapshot is moved
    /// aside (never overwritten by the next snapshot) and reported.
    pub(super) fn restore_from_supervisor(&mut self) {
        let Some(path) = self.supervisor.as_ref().and_then(|s| s.restore.clone()) else {
            return;
        };
        match self.load_snapshot(&path) {
            Ok(()) => self.bus.emit(Event::Restored {
                version: self.version,
                path,
            }),
            Err(e) => {
                let kept_at = path.with_extension(format!("unrestorable-{}", std::process::id()));
                let kept_at = match std::fs::rename(&path, &kept_at) {
                    Ok(()) => kept_at,
                    Err(_) => path,
                };
                self.bus.emit(Event::RestoreFailed {
                    kept_at,
                    reason: e.to_string(),
                });
            }
        }
    }

    /// Writes the crash-recovery snapshot when supervised. Not `fsync`ed: it guards against the
    /// process dying, not the machine.
    ///
    /// The state is encoded here (it lives in the worker); the file is written by the
    /// supervisor's writer thread, unless `wait` asks for it to be on disk before returning (the
    /// process is about to exit).
    pub(super) fn write_recovery_snapshot(&self, wait: bool) {
        let Some(supervisor) = &self.supervisor else {
            return;
        };
        if supervisor.snapshot.is_none() {
            return;
        }
        // A state that takes long to encode is read aside (a copy of the process encodes it),
        // one read at a time; the final save (`wait`) is taken here, whatever it costs.
        if !wait && self.encode_is_slow() {
            if self.recovery_aside.load(Ordering::Acquire) {
                return; // The previous one is still being read: the next tick takes it.
            }
            match self.snapshot_aside() {
                Ok(aside) => {
                    let busy = InFlight::start(&self.recovery_aside);
                    supervisor.write_snapshot_later(Box::new(move || {
                        let bytes = aside.wait().and_then(|s| s.to_bytes(Format::Binary));
                        drop(busy);
                        bytes
                            .map_err(|e| log::warn!("cannot take the recovery snapshot: {e}"))
                            .ok()
                    }));
                    return;
                }
                Err(e) => log::warn!("{e}; the recovery snapshot is taken in the frame"),
            }
        }
        match self.snapshot().and_then(|s| s.to_bytes(Format::Binary)) {
            Ok(bytes) => supervisor.write_snapshot(bytes, wait),
            Err(e) => log::warn!("cannot take the recovery snapshot: {e}"),
        }
    }

    /// Answers the supervisor's commands (`cargo relive state get|set`, `save`, `load`).
    pub(super) fn answer_commands(&mut self) {
        let Some(supervisor) = &self.supervisor else {
            return;
        };
        let commands = supervisor
            .commands
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let control = supervisor.control.clone();
        for command in commands {
            let reply = match self.answer(&command) {
                Ok(value) => serde_json::json!({
                    "response": command["id"],
                    "ok": value,
                    "version": self.version,
                    "reloaded_s_ago": self.last_swap.map(|t| t.elapsed().as_secs_f64()),
                    "status": self.bus.status(),
                    "status_line": self.bus.status().to_string(),
                }),
                Err(message) => serde_json::json!({ "response": command["id"], "error": message }),
            };
            if let Some(control) = &control {
                crate::session::supervise::send_line(control, &reply);
            }
        }
    }

    /// One command: `get` (a JSON pointer into the state, or all of it), `set` (a value at a
    /// pointer; through the worker's decode, refused without change if it does not fit), `save` and
    /// `load` (a snapshot file).
    fn answer(&mut self, command: &serde_json::Value) -> Result<serde_json::Value, String> {
        let pointer = command["pointer"].as_str().unwrap_or("");
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(format!(
                "`{pointer}` is not a JSON pointer: a pointer starts with `/` (`/{pointer}`)"
            ));
        }
        let path = command["path"].as_str().map(std::path::PathBuf::from);
        match command["cmd"].as_str() {
            Some("get") => {
                let state = self.state_json().map_err(|e| e.to_string())?;
                state
                    .pointer(pointer)
                    .cloned()
                    .ok_or_else(|| format!("the state has no value at `{pointer}`"))
            }
            Some("set") => self
                .set_state_at(pointer, command["value"].clone())
                .map_err(|e| e.to_string()),
            Some("save") => {
                let path = path.ok_or("`save` needs a path")?;
                self.save_snapshot(&path, Format::Binary)
                    .map_err(|e| e.to_string())?;
                Ok(serde_json::json!(path))
            }
            Some("load") => {
                let path = path.ok_or("`load` needs a path")?;
                self.load_snapshot(&path).map_err(|e| e.to_string())?;
                Ok(serde_json::json!(path))
            }
            Some(cmd @ ("rewind" | "history")) => {
                let back = match (
                    command["frames"].as_u64(),
                    command["seconds"].as_f64(),
                    command["frame"].as_u64(),
                ) {
                    (Some(frames), ..) => crate::Rewind::Frames(frames),
                    (None, Some(seconds), _) if seconds.is_finite() && seconds >= 0.0 => {
                        crate::Rewind::Seconds(seconds)
                    }
                    (None, None, Some(frame)) => crate::Rewind::ToFrame(frame),
                    _ => {
                        return Err(format!(
                            "`{cmd}` needs \"frames\", \"seconds\" or \"frame\""
                        ));
                    }
                };
                if cmd == "history" {
                    let kept = self.history_state(back).map_err(|e| e.to_string())?;
                    return Ok(serde_json::json!({
                        "frame": kept.frame,
                        "oldest": kept.oldest,
                        "newest": kept.newest,
                        "state": kept.state,
                    }));
                }
                let frames_back = self.rewind(back).map_err(|e| e.to_string())?;
                Ok(serde_json::json!({ "frames_back": frames_back }))
            }
            Some("loop") => match command["action"].as_str() {
                Some("start") => self
                    .loop_start()
                    .map(|()| serde_json::json!({}))
                    .map_err(|e| e.to_string()),
                Some("end") => self
                    .loop_end()
                    .map(|frames| serde_json::json!({ "frames": frames }))
                    .map_err(|e| e.to_string()),
                Some("stop") => self
                    .loop_stop()
                    .map(|passes| serde_json::json!({ "passes": passes }))
                    .map_err(|e| e.to_string()),
                other => Err(format!("unknown loop action {other:?}")),
            },
            Some("tweak") => self.tweak_command(command),
            other => Err(format!("unknown command {other:?}")),
        }
    }
}

/// What a JSON value is, in words.
fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(n) if n.is_f64() => "a float",
        serde_json::Value::Number(_) => "an integer",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a map",
    }
}

/// Refuses a `set` whose value is of another kind than the one it replaces (a string for a
/// number, say), naming both, before the worker's decoder would refuse it in its own terms. An
/// `Option` (null) may become anything, an integer may go where a float is.
pub(super) fn kind_mismatch(
    pointer: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> Option<String> {
    let (was, is) = (kind(old), kind(new));
    let fits =
        was == is || old.is_null() || new.is_null() || (was == "a float" && is == "an integer");
    (!fits).then(|| {
        format!("`{pointer}` is {was} ({old}); {new} is {is}: it does not fit, nothing was changed")
    })
}

/// A recovery snapshot being read aside: lowers its flag when done, or when dropped unrun (the
/// writer gone).
struct InFlight(Arc<AtomicBool>);

impl InFlight {
    fn start(flag: &Arc<AtomicBool>) -> InFlight {
        flag.store(true, Ordering::Release);
        InFlight(flag.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::kind_mismatch;
    use serde_json::json;

    #[test]
    fn a_value_of_another_kind_is_refused_naming_both() {
        assert_eq!(
            kind_mismatch("/hp", &json!(3), &json!("abc")).as_deref(),
            Some(
                "`/hp` is an integer (3); \"abc\" is a string: it does not fit, nothing was changed"
            )
        );
        assert!(kind_mismatch("/speed", &json!(1.5), &json!(2)).is_none());
        assert!(kind_mismatch("/target", &json!(null), &json!([1, 2])).is_none());
        assert!(kind_mismatch("/n", &json!(1), &json!(2)).is_none());
        assert!(kind_mismatch("/n", &json!(1), &json!(2.5)).is_some());
    }
}
