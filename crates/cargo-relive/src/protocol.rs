//! The control socket's protocol, without I/O: what a connection's first line is, and which
//! client commands are passed to the host (fuzzed in `fuzz/`, target `control`).
//!
//! A connection's first line is one JSON object: the host's `{"hello": <session secret>}`, or a
//! client's command `{"cmd": "get"|"set"|"save"|"load", …}`. Anything else is refused with why.

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

/// The longest command line read: a `state set` of a 20 MB value fits.
pub const MAX_LINE: u64 = 32 << 20;
/// The deepest nesting of a command's JSON that is passed to the host.
pub const MAX_DEPTH: usize = 100;

/// What a connection's first line makes of it.
#[derive(Debug, PartialEq)]
pub enum FirstLine {
    /// The host the session started (it knows the secret).
    Host,
    /// A client's command.
    Command(Value),
    /// Neither: the answer says why.
    Refused(String),
}

/// Reads a connection's first line (as read, at most [`MAX_LINE`] + 1 bytes).
pub fn first_line(line: &[u8], token: &str) -> FirstLine {
    if line.len() as u64 > MAX_LINE {
        return FirstLine::Refused(format!("the command is longer than {} MiB", MAX_LINE >> 20));
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(e) => return FirstLine::Refused(format!("the command is not JSON: {e}")),
    };
    if !token.is_empty() && value.get("hello").and_then(Value::as_str) == Some(token) {
        return FirstLine::Host;
    }
    if value.get("cmd").is_some() {
        return FirstLine::Command(value);
    }
    FirstLine::Refused(
        "not a relive command: a command is one JSON line with \"cmd\" (get, set, save, load, rewind, loop, literals, write_literal, session)"
            .to_owned(),
    )
}

/// Checks a client's command before it goes to the host: `get`, `set`, and `save`/`load` of a
/// save *name* (a file under `saves`, never a path the client chose), nested at most
/// [`MAX_DEPTH`] deep. Sets `path` for `save`/`load`.
pub fn check_command(saves: &Path, command: &mut Value) -> Result<(), String> {
    if depth(command) > MAX_DEPTH {
        return Err(format!(
            "the command is nested deeper than {MAX_DEPTH} levels: nothing was changed"
        ));
    }
    match command["cmd"].as_str() {
        Some("get" | "set" | "rewind" | "history") => Ok(()),
        Some("loop") => match command["action"].as_str() {
            Some("start" | "end" | "stop") => Ok(()),
            _ => Err("`loop` needs an \"action\": start, end or stop".to_owned()),
        },
        Some(cmd @ ("save" | "load")) => {
            let name = command["name"]
                .as_str()
                .ok_or_else(|| format!("`{cmd}` needs a save name (\"name\")"))?;
            let path = save_file(saves, name)?;
            if cmd == "load" && !path.is_file() {
                return Err(format!("there is no save named `{name}`"));
            }
            command["path"] = json!(path);
            Ok(())
        }
        other => Err(format!(
            "unknown command {}: the commands are get, set, save, load, rewind, loop, literals, write_literal and session",
            other.map_or("(none)".to_owned(), |c| format!("`{c}`"))
        )),
    }
}

/// `saves/NAME.snapshot` for a name of letters, digits, `-` and `_`, as the message says.
pub fn save_file(saves: &Path, name: &str) -> Result<PathBuf, String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(saves.join(format!("{name}.snapshot")))
    } else {
        Err(format!(
            "`{}` is not a save name: use letters, digits, `-` and `_` (at most 100)",
            name.escape_debug()
        ))
    }
}

/// How deeply `value` nests.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The fuzz target `control`: any bytes as a first line, then as a command; checks that a refusal
/// says why, that only the secret makes a host, and that a save's path stays in `saves`.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let saves = Path::new("/nonexistent-relive-fuzz/saves");
    match first_line(data, TOKEN) {
        FirstLine::Refused(why) => assert!(!why.is_empty()),
        FirstLine::Host => assert!(
            std::str::from_utf8(data).is_ok_and(|t| t.contains(TOKEN)),
            "a host without the secret"
        ),
        FirstLine::Command(mut command) => match check_command(saves, &mut command) {
            Err(why) => assert!(!why.is_empty()),
            Ok(()) => {
                if let Some(path) = command["path"].as_str() {
                    let path = Path::new(path);
                    assert!(path.starts_with(saves), "{path:?} is outside the saves");
                    assert!(
                        path.components()
                            .all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
                        "{path:?}"
                    );
                    assert_eq!(path.parent(), Some(saves));
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_names_are_what_the_message_says() {
        let saves = Path::new("/t/saves");
        assert_eq!(
            save_file(saves, "corner-2_b").unwrap(),
            Path::new("/t/saves/corner-2_b.snapshot")
        );
        for bad in [
            "", "a b", "a\nb", "a\tb", "*", "a\\b", "a:b", "../x", ".hidden", "a/b",
        ] {
            assert!(save_file(saves, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_the_secret_makes_a_host_and_strays_are_refused_with_why() {
        assert_eq!(
            first_line(br#"{"hello":"s3cret"}"#, "s3cret"),
            FirstLine::Host
        );
        assert!(matches!(
            first_line(br#"{"hello":"guess"}"#, "s3cret"),
            FirstLine::Refused(_)
        ));
        assert!(matches!(
            first_line(br#"{"hello":""}"#, ""),
            FirstLine::Refused(_)
        ));
        assert!(matches!(first_line(b"{}", "s3cret"), FirstLine::Refused(_)));
        assert!(matches!(
            first_line(b"\xff\xfe", "s3cret"),
            FirstLine::Refused(_)
        ));
        assert!(matches!(
            first_line(br#"{"cmd":"get"}"#, "s3cret"),
            FirstLine::Command(_)
        ));
        let deep = format!(
            "{{\"cmd\":\"set\",\"value\":{}1{}}}",
            "[".repeat(120),
            "]".repeat(120)
        );
        let FirstLine::Command(mut command) = first_line(deep.as_bytes(), "s") else {
            panic!("not a command");
        };
        assert!(
            check_command(Path::new("/s"), &mut command)
                .unwrap_err()
                .contains("nested")
        );
    }

    /// Every input in `fuzz/corpus/control/` passes.
    #[test]
    fn fuzz_corpus_passes() {
        let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/control");
        let mut ran = 0;
        for entry in std::fs::read_dir(corpus).unwrap() {
            fuzz(&std::fs::read(entry.unwrap().path()).unwrap());
            ran += 1;
        }
        assert!(ran >= 5);
    }
}
