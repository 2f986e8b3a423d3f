//! The supervisor's own lines on the terminal (stderr), apart from the host's output.

use std::io::{IsTerminal, Write};

fn line(tag: &str, color: &str, message: &str) {
    let mut err = std::io::stderr().lock();
    if err.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        let _ = writeln!(err, "\x1b[1;{color}m{tag:>12}\x1b[0m {message}");
    } else {
        let _ = writeln!(err, "{tag:>12} {message}");
    }
}

/// A normal status line.
pub fn info(message: &str) {
    line("relive", "32", message);
}

/// Something went wrong; what keeps running is in the message.
pub fn error(message: &str) {
    line("relive", "31", message);
}
