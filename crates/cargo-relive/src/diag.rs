//! The compiler's diagnostics: the first error of a build (message and `file:line:column`), for
//! the host's status, and which diagnostics a user sees; and [`Build`], the result of one build
//! (cargo's or a replayed `rustc`'s) that carries its first error.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// The result of one build.
#[derive(Debug)]
pub struct Build {
    /// Whether cargo succeeded.
    pub success: bool,
    /// How long it took.
    pub duration: Duration,
    /// The artifact asked for (the worker's `.so` or the host's executable), on success.
    pub artifact: Option<PathBuf>,
    /// The compiler's first error, when it failed.
    pub first_error: Option<FirstError>,
    /// How long the link took, when relive's linker shim timed it (the replay).
    pub link: Option<Duration>,
}

/// The first error of a failed build, as the game's status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstError {
    /// The compiler's message, e.g. `expected expression` (with its code: `[E0425] cannot find …`).
    pub message: String,
    /// `file:line:column` of its primary span, when it has one.
    pub location: Option<String>,
    /// The whole error as the compiler writes it to a terminal (the source lines, the carets,
    /// the notes and help), when it gave one.
    pub rendered: Option<String>,
    /// The other places the compiler points at (`file:line:column`, and its label there): for
    /// a missing trait on a field, the field.
    pub related: Vec<(String, String)>,
}

/// The error in one rustc JSON diagnostic (`$message_type: diagnostic`, or the `message` of a
/// cargo `compiler-message`), if it is an error worth showing first: not the closing
/// "aborting due to …" and not a bare summary.
pub fn error_of(diagnostic: &Value) -> Option<FirstError> {
    if diagnostic["level"].as_str() != Some("error") {
        return None;
    }
    let message = diagnostic["message"].as_str()?;
    if message.starts_with("aborting due to") {
        return None;
    }
    let message = match diagnostic["code"]["code"].as_str() {
        Some(code) => format!("[{code}] {message}"),
        None => message.to_owned(),
    };
    let place = |span: &Value| {
        Some(format!(
            "{}:{}:{}",
            span["file_name"].as_str()?,
            span["line_start"].as_u64()?,
            span["column_start"].as_u64()?
        ))
    };
    let spans = diagnostic["spans"].as_array();
    let location = spans.and_then(|spans| {
        let span = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .or_else(|| spans.first())?;
        place(span)
    });
    let related = spans
        .into_iter()
        .flatten()
        .filter(|s| s["is_primary"] != true)
        .filter_map(|s| {
            Some((
                place(s)?,
                s["label"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let rendered = diagnostic["rendered"].as_str().map(str::to_owned);
    Some(FirstError {
        message,
        location,
        rendered,
        related,
    })
}

/// Whether a cargo `package_id` names a package of the user's own (a path dependency or a
/// workspace member): only their warnings are shown, as a plain `cargo build` does.
pub fn is_local_package(package_id: &str) -> bool {
    package_id.starts_with("path+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_error_has_its_code_and_primary_span_and_the_summary_is_not_one() {
        let diag = json!({
            "level": "error", "message": "cannot find value `x` in this scope",
            "code": { "code": "E0425" },
            "spans": [
                { "file_name": "worker/src/lib.rs", "line_start": 3, "column_start": 9, "is_primary": false },
                { "file_name": "worker/src/lib.rs", "line_start": 12, "column_start": 5, "is_primary": true }
            ]
        });
        assert_eq!(
            error_of(&diag),
            Some(FirstError {
                message: "[E0425] cannot find value `x` in this scope".into(),
                location: Some("worker/src/lib.rs:12:5".into()),
                rendered: None,
                related: vec![("worker/src/lib.rs:3:9".into(), String::new())],
            })
        );
        let warning = json!({ "level": "warning", "message": "unused", "spans": [] });
        assert_eq!(error_of(&warning), None);
        let summary =
            json!({ "level": "error", "message": "aborting due to 1 previous error", "spans": [] });
        assert_eq!(error_of(&summary), None);
        let spanless =
            json!({ "level": "error", "message": "linking with `cc` failed", "spans": [] });
        assert_eq!(error_of(&spanless).unwrap().location, None);
    }

    #[test]
    fn only_path_packages_are_local() {
        assert!(is_local_package("path+file:///tmp/game/worker#0.1.0"));
        assert!(!is_local_package(
            "registry+https://github.com/rust-lang/crates.io-index#glam@0.30.0"
        ));
        assert!(!is_local_package("git+https://example.org/x#abc"));
    }
}
