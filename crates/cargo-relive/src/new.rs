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
/// `--template window`'s files beyond [`template_files`]: the engine-direct layout's flags.
const WINDOW_EXTRA: &[File] = &[File {
    path: ".cargo/config.toml",
    text: include_str!("../templates/window/cargo.config.toml.tmpl"),
}];

/// The relive checkout this binary was built from, if it is still there.
fn own_checkout() -> Option<PathBuf> {
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
    for file in files.iter().copied().flatten() {
        let path = args.dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = render(file.text, &source, &name);
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

    #[test]
    fn every_template_source_is_formatted_as_rustfmt_would() {
        use std::io::Write as _;
        for file in COMMON.iter().chain(TERMINAL).chain(WINDOW) {
            if !file.path.ends_with(".rs") {
                continue;
            }
            let text = render(file.text, &Source::Version("0.1".into()), "game");
            let mut rustfmt = std::process::Command::new("rustfmt")
                .args(["--check", "--edition", "2024"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("rustfmt is installed (rustup component add rustfmt)");
            rustfmt
                .stdin
                .take()
                .expect("piped")
                .write_all(text.as_bytes())
                .expect("rustfmt reads its input");
            let out = rustfmt.wait_with_output().expect("rustfmt runs");
            assert!(
                out.status.success(),
                "{} is not formatted:\n{}",
                file.path,
                String::from_utf8_lossy(&out.stdout)
            );
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
