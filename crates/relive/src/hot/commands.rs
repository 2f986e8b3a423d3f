//! The supervised host's side of `cargo relive run` inside a `Worker`: restoring its snapshot,
//! writing recovery snapshots, answering `state get|set`, `save` and `load`.

use relive_worker::Interface;

use super::Worker;
use crate::event::Event;
use crate::snapshot::Format;

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
                }),
                Err(message) => serde_json::json!({ "response": command["id"], "error": message }),
            };
            if let Some(control) = &control {
                crate::supervise::send_line(control, &reply);
            }
        }
    }

    /// One command: `get` (a JSON pointer into the state, or all of it), `set` (a value at a
    /// pointer; through the worker's decode, refused without change if it does not fit), `save` and
    /// `load` (a snapshot file).
    fn answer(&mut self, command: &serde_json::Value) -> Result<serde_json::Value, String> {
        let pointer = command["pointer"].as_str().unwrap_or("");
        let path = command["path"].as_str().map(std::path::PathBuf::from);
        match command["cmd"].as_str() {
            Some("get") => {
                let state = self.state_json().map_err(|e| e.to_string())?;
                state
                    .pointer(pointer)
                    .cloned()
                    .ok_or_else(|| format!("the state has no value at `{pointer}`"))
            }
            Some("set") => {
                let mut state = self.state_json().map_err(|e| e.to_string())?;
                let slot = state
                    .pointer_mut(pointer)
                    .ok_or_else(|| format!("the state has no value at `{pointer}`"))?;
                *slot = command["value"].clone();
                self.set_state_json(&state).map_err(|e| e.to_string())?;
                self.state_json()
                    .map_err(|e| e.to_string())
                    .map(|s| s.pointer(pointer).cloned().unwrap_or_default())
            }
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
            other => Err(format!("unknown command {other:?}")),
        }
    }
}
