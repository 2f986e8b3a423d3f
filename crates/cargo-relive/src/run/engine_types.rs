//! What to write when the state holds an engine type that has no serde impls: rustc's own hint
//! ("check whether the crate offers a `serde` feature flag") points at a feature macroquad does
//! not have. The window template's engine crate carries macroquad's value types through
//! `#[serde(with = "base::engine_serde")]`; handles to the GPU or the audio device carry
//! nothing and are skipped.

use std::path::PathBuf;

use crate::diag::FirstError;

/// macroquad's value types that the template's `engine_serde.rs` carries.
const VALUES: &[&str] = &[
    "Color",
    "Rect",
    "RectOffset",
    "Circle",
    "Image",
    "KeyCode",
    "MouseButton",
    "TouchPhase",
    "Touch",
    "TextDimensions",
];

/// macroquad's handles: what they point at lives in the GPU or the audio device.
const HANDLES: &[&str] = &[
    "Texture2D",
    "RenderTarget",
    "Font",
    "Sound",
    "Material",
    "Mesh",
];

/// macroquad's cameras: numbers, and a render target (a handle) among them.
const CAMERAS: &[&str] = &["Camera2D", "Camera3D"];

/// The engine crates of a project: their names as paths (`base`, `ported_engine`) and their
/// package directories.
pub(super) struct Engines<'a> {
    /// `project.shared_crates`.
    pub names: &'a [String],
    /// Directories of the local packages the worker depends on.
    pub dirs: &'a [PathBuf],
}

/// What to write, when `error` is a state field whose engine type has no serde impls.
pub(super) fn advice(error: &FirstError, engines: &Engines) -> Option<String> {
    let rest = error.message.split("the trait bound `").nth(1)?;
    let (path, bound) = rest.split_once(": serde::")?;
    let direction = if bound.starts_with("Serialize") {
        "Serialize"
    } else if bound.starts_with("Deserialize") {
        "Deserialize"
    } else {
        return None;
    };
    // Through the engine crate (`base::prelude::Rect`) or macroquad itself.
    let mut segments = path.split("::");
    let first = segments.next()?;
    let name = path.rsplit("::").next()?;
    let engine = engines
        .names
        .iter()
        .map(|n| n.replace('-', "_"))
        .find(|n| n == first)
        .or_else(|| {
            (first == "macroquad")
                .then(|| engines.names.first().map(|n| n.replace('-', "_")))
                .flatten()
        })?;
    // The field: where the derive's `Serialize` was required, or the field's type itself.
    let field = match direction {
        "Serialize" => error
            .related
            .iter()
            .find(|(_, label)| label.contains("required by a bound"))
            .map(|(at, _)| at.clone())
            .or_else(|| error.location.clone()),
        _ => error.location.clone(),
    };
    let at = field.map(|f| format!(" at {f}")).unwrap_or_default();
    if HANDLES.contains(&name) {
        return Some(format!(
            "`{name}` is a handle to what lives in the GPU or the audio device, not data, and cannot \
             be carried across a reload: keep it out of the state with `#[serde(skip)]` on the field{at}, \
             as an `Option<{name}>` the game loads again when it is `None`"
        ));
    }
    if CAMERAS.contains(&name) {
        return Some(format!(
            "`{name}` holds a render target (a handle to the GPU) and has no serde impls: keep the \
             camera's numbers (its target, zoom, rotation) in the state and make the `{name}` from \
             them each frame, or keep it out of the state with `#[serde(skip)]` on the field{at}"
        ));
    }
    if !VALUES.contains(&name) {
        return None;
    }
    let has_module = engines.dirs.iter().any(|d| {
        d.join("src/engine_serde.rs").is_file()
            || std::fs::read_to_string(d.join("src/lib.rs"))
                .is_ok_and(|t| t.contains("mod engine_serde"))
    });
    let write = format!("#[serde(with = \"{engine}::engine_serde\")]");
    Some(if has_module {
        format!(
            "macroquad's `{name}` has no serde impls of its own: write `{write}` on the field{at} \
             (it carries an `Option`, `Vec`, array or map of it too)"
        )
    } else {
        format!(
            "macroquad's `{name}` has no serde impls of its own, and `{engine}` has no `engine_serde` \
             module to carry it: copy `base/src/engine_serde.rs` from a project made by \
             `cargo relive new --template window` into the engine crate, add `pub mod engine_serde;` \
             to its lib.rs and `serde = {{ version = \"1\", features = [\"derive\"] }}` to its \
             dependencies, then write `{write}` on the field{at}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str, location: &str, related: &[(&str, &str)]) -> FirstError {
        FirstError {
            message: message.into(),
            location: Some(location.into()),
            rendered: None,
            related: related
                .iter()
                .map(|(a, l)| ((*a).to_owned(), (*l).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_value_type_gets_the_with_attribute_at_its_field_and_a_handle_gets_skip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/engine_serde.rs"), "").unwrap();
        let names = ["ported-engine".to_owned()];
        let dirs = [dir.path().to_owned()];
        let engines = Engines {
            names: &names,
            dirs: &dirs,
        };
        let serialize = error(
            "[E0277] the trait bound `ported_engine::prelude::Rect: serde::Serialize` is not satisfied",
            "worker/src/lib.rs:19:10",
            &[(
                "worker/src/lib.rs:25:5",
                "required by a bound introduced by this call",
            )],
        );
        let said = advice(&serialize, &engines).unwrap();
        assert!(
            said.contains("`#[serde(with = \"ported_engine::engine_serde\")]` on the field at worker/src/lib.rs:25:5"),
            "{said}"
        );
        let deserialize = error(
            "[E0277] the trait bound `macroquad::input::KeyCode: serde::Deserialize<'de>` is not satisfied",
            "worker/src/lib.rs:26:10",
            &[],
        );
        let said = advice(&deserialize, &engines).unwrap();
        assert!(
            said.contains("`KeyCode`") && said.contains("at worker/src/lib.rs:26:10"),
            "{said}"
        );
        let handle = error(
            "[E0277] the trait bound `ported_engine::prelude::Texture2D: serde::Serialize` is not satisfied",
            "worker/src/lib.rs:19:10",
            &[],
        );
        let said = advice(&handle, &engines).unwrap();
        assert!(
            said.contains("#[serde(skip)]") && said.contains("Option<Texture2D>"),
            "{said}"
        );
        // Not the engine's: no advice (rustc's own stands).
        let other = error(
            "[E0277] the trait bound `other::Thing: serde::Serialize` is not satisfied",
            "worker/src/lib.rs:19:10",
            &[],
        );
        assert_eq!(advice(&other, &engines), None);
        let unrelated = error(
            "[E0425] cannot find value `x`",
            "worker/src/lib.rs:1:1",
            &[],
        );
        assert_eq!(advice(&unrelated, &engines), None);
    }

    #[test]
    fn an_engine_crate_without_the_module_is_told_where_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["base".to_owned()];
        let dirs = [dir.path().to_owned()];
        let engines = Engines {
            names: &names,
            dirs: &dirs,
        };
        let e = error(
            "[E0277] the trait bound `base::prelude::Color: serde::Serialize` is not satisfied",
            "worker/src/lib.rs:19:10",
            &[],
        );
        let said = advice(&e, &engines).unwrap();
        assert!(
            said.contains("no `engine_serde` module")
                && said.contains("pub mod engine_serde;")
                && said.contains("base::engine_serde"),
            "{said}"
        );
    }
}
