//! After worker rebuilds of a second or more, what in the worker's sources makes them slow, when
//! it is one of the two things relive can see and a user can change (BENCHMARKS.md, "Scale"):
//!
//! - many types deriving serde's traits in the worker: rustc expands and compiles their derives
//!   again at every save, whatever changed (two thirds of the 20k-line benchmark worker's
//!   rebuild);
//! - one very large module: rustc compiles a module as one unit of code, so a save recompiles
//!   all of it (the same 20k lines in 22 modules rebuilt in 0.79 × the time).
//!
//! Said once per session, after two slow rebuilds in a row (one large save, the one that
//! added the code, say, is no pattern), and only what applies: neither found, nothing said.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::ms;
use crate::status;

/// Two rebuilds in a row at least this long are looked into (`RELIVE_SLOW_BUILD_MS` overrides
/// it).
const SLOW: Duration = Duration::from_secs(1);
/// From this many types deriving serde's traits, their derives are a large part of a rebuild.
const MANY_SERDE_TYPES: usize = 30;
/// From this many lines of code (not blank, not comments), a module is worth splitting.
const LARGE_MODULE: usize = 4000;
/// The guide's chapter the advice points to, from the root of relive's checkout.
const GUIDE_CHAPTER: &str = "docs/guide/src/fast-reloads.md";
/// The section of [`GUIDE_CHAPTER`] the advice points to (its heading).
const GUIDE_SECTION: &str = "Keeping reloads fast as the worker grows";

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
    /// The files that hold them, with how many each, most first.
    pub serde_files: Vec<(PathBuf, usize)>,
    /// The source file whose own module (inline modules left out) has the most lines of code,
    /// and how many, if they are many.
    pub large_module: Option<(PathBuf, usize)>,
}

impl Findings {
    /// Looks through the `.rs` files under `src`.
    pub(super) fn of(src: &Path) -> Findings {
        let mut found = Findings::default();
        let sources = super::unchanged::files_under(src);
        for path in sources
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let derives = serde_derives(&text);
            if derives > 0 {
                found.serde_types += derives;
                found.serde_files.push((path.clone(), derives));
            }
            let lines = own_module_lines(&text);
            let larger = found.large_module.as_ref().is_none_or(|(_, n)| lines > *n);
            if lines >= LARGE_MODULE && larger {
                found.large_module = Some((path, lines));
            }
        }
        found
            .serde_files
            .sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
        found
    }

    /// What to tell the user after two slow rebuilds in a row that took `builds`, files shown
    /// relative to `root`, pointing to `guide` (the guide's chapter on it, [`GUIDE_CHAPTER`] in
    /// relive's checkout, when that is known); nothing if there is nothing to change.
    pub(super) fn advice(
        &self,
        builds: [Duration; 2],
        root: &Path,
        guide: Option<&Path>,
    ) -> Vec<String> {
        let mut found = Vec::new();
        if self.serde_types >= MANY_SERDE_TYPES {
            // Where they are: the three files with most.
            let mut places: Vec<String> = self
                .serde_files
                .iter()
                .take(3)
                .map(|(file, n)| {
                    format!(
                        "{n} in `{}`",
                        file.strip_prefix(root).unwrap_or(file).display()
                    )
                })
                .collect();
            if self.serde_files.len() > 3 {
                places.push(format!("{} more files", self.serde_files.len() - 3));
            }
            found.push(format!(
                "- {} types derive serde's traits ({}), and rustc compiles their derives again \
                 at every save. Types that rarely change can move to a crate of their own that \
                 the worker depends on (`cargo relive new --state-crate` starts a project that \
                 way)",
                self.serde_types,
                places.join(", ")
            ));
        }
        if let Some((file, lines)) = &self.large_module {
            let shown = file.strip_prefix(root).unwrap_or(file);
            found.push(format!(
                "- `{}` is one module of {lines} lines of code, all compiled again at every \
                 save. Split into modules, a save compiles again only the modules it changes \
                 (0.79 × the time for a 20k-line worker)",
                shown.display()
            ));
        }
        if found.is_empty() {
            return found;
        }
        let [a, b] = builds.map(|d| d.as_secs_f64());
        let mut advice = vec![format!(
            "the worker's last two rebuilds took {a:.2}s and {b:.2}s; in its sources:"
        )];
        advice.extend(found);
        advice.push(match guide {
            Some(guide) => format!("more in \"{GUIDE_SECTION}\" in {}", guide.display()),
            None => format!("more in \"{GUIDE_SECTION}\" in relive's guide, {GUIDE_CHAPTER}"),
        });
        advice
    }
}

/// The worker's rebuilds after edits, for the advice: two slow ones in a row, each after an edit
/// to the worker's own sources (not a dependency's, such as a state crate's), and none failed
/// between; once per session.
#[derive(Debug, Default)]
pub(super) struct SlowBuilds {
    /// The advice was given.
    advised: bool,
    /// The last rebuild, if it counts and was slow.
    last: Option<Duration>,
    /// The edit being built is to the worker's own sources.
    own: bool,
}

impl SlowBuilds {
    /// An edit is built; `own` if it is to the worker's own sources.
    pub(super) fn edit(&mut self, own: bool) {
        self.own = own;
    }

    /// The build failed: the row is broken.
    pub(super) fn failed(&mut self) {
        self.last = None;
    }

    /// The edit's rebuild, which took `build`, is loaded; the two rebuilds' times when they make
    /// a slow row (at least `slow` each) and no advice was given yet.
    fn reloaded(&mut self, build: Duration, slow: Duration) -> Option<[Duration; 2]> {
        if self.advised {
            return None;
        }
        if build < slow || !self.own {
            self.last = None;
            return None;
        }
        self.last.replace(build).map(|before| [before, build])
    }
}

impl super::Supervisor {
    /// After two slow rebuilds in a row of the worker's own sources (not of a dependency, such
    /// as a state crate), once per session, when the second is loaded:
    /// what in the worker's sources makes them slow, if it is something a user can change (see
    /// [`SlowBuilds`]).
    pub(in crate::run) fn advise_if_slow(&mut self, build: Duration) {
        let Some([before, build]) = self.slow_builds.reloaded(build, slow()) else {
            return;
        };
        let found = Findings::of(&self.project.worker_dir.join("src"));
        let guide = crate::new::own_checkout()
            .map(|dir| dir.join(GUIDE_CHAPTER))
            .filter(|guide| guide.is_file());
        let advice = found.advice([before, build], &self.project.root, guide.as_deref());
        if advice.is_empty() {
            return;
        }
        self.slow_builds.advised = true;
        for line in &advice {
            status::advice(line);
        }
        let shown = |file: &std::path::Path| {
            file.strip_prefix(&self.project.root)
                .unwrap_or(file)
                .display()
                .to_string()
        };
        let module = found
            .large_module
            .as_ref()
            .map(|(file, lines)| json!({ "file": shown(file), "lines": lines }));
        let serde_files: Vec<_> = found
            .serde_files
            .iter()
            .map(|(file, types)| json!({ "file": shown(file), "types": types }))
            .collect();
        self.events.emit(
            "slow_build",
            json!({
                "crate": self.project.worker,
                "build_ms": [ms(before), ms(build)],
                "serde_types": found.serde_types,
                "serde_files": serde_files,
                "large_module": module,
                "advice": advice,
            }),
        );
    }
}

/// `text` without its comments (`//` to the end of the line, `/* … */`), line by line: the
/// lines of a block comment come out empty. A `//` or `/*` inside a string literal is taken for
/// a comment too, which only shortens what is counted.
fn without_comments(text: &str) -> Vec<&str> {
    let mut in_block = false;
    text.lines()
        .map(|line| {
            if in_block {
                match line.find("*/") {
                    Some(end) => {
                        in_block = false;
                        line[end + 2..].split("//").next().unwrap_or("")
                    }
                    None => "",
                }
            } else {
                let line = line.split("//").next().unwrap_or("");
                match line.find("/*") {
                    Some(start) if !line[start..].contains("*/") => {
                        in_block = true;
                        &line[..start]
                    }
                    _ => line,
                }
            }
        })
        .collect()
}

/// The number of items that derive `Serialize` or `Deserialize` (the last segment of a name in
/// a `derive(…)`, so `serde::Serialize` counts and `BorshSerialize` does not), counted once per
/// item even when two attributes name them.
fn serde_derives(text: &str) -> usize {
    let code = without_comments(text).join("\n");
    let mut count = 0;
    let mut rest = code.as_str();
    // Whether the item that the last counted attribute belongs to is still ahead.
    let mut item_pending = false;
    while let Some(at) = rest.find("derive(") {
        // Between two attributes of one item there are only attributes: no item's body or end.
        let between = &rest[..at];
        if ["struct ", "enum ", "union ", "{", ";"]
            .iter()
            .any(|w| between.contains(w))
        {
            item_pending = false;
        }
        let after = &rest[at + "derive(".len()..];
        let end = after.find(')').unwrap_or(after.len());
        let serde = after[..end].split(',').any(|name| {
            let last = name.trim().rsplit("::").next().unwrap_or("");
            last == "Serialize" || last == "Deserialize"
        });
        if serde && !item_pending {
            count += 1;
            item_pending = true;
        }
        rest = &after[end..];
    }
    count
}

/// The lines of code (neither blank nor a comment) of a file's own module: the lines inside its
/// inline modules (`mod tests { … }`) are left out, since rustc compiles those in units of their
/// own. Braces are counted per line, which string literals with unbalanced braces would skew.
fn own_module_lines(text: &str) -> usize {
    let balance = |line: &str| line.matches('{').count() as i64 - line.matches('}').count() as i64;
    let mut lines = 0;
    // Inside an inline module: its braces still open.
    let mut inside: i64 = 0;
    for line in without_comments(text).into_iter().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if inside > 0 {
            inside += balance(line);
            continue;
        }
        if opens_inline_module(line) {
            inside = balance(line);
            continue;
        }
        lines += 1;
    }
    lines
}

/// Whether `line` starts an inline module: `mod name {`, with any visibility (`pub`,
/// `pub(crate)`, `pub(in crate::a)`).
fn opens_inline_module(line: &str) -> bool {
    let rest = match line.strip_prefix("pub") {
        Some(vis) if vis.starts_with('(') => vis.find(')').map_or("", |end| &vis[end + 1..]),
        Some(vis) => vis,
        None => line,
    };
    rest.trim_start().starts_with("mod ") && line.contains('{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_derives_are_counted_once_per_item_whatever_their_spelling() {
        let text = "#[derive(Debug, Serialize, Deserialize)]\nstruct A;\n\
                    #[derive(serde::Deserialize)]\npub(crate) struct B(u8);\n\
                    #[derive(\n    Clone,\n    serde::Serialize,\n)]\nenum C {}\n\
                    #[derive(Debug, Clone)]\nstruct D;\n\
                    #[cfg_attr(feature = \"x\", derive(Serialize))]\nstruct E;\n\
                    #[derive(Serialize)]\n#[derive(Deserialize)]\nstruct F;\n";
        assert_eq!(serde_derives(text), 5);
        // Not serde's, or not code.
        let others = "#[derive(BorshSerialize, SerializeDisplay)]\nstruct G;\n\
                      // #[derive(Serialize)]\n/// #[derive(Serialize)]\n\
                      /* #[derive(Serialize)]\n   #[derive(Deserialize)] */\nstruct H;\n";
        assert_eq!(serde_derives(others), 0);
    }

    #[test]
    fn a_module_counts_its_code_lines_without_comments_or_its_inline_modules() {
        let flat = "// a comment\n\nfn a() {}\n/* block\n * more\n */\nfn b() {\n    *x += 1;\n}\n";
        assert_eq!(own_module_lines(flat), 4);
        let inline = "fn a() {\n    1\n}\npub(crate) mod inner {\n    fn b() {\n        2\n    }\n}\n\
                      #[cfg(test)]\nmod tests {\n    fn c() {}\n}\nfn d() {}\nmod e { fn f() {} }\n\
                      pub(in crate::a) mod g {\n    fn h() {}\n}\nfn i() {}\n";
        // `fn a() {`, `1`, `}`, `#[cfg(test)]`, `fn d() {}`, `fn i() {}`
        assert_eq!(own_module_lines(inline), 6);
        let declared = "mod other;\npub mod more;\nfn a() {}\n";
        assert_eq!(own_module_lines(declared), 3);
    }

    #[test]
    fn the_guide_has_the_section_the_advice_points_to() {
        let chapter = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(GUIDE_CHAPTER);
        let text = std::fs::read_to_string(&chapter).unwrap();
        assert!(
            text.lines().any(|l| l == format!("## {GUIDE_SECTION}")),
            "{} has no section \"{GUIDE_SECTION}\": the slow-rebuild advice points there",
            chapter.display()
        );
    }

    #[test]
    fn advice_fits_what_was_found_and_a_worker_with_neither_gets_none() {
        let root = Path::new("/game");
        let builds = [Duration::from_millis(1420), Duration::from_millis(2630)];
        let guide = Path::new("/relive/docs/guide/src/fast-reloads.md");
        assert!(Findings::default().advice(builds, root, None).is_empty());
        let small = Findings {
            serde_types: MANY_SERDE_TYPES - 1,
            ..Findings::default()
        };
        assert!(small.advice(builds, root, None).is_empty());

        let file = |f: &str, n| (PathBuf::from(format!("/game/worker/src/{f}")), n);
        let derives = Findings {
            serde_types: 200,
            serde_files: vec![
                file("a.rs", 100),
                file("b.rs", 50),
                file("c.rs", 30),
                file("d.rs", 10),
                file("lib.rs", 10),
            ],
            large_module: None,
        };
        let advice = derives.advice(builds, root, Some(guide));
        assert_eq!(
            advice[0],
            "the worker's last two rebuilds took 1.42s and 2.63s; in its sources:"
        );
        assert!(
            advice[1].starts_with("- 200 types derive serde's traits"),
            "{advice:?}"
        );
        assert!(advice[1].contains("--state-crate"), "{advice:?}");
        assert_eq!(
            advice[2],
            "more in \"Keeping reloads fast as the worker grows\" in /relive/docs/guide/src/fast-reloads.md"
        );
        assert_eq!(advice.len(), 3, "{advice:?}");

        let both = Findings {
            serde_types: 200,
            serde_files: vec![file("lib.rs", 200)],
            large_module: Some((PathBuf::from("/game/worker/src/lib.rs"), 19_625)),
        };
        let advice = both.advice(builds, root, None);
        assert_eq!(advice.len(), 4, "{advice:?}");
        assert!(
            advice[2].starts_with("- `worker/src/lib.rs` is one module of 19625 lines of code"),
            "{advice:?}"
        );
        assert!(
            advice[3].ends_with("in relive's guide, docs/guide/src/fast-reloads.md"),
            "{advice:?}"
        );
    }

    #[test]
    fn two_slow_successful_rebuilds_of_the_workers_own_sources_in_a_row_make_a_row_once() {
        let ms = Duration::from_millis;
        let slow = ms(1000);
        let mut b = SlowBuilds::default();
        b.edit(true);
        assert_eq!(b.reloaded(ms(1500), slow), None, "one is no row");
        b.edit(true);
        assert_eq!(b.reloaded(ms(300), slow), None, "a fast one breaks it");
        b.edit(true);
        assert_eq!(b.reloaded(ms(1500), slow), None);
        b.edit(true);
        b.failed();
        b.edit(true);
        assert_eq!(b.reloaded(ms(1200), slow), None, "a failure breaks it");
        b.edit(false);
        assert_eq!(
            b.reloaded(ms(5000), slow),
            None,
            "a dependency's rebuild breaks it"
        );
        b.edit(true);
        assert_eq!(b.reloaded(ms(1100), slow), None);
        b.edit(true);
        assert_eq!(b.reloaded(ms(1300), slow), Some([ms(1100), ms(1300)]));
        b.advised = true;
        b.edit(true);
        assert_eq!(b.reloaded(ms(1400), slow), None, "once per session");
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
        assert_eq!(found.serde_files, [(src.join("small.rs"), 1)]);
        assert_eq!(
            found.large_module,
            Some((src.join("deep/big.rs"), LARGE_MODULE + 20))
        );
    }
}
