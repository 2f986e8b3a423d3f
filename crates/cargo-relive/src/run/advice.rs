//! After a worker rebuild of a second or more, what in the worker's sources makes it slow, when
//! it is one of the two things relive can see and a user can change (BENCHMARKS.md, "Scale"):
//!
//! - many types deriving serde's traits in the worker: rustc expands and compiles their derives
//!   again at every save, whatever changed (two thirds of the 20k-line benchmark worker's
//!   rebuild);
//! - one very large module: rustc compiles a module as one unit of code, so a save recompiles
//!   all of it (the same 20k lines in 22 modules rebuilt in 0.79 × the time).
//!
//! Said once per session, and only what applies: a slow build with neither says nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A rebuild at least this long is looked into (`RELIVE_SLOW_BUILD_MS` overrides it).
const SLOW: Duration = Duration::from_secs(1);
/// From this many types deriving serde's traits, their derives are a large part of a rebuild.
const MANY_SERDE_TYPES: usize = 30;
/// From this many lines of code (not blank, not comments), a module is worth splitting.
const LARGE_MODULE: usize = 4000;

/// The threshold for a slow rebuild: [`SLOW`], or `RELIVE_SLOW_BUILD_MS`.
pub(super) fn slow() -> Duration {
    std::env::var("RELIVE_SLOW_BUILD_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(SLOW, Duration::from_millis)
}

/// What the worker's sources hold that makes a rebuild slow.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Findings {
    /// Items deriving `Serialize` or `Deserialize` (counted once if both).
    pub serde_types: usize,
    /// The largest source file without inline modules, and its lines of code, if it is large.
    pub large_module: Option<(PathBuf, usize)>,
}

impl Findings {
    /// Looks through the `.rs` files under `src`.
    pub(super) fn of(src: &Path) -> Findings {
        let mut found = Findings::default();
        let mut stack = vec![src.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                match entry.file_type() {
                    Ok(t) if t.is_dir() => stack.push(path),
                    Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "rs") => {
                        let Ok(text) = std::fs::read_to_string(&path) else {
                            continue;
                        };
                        found.serde_types += serde_derives(&text);
                        let lines = single_module_lines(&text);
                        let larger = found.large_module.as_ref().is_none_or(|(_, n)| lines > *n);
                        if lines >= LARGE_MODULE && larger {
                            found.large_module = Some((path, lines));
                        }
                    }
                    _ => {}
                }
            }
        }
        found
    }

    /// What to tell the user after a rebuild that took `build`, files shown relative to `root`;
    /// nothing if there is nothing to change.
    pub(super) fn advice(&self, build: Duration, root: &Path) -> Vec<String> {
        let mut advice = Vec::new();
        if self.serde_types >= MANY_SERDE_TYPES {
            advice.push(format!(
                "{} types in the worker derive serde's traits, and rustc expands and compiles \
                 those derives again at every save, whatever changed (two thirds of the rebuild \
                 of relive's 20k-line benchmark worker). Types that rarely change compile only \
                 when they change in a crate of their own that the worker depends on",
                self.serde_types
            ));
        }
        if let Some((file, lines)) = &self.large_module {
            let shown = file.strip_prefix(root).unwrap_or(file);
            advice.push(format!(
                "`{}` is one module of {lines} lines of code, and rustc compiles a module as one \
                 unit, so each save recompiles all of it. In modules (files under `src/`), a save \
                 recompiles the ones it touches: 0.79 × the time for a 20k-line worker in \
                 relive's benchmarks",
                shown.display()
            ));
        }
        // The first line says why, the last where to read more.
        let took = format!("the worker's rebuild took {:.1}s", build.as_secs_f64());
        let n = advice.len();
        for (i, line) in advice.iter_mut().enumerate() {
            if i == 0 {
                *line = format!("{took}: {line}");
            } else {
                *line = format!("also, {line}");
            }
            if i + 1 == n {
                line.push_str(
                    " (see \"Keeping reloads fast as the worker grows\" in relive's README)",
                );
            }
        }
        advice
    }
}

/// The number of `derive(…)` attributes naming `Serialize` or `Deserialize`.
fn serde_derives(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    while let Some(at) = rest.find("derive(") {
        let after = &rest[at + "derive(".len()..];
        let end = after.find(')').unwrap_or(after.len());
        let names = &after[..end];
        if names.contains("Serialize") || names.contains("Deserialize") {
            count += 1;
        }
        rest = &after[end..];
    }
    count
}

/// The lines of code (neither blank nor a `//` comment) of a file that is a single module: 0 for
/// one with inline modules (`mod name {`), whose code rustc compiles in several units.
fn single_module_lines(text: &str) -> usize {
    let code = text.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with("//") && !l.starts_with("/*") && !l.starts_with('*')
    });
    let mut lines = 0;
    for line in code {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = usize::from(
            words.first() == Some(&"pub") || words.first().is_some_and(|w| w.starts_with("pub(")),
        );
        if words.get(at) == Some(&"mod") && line.ends_with('{') {
            return 0;
        }
        lines += 1;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_derives_are_counted_once_per_item_whatever_their_spelling() {
        let text = "#[derive(Debug, Serialize, Deserialize)]\nstruct A;\n\
                    #[derive(serde::Deserialize)]\nstruct B;\n\
                    #[derive(\n    Clone,\n    serde::Serialize,\n)]\nenum C {}\n\
                    #[derive(Debug, Clone)]\nstruct D;\n\
                    #[cfg_attr(feature = \"x\", derive(Serialize))]\nstruct E;\n";
        assert_eq!(serde_derives(text), 4);
    }

    #[test]
    fn a_file_with_inline_modules_is_not_one_module_and_comments_are_not_code() {
        let flat = "// a comment\n\nfn a() {}\n/* block\n * more\n */\nfn b() {}\n";
        assert_eq!(single_module_lines(flat), 2);
        let inline = "fn a() {}\npub(crate) mod inner {\n    fn b() {}\n}\n";
        assert_eq!(single_module_lines(inline), 0);
        let declared = "mod other;\npub mod more;\nfn a() {}\n";
        assert_eq!(single_module_lines(declared), 3);
    }

    #[test]
    fn advice_fits_what_was_found_and_a_worker_with_neither_gets_none() {
        let root = Path::new("/game");
        let build = Duration::from_millis(2630);
        assert!(Findings::default().advice(build, root).is_empty());
        let small = Findings {
            serde_types: MANY_SERDE_TYPES - 1,
            large_module: None,
        };
        assert!(small.advice(build, root).is_empty());

        let derives = Findings {
            serde_types: 200,
            large_module: None,
        };
        let advice = derives.advice(build, root);
        assert_eq!(advice.len(), 1);
        assert!(
            advice[0].starts_with("the worker's rebuild took 2.6s: 200 types"),
            "{advice:?}"
        );
        assert!(!advice[0].contains("module"), "{advice:?}");

        let both = Findings {
            serde_types: 200,
            large_module: Some((PathBuf::from("/game/worker/src/lib.rs"), 19_625)),
        };
        let advice = both.advice(build, root);
        assert_eq!(advice.len(), 2);
        assert!(!advice[0].contains("README"), "{advice:?}");
        assert!(
            advice[1].starts_with("also, `worker/src/lib.rs` is one module of 19625 lines of code"),
            "{advice:?}"
        );
        assert!(advice[1].ends_with("in relive's README)"), "{advice:?}");
    }

    #[test]
    fn the_largest_single_module_file_under_src_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("deep")).unwrap();
        let code = |n: usize| {
            (0..n)
                .map(|i| format!("pub const C{i}: u32 = {i};\n"))
                .collect::<String>()
        };
        std::fs::write(src.join("lib.rs"), code(LARGE_MODULE + 10)).unwrap();
        std::fs::write(src.join("deep/big.rs"), code(LARGE_MODULE + 20)).unwrap();
        std::fs::write(
            src.join("small.rs"),
            "#[derive(serde::Serialize)]\nstruct S;\n",
        )
        .unwrap();
        std::fs::write(src.join("notes.txt"), code(LARGE_MODULE * 2)).unwrap();
        let found = Findings::of(&src);
        assert_eq!(found.serde_types, 1);
        assert_eq!(
            found.large_module,
            Some((src.join("deep/big.rs"), LARGE_MODULE + 20))
        );
    }
}
