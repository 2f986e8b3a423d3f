//! The control socket: the host's connection (events, replies) and clients' commands.

use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc::Sender;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::{Msg, Supervisor};

impl Supervisor {
    /// Passes a client's command to the host, or answers that there is none.
    pub(super) fn on_client(&mut self, mut stream: UnixStream, mut command: Value) {
        let Some(host) = &mut self.host_control else {
            let _ = reply_line(
                &mut stream,
                &json!({ "error": "no host is running (it is restarting, or crashed)" }),
            );
            return;
        };
        self.next_command += 1;
        command["id"] = json!(self.next_command);
        if reply_line(host, &command).is_ok() {
            self.waiting.insert(self.next_command, stream);
        } else {
            let _ = reply_line(
                &mut stream,
                &json!({ "error": "the host's control connection is closed" }),
            );
        }
    }

    /// Tells the running host how a build is going, for its status (`relive::Worker::status`).
    /// A host that does not read it is not waited for.
    pub(super) fn send_status(&mut self, status: &Value) {
        if let Some(host) = &mut self.host_control {
            if reply_line(host, status).is_err() {
                self.host_control = None;
            }
        }
    }

    pub(super) fn on_reply(&mut self, reply: Value) {
        if let Some(mut client) = reply["response"]
            .as_u64()
            .and_then(|id| self.waiting.remove(&id))
        {
            let _ = reply_line(&mut client, &reply);
        }
    }
}

pub(super) fn spawn_listener(listener: UnixListener, tx: Sender<Msg>) -> Result<()> {
    std::thread::Builder::new()
        .name("relive-control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                let _ = std::thread::Builder::new()
                    .name("relive-control-conn".into())
                    .spawn(move || serve_connection(stream, tx));
            }
        })
        .context("cannot start a thread")?;
    Ok(())
}

pub(super) fn reply_line(stream: &mut UnixStream, value: &Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// One connection to the control socket: a client's single command, or a host's events and
/// replies. The first line tells which.
fn serve_connection(stream: UnixStream, tx: Sender<Msg>) {
    use std::io::BufRead;
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let mut lines = std::io::BufReader::new(reader).lines();
    let Some(Ok(first)) = lines.next() else {
        return;
    };
    let Ok(first) = serde_json::from_str::<Value>(&first) else {
        return;
    };
    if first.get("cmd").is_some() {
        let _ = tx.send(Msg::Client {
            stream,
            command: first,
        });
        return;
    }
    if tx.send(Msg::HostConnected(stream)).is_err() {
        return;
    }
    for value in std::iter::once(first).chain(
        lines
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok()),
    ) {
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
