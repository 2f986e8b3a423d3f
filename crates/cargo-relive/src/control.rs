//! `cargo relive state get|set`, `save`, `load`: commands to the running host, through the
//! `cargo relive run` of its workspace (the Unix socket `target/relive/<host>/control.sock`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use crate::project::Project;

/// Sends `command` and returns the host's answer (`ok` value), or its error as an error.
pub fn request(project: &Project, command: Value) -> Result<Value> {
    request_full(project, command).map(|answer| answer["ok"].clone())
}

/// Like [`request`], but the whole answer: `ok`, `version`, `reloaded_s_ago`.
pub fn request_full(project: &Project, command: Value) -> Result<Value> {
    let socket = project
        .target_dir
        .join("relive")
        .join(&project.host)
        .join("control.sock");
    let mut stream = UnixStream::connect(&socket).with_context(|| {
        format!(
            "no `cargo relive run` of `{}` is running (cannot connect to {})",
            project.host,
            socket.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_vec(&command)?;
    line.push(b'\n');
    stream.write_all(&line).context("cannot send the command")?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .context("the host did not answer within 10 s (is it stuck?)")?;
    let answer: Value = serde_json::from_str(&answer).context("the answer is not JSON")?;
    if let Some(error) = answer.get("error") {
        bail!(
            "{}",
            error.as_str().unwrap_or("the host refused the command")
        );
    }
    Ok(answer)
}

/// `state set`'s value: JSON if it parses, else a string (`set /name hero`).
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_json_when_they_parse_else_strings() {
        assert_eq!(parse_value("3"), json!(3));
        assert_eq!(parse_value("[1, 2]"), json!([1, 2]));
        assert_eq!(parse_value("\"x\""), json!("x"));
        assert_eq!(parse_value("hero"), json!("hero"));
    }
}
