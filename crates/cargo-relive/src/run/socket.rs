//! The control socket: the host's connection (events, replies) and clients' commands.
//!
//! Who may speak: the host the session started proves itself with the session's secret on its
//! first line (`{"hello": <token>}`, the token handed to it in `RELIVE_CONTROL_TOKEN`); any other
//! connection is a client with one command (`{"cmd": …}`). A connection that is neither is
//! answered with why and closed, and never replaces the host's connection. No client can stall
//! the session: answers are written by a thread of their own with a timeout, connections are
//! capped, a command line has a length limit, a client has [`CLIENT_TIMEOUT`] to send its command.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::{Msg, Supervisor};
use crate::protocol;
use crate::status;

/// Connections served at once (clients and the host); more are refused with an answer.
pub(super) const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its command, and to read its answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to the host may block (it reads its connection on a thread of its own).
const HOST_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

impl Supervisor {
    /// Passes a client's command to the host, or answers why not.
    pub(super) fn on_client(&mut self, stream: UnixStream, mut command: Value) {
        // The session's own: the worker's tweakable literals, and their write-back.
        match command["cmd"].as_str() {
            Some("literals") => return answer(stream, json!({ "ok": self.literal_list() })),
            Some("session") => return answer(stream, json!({ "ok": self.session_info() })),
            Some("write_literal") => {
                let (Some(name), Some(value)) =
                    (command["name"].as_str(), command["value"].as_str())
                else {
                    return answer(
                        stream,
                        json!({ "error": "`write_literal` needs a \"name\" and a \"value\" (text)" }),
                    );
                };
                let target = super::write_back::Target::Name(name.to_owned());
                let reply = match self.write_literal(&target, value) {
                    Ok(ok) => json!({ "ok": ok }),
                    Err(error) => json!({ "error": error }),
                };
                return answer(stream, reply);
            }
            _ => {}
        }
        if let Err(refusal) = protocol::check_command(&self.saves, &mut command) {
            answer(stream, json!({ "error": refusal }));
            return;
        }
        let Some(host) = &mut self.host_control else {
            answer(
                stream,
                json!({ "error": "no host is running (it is restarting, or crashed)" }),
            );
            return;
        };
        self.next_command += 1;
        command["id"] = json!(self.next_command);
        if reply_line(host, &command).is_ok() {
            self.waiting.insert(self.next_command, stream);
        } else {
            self.host_control = None;
            answer(
                stream,
                json!({ "error": "the host's control connection is closed" }),
            );
        }
    }

    /// What `cargo relive debug` needs: the running host's process, its executable, and the
    /// directory its worker versions are loaded from.
    fn session_info(&self) -> Value {
        json!({
            "host_pid": self.host.as_ref().map(|h| h.pid),
            "host_exe": self.host_exe,
            "root": self.project.root,
        })
    }

    /// Tells the running host how a build is going, for its status (`relive::Worker::status`).
    /// A host that does not read it is not waited for.
    pub(super) fn send_status(&mut self, status: &Value) {
        if let Some(host) = &mut self.host_control
            && reply_line(host, status).is_err()
        {
            self.host_control = None;
        }
    }

    /// The host proved itself: from now on commands go to it.
    pub(super) fn on_host_connected(&mut self, stream: UnixStream) {
        let _ = stream.set_write_timeout(Some(HOST_WRITE_TIMEOUT));
        self.host_control = Some(stream);
    }

    pub(super) fn on_reply(&mut self, reply: Value) {
        if let Some(client) = reply["response"]
            .as_u64()
            .and_then(|id| self.waiting.remove(&id))
        {
            answer(client, reply);
        } else if let Some(error) = reply["error"].as_str() {
            // The supervisor's own command (a save's tweaks): the build that follows the save
            // applies the edit anyway.
            status::info(&format!(
                "the tweak was not applied ({error}); the rebuild applies the edit"
            ));
        }
    }
}

/// Answers a client from a thread of its own, with a write timeout: a client that does not read
/// its (maybe large) answer holds only that thread, and only for [`CLIENT_TIMEOUT`].
pub(super) fn answer(mut stream: UnixStream, value: Value) {
    let spawned = std::thread::Builder::new()
        .name("relive-answer".into())
        .spawn(move || {
            let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
            let _ = reply_line(&mut stream, &value);
        });
    if let Err(e) = spawned {
        crate::status::error(&format!("cannot answer a client: {e}"));
    }
}

/// Accepts connections, each served by a thread of its own, at most [`MAX_CONNECTIONS`] at once.
pub(super) fn spawn_listener(listener: UnixListener, tx: Sender<Msg>, token: String) -> Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
    let token: Arc<str> = token.into();
    std::thread::Builder::new()
        .name("relive-control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = reply_line(
                        &mut stream,
                        &json!({ "error": format!(
                            "too many connections ({MAX_CONNECTIONS}) to this session: try again when some have closed"
                        ) }),
                    );
                    continue;
                }
                live.fetch_add(1, Ordering::SeqCst);
                let (tx, live, token) = (tx.clone(), live.clone(), token.clone());
                let spawned = std::thread::Builder::new()
                    .name("relive-control-conn".into())
                    .spawn({
                        let live = live.clone();
                        move || {
                            serve_connection(stream, &tx, &token);
                            live.fetch_sub(1, Ordering::SeqCst);
                        }
                    });
                if spawned.is_err() {
                    live.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })
        .context("cannot start a thread")?;
    Ok(())
}

pub(super) fn reply_line(stream: &mut UnixStream, value: &Value) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// One connection: the host's events and replies after its hello, or a client's single command.
fn serve_connection(stream: UnixStream, tx: &Sender<Msg>, token: &str) {
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let mut reader = BufReader::new(reader);
    let mut first = Vec::new();
    let refuse = |mut stream: UnixStream, why: String| {
        let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
        let _ = reply_line(&mut stream, &json!({ "error": why }));
    };
    match reader
        .by_ref()
        .take(protocol::MAX_LINE + 1)
        .read_until(b'\n', &mut first)
    {
        Ok(0) => return,
        Ok(_) => {}
        Err(e) => {
            return refuse(stream, format!("no command within {CLIENT_TIMEOUT:?}: {e}"));
        }
    }
    match protocol::first_line(&first, token) {
        protocol::FirstLine::Refused(why) => refuse(stream, why),
        protocol::FirstLine::Command(command) => {
            let _ = tx.send(Msg::Client { stream, command });
        }
        protocol::FirstLine::Host => {
            let _ = stream.set_read_timeout(None);
            if tx.send(Msg::HostConnected(stream)).is_err() {
                return;
            }
            for line in reader.lines() {
                let Ok(line) = line else { return };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let msg = if value.get("response").is_some() {
                    Msg::Reply(value)
                } else {
                    Msg::Host(value)
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    }
}
