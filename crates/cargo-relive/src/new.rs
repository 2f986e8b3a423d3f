//! `cargo relive new`: scaffolds a base / host / worker workspace.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};

/// Options of `cargo relive new`.
#[derive(Args, Debug)]
pub struct NewArgs {
    /// The directory to create.
    pub dir: PathBuf,
    /// What the new project starts as.
    #[arg(long, value_enum, default_value_t = Template::Terminal)]
    pub template: Template,
    /// Depend on the relive crates of the checkout at DIR (the default is the checkout `cargo
    /// relive` was built from, if it still exists).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["relive_git", "relive_version"])]
    pub relive_path: Option<PathBuf>,
    /// Depend on the relive crates from the git repository at URL.
    #[arg(long, value_name = "URL", conflicts_with = "relive_version")]
    pub relive_git: Option<String>,
    /// With `--relive-git`: the commit to use (the default is the repository's default branch).
    #[arg(long, value_name = "REV", requires = "relive_git")]
    pub relive_rev: Option<String>,
    /// Depend on this version of relive from crates.io: works only once relive is published
    /// there; until then, use `--relive-path` or `--relive-git`.
    #[arg(long, value_name = "VERSION")]
    pub relive_version: Option<String>,
    /// Version control for the new project, as `cargo new`: `git` (the default; skipped inside an
    /// existing repository or without git) or `none`.
    #[arg(long, value_enum, default_value_t = Vcs::Git)]
    pub vcs: Vcs,
    /// Put the `State` in a crate of its own (`state/`), with relive's codec compiled there: a
    /// save of the worker then compiles none of the state's serde code (for a worker whose state
    /// types grow large; see "Keeping reloads fast as the worker grows" in relive's guide,
    /// docs/guide/src/fast-reloads.md).
    #[arg(long)]
    pub state_crate: bool,
}

/// `--vcs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Vcs {
    /// A new git repository, unless the directory is already inside one.
    Git,
    /// None.
    None,
}

/// `git init` in `dir`, as `cargo new` does: not inside an existing work tree, and not when git is
/// missing (then it says so). Whether a repository was made.
fn git_init(dir: &Path) -> bool {
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match inside {
        Err(_) => {
            crate::status::info(
                "git is not installed: no repository was made (`--vcs none` says so)",
            );
            false
        }
        Ok(status) if status.success() => false,
        Ok(_) => std::process::Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success()),
    }
}

/// Where the new project gets the relive crates from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A checkout of the relive repository.
    Path(PathBuf),
    /// The relive git repository, at `rev` or its default branch.
    Git { url: String, rev: Option<String> },
    /// A version on crates.io.
    Version(String),
}

impl Source {
    /// The value of the dependency on `krate` (`relive` or `relive-worker`) in a manifest.
    /// [`Source::dependency`] with crate `features` turned on.
    fn dependency_with(&self, krate: &str, features: &[&str]) -> String {
        let features: Vec<String> = features.iter().map(|f| toml_string(f)).collect();
        let features = format!("features = [{}]", features.join(", "));
        match self {
            Source::Version(version) => {
                format!("{{ version = {}, {features} }}", toml_string(version))
            }
            _ => {
                let table = self.dependency(krate);
                format!("{}, {features} }}", table.trim_end_matches(" }"))
            }
        }
    }

    fn dependency(&self, krate: &str) -> String {
        match self {
            Source::Path(dir) => {
                let path = dir.join("crates").join(krate);
                format!("{{ path = {} }}", toml_string(&path.to_string_lossy()))
            }
            Source::Git { url, rev: None } => format!("{{ git = {} }}", toml_string(url)),
            Source::Git {
                url,
                rev: Some(rev),
            } => format!(
                "{{ git = {}, rev = {} }}",
                toml_string(url),
                toml_string(rev)
            ),
            Source::Version(version) => toml_string(version),
        }
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The project templates.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Template {
    /// A terminal program that prints its state each frame; runs anywhere, no window needed.
    Terminal,
    /// A macroquad window with a square the arrow keys move; needs a display.
    Window,
}

struct File {
    path: &'static str,
    text: &'static str,
}

/// The files every template shares: the workspace, and the worker's manifest.
const COMMON: &[File] = &[
    File {
        path: "Cargo.toml",
        text: include_str!("../templates/terminal/Cargo.toml.tmpl"),
    },
    File {
        path: ".gitignore",
        text: include_str!("../templates/terminal/gitignore.tmpl"),
    },
    File {
        path: "worker/Cargo.toml",
        text: include_str!("../templates/terminal/worker.Cargo.toml.tmpl"),
    },
];

/// Expands to the files of template `$dir` that differ between templates.
macro_rules! template_files {
    ($dir:literal) => {
        &[
            File {
                path: "README.md",
                text: include_str!(concat!("../templates/", $dir, "/README.md.tmpl")),
            },
            File {
                path: "base/Cargo.toml",
                text: include_str!(concat!("../templates/", $dir, "/base.Cargo.toml.tmpl")),
            },
            File {
                path: "base/src/lib.rs",
                text: include_str!(concat!("../templates/", $dir, "/base.lib.rs.tmpl")),
            },
            File {
                path: "worker/src/lib.rs",
                text: include_str!(concat!("../templates/", $dir, "/worker.lib.rs.tmpl")),
            },
            File {
                path: "host/Cargo.toml",
                text: include_str!(concat!("../templates/", $dir, "/host.Cargo.toml.tmpl")),
            },
            File {
                path: "host/src/main.rs",
                text: include_str!(concat!("../templates/", $dir, "/host.main.rs.tmpl")),
            },
        ]
    };
}

/// `--template terminal`.
const TERMINAL: &[File] = template_files!("terminal");
/// `--template window`.
const WINDOW: &[File] = template_files!("window");
/// `--template window`'s files beyond [`template_files`]: the engine-direct layout's flags, and
/// serde for the engine's value types.
const WINDOW_EXTRA: &[File] = &[
    File {
        path: ".cargo/config.toml",
        text: include_str!("../templates/window/cargo.config.toml.tmpl"),
    },
    File {
        path: "base/src/engine_serde.rs",
        text: include_str!("../templates/window/base.engine_serde.rs.tmpl"),
    },
];

/// `--state-crate`'s manifest.
const STATE_MANIFEST: &str = include_str!("../templates/state/Cargo.toml.tmpl");
/// `--state-crate`'s section of the project's README.
const STATE_README: &str = include_str!("../templates/state/README.md.tmpl");

/// `--state-crate`: moves the template worker's `State` (from its doc comment to `fn update`) into
/// a `state` crate with relive's codec (`codec!`), and points the worker and the workspace at it.
fn split_state(files: &mut Vec<(String, String)>, manifest: &str) -> Result<()> {
    let text = |files: &[(String, String)], path: &str| {
        files
            .iter()
            .position(|(p, _)| p == path)
            .context("the template has no such file")
    };
    let worker = text(files, "worker/src/lib.rs")?;
    let source = files[worker].1.clone();
    let start = source
        .find("/// Everything here survives a reload.")
        .context("the template's State has no doc comment")?;
    let mut end = source[start..]
        .find("\nfn update(")
        .map(|i| start + i + 1)
        .context("the template has no update")?;
    // The comments and attributes right above `update` (`#[relive_worker::tweak]`) stay with it.
    while let Some(line_start) = source[start..end.saturating_sub(1)]
        .rfind('\n')
        .map(|i| start + i + 1)
    {
        let line = &source[line_start..end - 1];
        if !(line.starts_with("//") || line.starts_with("#[")) {
            break;
        }
        end = line_start;
    }
    let state = &source[start..end];
    // The worker reads and writes the fields from another crate now: they become `pub`.
    let mut inside = false;
    let public: String = state
        .lines()
        .map(|line| {
            if line.starts_with("pub struct State") {
                inside = true;
            } else if line == "}" {
                inside = false;
            } else if inside
                && line.starts_with("    ")
                && !line.trim_start().starts_with(['/', '#'])
                && !line.trim_start().starts_with("pub ")
            {
                return format!("    pub {}\n", line.trim_start());
            }
            format!("{line}\n")
        })
        .collect();
    let lib = format!(
        "//! The worker's state: what survives every reload. Its serde derives and relive's codec\n\
         //! are compiled here, when this crate changes, not at each save of the worker.\n\
         \n\
         use serde::{{Deserialize, Serialize}};\n\
         \n\
         {public}\
         relive_worker::codec!(State);\n"
    );
    let mut worker_text = source.replacen(state, "", 1).replacen(
        "use serde::{Deserialize, Serialize};\n",
        "// `State`'s own methods (`impl State { … }`) go in state/src/lib.rs: Rust allows them only\n\
         // in the crate that defines the type. Here, functions that take `&mut State`.\n\
         use state::State;\n",
        1,
    );
    worker_text = worker_text.replacen(
        "    update: update,\n}",
        "    update: update,\n    codec: State,\n}",
        1,
    );
    files[worker].1 = worker_text;
    let root = text(files, "Cargo.toml")?;
    files[root].1 = files[root].1.replacen(
        r#""host", "worker"]"#,
        r#""host", "state", "worker"]"#,
        1,
    ) + "\n# With a large state (megabytes), its codec runs many times faster optimized; a change\n\
           # of `state` then takes longer to build:\n\
           # [profile.dev.package.state]\n\
           # opt-level = 3\n";
    // The worker has no serde code left: its serde line would invite derives back in.
    let manifest_at = text(files, "worker/Cargo.toml")?;
    files[manifest_at].1 = files[manifest_at].1.replacen(
        "serde = { version = \"1\", features = [\"derive\"] }\n",
        "state = { path = \"../state\" }\n",
        1,
    );
    let readme = text(files, "README.md")?;
    let listed = files[readme]
        .1
        .replacen("and its `State`", "(its `State` is in `state/`)", 1);
    files[readme].1 = listed + STATE_README;
    files.push(("state/Cargo.toml".to_owned(), manifest.to_owned()));
    files.push(("state/src/lib.rs".to_owned(), lib));
    Ok(())
}

/// The relive checkout this binary was built from, if it is still there.
pub(crate) fn own_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.join("crates/relive/Cargo.toml")
        .is_file()
        .then(|| dir.canonicalize().ok())
        .flatten()
}

/// `text` of a template file with its placeholders filled in.
fn render(text: &str, source: &Source, name: &str) -> String {
    text.replace("{{RELIVE_WORKER}}", &source.dependency("relive-worker"))
        .replace("{{RELIVE_TAPE}}", &source.dependency("relive-tape"))
        .replace(
            "{{RELIVE_INSPECTOR}}",
            &source.dependency_with("relive-inspector", &["macroquad"]),
        )
        .replace("{{RELIVE}}", &source.dependency("relive"))
        .replace("{{NAME}}", name)
}

/// Creates the project.
pub fn new(args: &NewArgs) -> Result<()> {
    if args.dir.exists()
        && args
            .dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty: choose a new directory",
            args.dir.display()
        );
    }
    let name = args
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("the directory needs a name")?
        .to_owned();
    let source = if let Some(path) = &args.relive_path {
        let dir = path
            .canonicalize()
            .with_context(|| format!("no relive checkout at {}", path.display()))?;
        if !dir.join("crates/relive/Cargo.toml").is_file() {
            bail!(
                "{} is not a relive checkout: it has no crates/relive/Cargo.toml",
                path.display()
            );
        }
        Source::Path(dir)
    } else if let Some(url) = &args.relive_git {
        Source::Git {
            url: url.clone(),
            rev: args.relive_rev.clone(),
        }
    } else if let Some(version) = &args.relive_version {
        Source::Version(version.clone())
    } else {
        own_checkout().map_or_else(
            || Source::Version(env!("CARGO_PKG_VERSION").to_owned()),
            Source::Path,
        )
    };
    let files: &[&[File]] = match args.template {
        Template::Terminal => &[COMMON, TERMINAL],
        Template::Window => &[COMMON, WINDOW, WINDOW_EXTRA],
    };
    let mut written: Vec<(String, String)> = files
        .iter()
        .copied()
        .flatten()
        .map(|file| (file.path.to_owned(), render(file.text, &source, &name)))
        .collect();
    if args.state_crate {
        split_state(&mut written, &render(STATE_MANIFEST, &source, &name))?;
    }
    for (file, text) in &written {
        let path = args.dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    // With the checkout's lockfile the new project resolves without the network.
    if let Source::Path(dir) = &source {
        let lock = dir.join("Cargo.lock");
        if lock.is_file() {
            std::fs::copy(&lock, args.dir.join("Cargo.lock"))
                .with_context(|| format!("cannot copy {}", lock.display()))?;
        }
    }
    if args.vcs == Vcs::Git {
        git_init(&args.dir);
    }
    crate::status::info(&format!(
        "created `{name}`: `cd {} && cargo relive run`, then edit worker/src/lib.rs",
        shell_words::quote(&args.dir.to_string_lossy())
    ));
    if let Source::Version(version) = &source {
        crate::status::info(&format!(
            "it depends on relive {version} from crates.io, which works once relive is published \
             there; until then, make it again with `--relive-path DIR` (a relive checkout) or \
             `--relive-git URL`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_lines_name_the_source() {
        let path = Source::Path("/src/relive".into());
        assert_eq!(
            path.dependency("relive"),
            r#"{ path = "/src/relive/crates/relive" }"#
        );
        assert_eq!(
            path.dependency("relive-worker"),
            r#"{ path = "/src/relive/crates/relive-worker" }"#
        );
        let git = Source::Git {
            url: "https://example.com/relive.git".into(),
            rev: None,
        };
        assert_eq!(
            git.dependency("relive"),
            r#"{ git = "https://example.com/relive.git" }"#
        );
        let pinned = Source::Git {
            url: "https://example.com/relive.git".into(),
            rev: Some("0123abc".into()),
        };
        assert_eq!(
            pinned.dependency("relive-worker"),
            r#"{ git = "https://example.com/relive.git", rev = "0123abc" }"#
        );
        assert_eq!(
            pinned.dependency_with("relive-inspector", &["macroquad"]),
            r#"{ git = "https://example.com/relive.git", rev = "0123abc", features = ["macroquad"] }"#
        );
        assert_eq!(
            Source::Version("0.1".into()).dependency_with("relive-inspector", &["macroquad"]),
            r#"{ version = "0.1", features = ["macroquad"] }"#
        );
        let version = Source::Version("0.1".into());
        assert_eq!(version.dependency("relive"), r#""0.1""#);
        assert_eq!(version.dependency("relive-worker"), r#""0.1""#);
    }

    #[test]
    fn dependency_lines_escape_what_toml_needs() {
        let odd = Source::Path(r#"/tmp/a "b" \c"#.into());
        assert_eq!(
            odd.dependency("relive"),
            r#"{ path = "/tmp/a \"b\" \\c/crates/relive" }"#
        );
        assert_eq!(toml_string("tab\there"), r#""tab\u0009here""#);
    }

    /// The manifest `path` of a template, rendered for `source`.
    fn manifest(files: &[File], path: &str, source: &Source) -> String {
        let file = COMMON
            .iter()
            .chain(files)
            .find(|f| f.path == path)
            .expect("a template file");
        render(file.text, source, "game")
    }

    #[test]
    fn every_manifest_gets_the_dependency_lines() {
        let source = Source::Git {
            url: "https://example.com/relive.git".into(),
            rev: Some("0123abc".into()),
        };
        let git = r#"{ git = "https://example.com/relive.git", rev = "0123abc" }"#;
        // The window template's base is the shared engine crate: no relive in it.
        for (files, with_base) in [(TERMINAL, true), (WINDOW, false)] {
            let base = [("base/Cargo.toml", "relive-worker")];
            for (path, krate) in [
                ("worker/Cargo.toml", "relive-worker"),
                ("host/Cargo.toml", "relive"),
            ]
            .into_iter()
            .chain(base.into_iter().filter(|_| with_base))
            {
                let text = manifest(files, path, &source);
                assert!(
                    text.lines().any(|l| l == format!("{krate} = {git}")),
                    "{path}:\n{text}"
                );
                assert!(!text.contains("{{"), "{path}:\n{text}");
            }
        }
        let text = manifest(TERMINAL, "host/Cargo.toml", &Source::Version("0.1".into()));
        assert!(text.lines().any(|l| l == r#"relive = "0.1""#), "{text}");
    }

    /// A template's files as `new` writes them (with `--state-crate` or not): path and text.
    fn render_all(files: &[&[File]], state_crate: bool) -> Vec<(String, String)> {
        let source = Source::Version("0.1".into());
        let mut out: Vec<(String, String)> = files
            .iter()
            .copied()
            .flatten()
            .map(|f| (f.path.to_owned(), render(f.text, &source, "game")))
            .collect();
        if state_crate {
            split_state(&mut out, STATE_MANIFEST).unwrap();
        }
        out
    }

    #[test]
    fn every_template_source_is_formatted_as_rustfmt_would() {
        let dir = tempfile::tempdir().unwrap();
        for state_crate in [false, true] {
            for files in [&[COMMON, TERMINAL][..], &[COMMON, WINDOW, WINDOW_EXTRA][..]] {
                // Each file at its place: a `mod` declaration finds its file.
                let rendered = render_all(files, state_crate);
                let root = dir.path().join(format!("{state_crate}-{}", files.len()));
                for (path, text) in &rendered {
                    let file = root.join(path);
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(&file, text).unwrap();
                }
                for (path, _) in rendered {
                    if !path.ends_with(".rs") {
                        continue;
                    }
                    // A file, not stdin: rustfmt lets some long lines through on stdin.
                    let file = root.join(&path);
                    let out = std::process::Command::new("rustfmt")
                        .args(["--check", "--edition", "2024"])
                        .arg(&file)
                        .output()
                        .expect("rustfmt is installed (rustup component add rustfmt)");
                    assert!(
                        out.status.success(),
                        "{path} (state crate: {state_crate}) is not formatted:\n{}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                }
            }
        }
    }

    #[test]
    fn the_state_crate_takes_the_state_its_codec_and_the_serde_line_from_the_worker() {
        for files in [&[COMMON, TERMINAL][..], &[COMMON, WINDOW][..]] {
            let out = render_all(files, true);
            let file = |path: &str| {
                out.iter()
                    .find(|(p, _)| p == path)
                    .map(|(_, t)| t.clone())
                    .unwrap()
            };
            let state = file("state/src/lib.rs");
            assert!(state.contains("pub struct State {"), "{state}");
            assert!(state.contains("relive_worker::codec!(State);"), "{state}");
            assert!(
                !state.contains("\n    frames: u64"),
                "a field is not pub: {state}"
            );
            let worker = file("worker/src/lib.rs");
            assert!(
                !worker.contains("struct State") && !worker.contains("serde"),
                "{worker}"
            );
            assert!(worker.contains("    codec: State,\n}"), "{worker}");
            let manifest = file("worker/Cargo.toml");
            assert!(!manifest.contains("serde"), "{manifest}");
            assert!(
                manifest.contains("state = { path = \"../state\" }"),
                "{manifest}"
            );
            assert!(file("Cargo.toml").contains(r#""host", "state", "worker"]"#));
            let readme = file("README.md");
            assert!(readme.contains("(its `State` is in `state/`)"), "{readme}");
            assert!(readme.contains("## The state crate"), "{readme}");
        }
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        new: NewArgs,
    }

    fn parse(args: &[&str]) -> Result<NewArgs, clap::Error> {
        use clap::Parser as _;
        Cli::try_parse_from(["new", "game"].iter().chain(args)).map(|cli| cli.new)
    }

    #[test]
    fn one_source_at_a_time() {
        let args = parse(&[
            "--relive-git",
            "https://example.com/r.git",
            "--relive-rev",
            "abc",
        ])
        .expect("git with a rev");
        assert_eq!(
            args.relive_git.as_deref(),
            Some("https://example.com/r.git")
        );
        assert_eq!(args.relive_rev.as_deref(), Some("abc"));
        assert!(parse(&["--relive-rev", "abc"]).is_err());
        assert!(parse(&["--relive-path", "/r", "--relive-git", "u"]).is_err());
        assert!(parse(&["--relive-path", "/r", "--relive-version", "0.1"]).is_err());
        assert!(parse(&["--relive-git", "u", "--relive-version", "0.1"]).is_err());
    }
}
