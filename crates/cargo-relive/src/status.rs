//! The supervisor's own lines on the terminal (stderr), apart from the host's output.
//!
//! While a full-screen host has the terminal in raw mode (a crossterm or ratatui game), anything
//! written to it would be drawn over the game and scrambled (no carriage returns), then wiped by
//! its next frame. So then relive's lines and the compiler's output go to the session log
//! (`target/relive/<host>/session.log`) instead, and the game shows relive's status itself
//! (`relive::Worker::status`).
//!
//! Also the text helpers every build's output goes through ([`strip_ansi`], whether to color);
//! this module uses no other module of the crate, so that `cargo` and `replay` can both use it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

static LOG: OnceLock<PathBuf> = OnceLock::new();
/// Lines worth reading that went to the session log: shown again when the session ends.
static HELD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sets the session log, where output goes while a full-screen host owns the terminal.
pub fn set_log(path: PathBuf) {
    let _ = std::fs::write(&path, b"");
    let _ = LOG.set(path);
}

/// The session log, if one was set.
pub fn log_path() -> Option<&'static PathBuf> {
    LOG.get()
}

/// Whether stderr is a terminal in raw mode: a full-screen program owns it.
fn terminal_is_raw() -> bool {
    if !std::io::stderr().is_terminal() {
        return false;
    }
    // SAFETY: termios is plain data; tcgetattr(2) fills it for a terminal file descriptor.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(libc::STDERR_FILENO, &mut t) == 0 && t.c_lflag & libc::ICANON == 0
    }
}

/// Where relive's lines and the compiler's output go now: the terminal, or the session log while
/// a full-screen host owns the terminal.
pub fn out() -> Box<dyn Write> {
    if terminal_is_raw()
        && let Some(file) = LOG.get().and_then(|p| {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .ok()
        })
    {
        return Box::new(PlainText(file));
    }
    Box::new(std::io::stderr())
}

/// Writes text without ANSI color codes (the compiler's colored diagnostics, into a log file).
struct PlainText<W>(W);

impl<W: Write> Write for PlainText<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(strip_ansi(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Writes one status line; whether it reached the terminal (not the session log).
fn line(tag: &str, color: &str, message: &str) -> bool {
    let raw = terminal_is_raw();
    let mut out = out();
    // One write per line: the host prints to the same terminal, and a line written in pieces
    // interleaves with its lines mid-escape.
    let text = if !raw && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    {
        format!("\x1b[1;{color}m{tag:>12}\x1b[0m {message}\n")
    } else {
        format!("{tag:>12} {message}\n")
    };
    let _ = out.write_all(text.as_bytes());
    !(raw && LOG.get().is_some())
}

/// A normal status line.
pub fn info(message: &str) {
    line("relive", "32", message);
}

/// Where relive's messages start on a line (after the right-aligned tag and a space).
const INDENT: usize = 13;
/// Lines of advice are wrapped to this width, the tag included.
const WIDTH: usize = 100;

/// `message` wrapped at spaces to fit [`WIDTH`] after the tag, its later lines indented to where
/// the message starts (and under the text of a `- ` item).
fn wrapped(message: &str) -> String {
    let hang = INDENT + if message.starts_with("- ") { 2 } else { 0 };
    let mut out = String::new();
    let mut column = INDENT;
    for word in message.split(' ').filter(|w| !w.is_empty()) {
        if column > INDENT && column + 1 + word.chars().count() > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(hang));
            column = hang;
        } else if !out.is_empty() {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += word.chars().count();
    }
    out
}

/// A line of advice, wrapped: shown now, or, while a full-screen host owns the terminal,
/// written to the session log and shown again by [`show_held`] when the session ends.
pub fn advice(message: &str) {
    let message = wrapped(message);
    let message = message.as_str();
    if !line("relive", "32", message) {
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.to_owned());
    }
}

/// Shows the advice that went to the session log (see [`advice`]), once the terminal is free.
pub fn show_held() {
    let held = std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    for message in held {
        info(&message);
    }
}

/// Something went wrong; what keeps running is in the message.
pub fn error(message: &str) {
    line("relive", "31", message);
}

/// Removes ANSI escape sequences (cargo colors its status lines).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ … final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `rendered` as is when colors are on, else without its ANSI codes (rustc renders them whatever
/// the terminal; cargo strips them for a plain build).
pub(crate) fn plain_unless_colored(rendered: &str) -> std::borrow::Cow<'_, str> {
    if color() {
        std::borrow::Cow::Borrowed(rendered)
    } else {
        std::borrow::Cow::Owned(strip_ansi(rendered))
    }
}

/// Whether cargo should color: as it would itself (CARGO_TERM_COLOR, else whether stderr is a
/// terminal).
pub(crate) fn color() -> bool {
    match std::env::var("CARGO_TERM_COLOR").as_deref() {
        Ok("always") => true,
        Ok("never") => false,
        _ => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_wraps_at_spaces_under_its_first_word_and_under_a_list_items_text() {
        let long = "word ".repeat(40);
        let text = wrapped(long.trim());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1, "{text}");
        assert!(lines[0].len() <= WIDTH - INDENT, "{text}");
        for line in &lines[1..] {
            assert!(line.starts_with(&" ".repeat(INDENT)), "{text}");
            assert!(!line.starts_with(&" ".repeat(INDENT + 1)), "{text}");
            assert!(line.len() <= WIDTH, "{text}");
        }
        let item = wrapped(&format!("- {}", long.trim()));
        let second = item.lines().nth(1).unwrap();
        assert!(
            second.starts_with(&format!("{}word", " ".repeat(INDENT + 2))),
            "{item}"
        );
        // Nothing is lost or added but line breaks and indentation.
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&text), words(&long));
        assert_eq!(wrapped("short"), "short");
    }
}
