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
    /// Depend on the relive crates at this checkout (default when `cargo relive` was built from one).
    #[arg(long, value_name = "DIR", conflicts_with = "relive_version")]
    pub relive_path: Option<PathBuf>,
    /// Depend on this version of relive from crates.io.
    #[arg(long, value_name = "VERSION")]
    pub relive_version: Option<String>,
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

/// The files every template shares: the workspace, and the manifests of the interface and worker
/// crates.
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
        path: "base/Cargo.toml",
        text: include_str!("../templates/terminal/base.Cargo.toml.tmpl"),
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

/// The relive checkout this binary was built from, if it is still there.
fn own_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.join("crates/relive/Cargo.toml")
        .is_file()
        .then(|| dir.canonicalize().ok())
        .flatten()
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
    let checkout = match (&args.relive_path, &args.relive_version) {
        (Some(path), _) => Some(
            path.canonicalize()
                .with_context(|| format!("no relive checkout at {}", path.display()))?,
        ),
        (None, Some(_)) => None,
        (None, None) => own_checkout(),
    };
    let (relive, relive_worker) = match &checkout {
        Some(dir) => (
            format!("{{ path = \"{}\" }}", dir.join("crates/relive").display()),
            format!(
                "{{ path = \"{}\" }}",
                dir.join("crates/relive-worker").display()
            ),
        ),
        None => {
            let version = args
                .relive_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
            (format!("\"{version}\""), format!("\"{version}\""))
        }
    };
    let files = match args.template {
        Template::Terminal => TERMINAL,
        Template::Window => WINDOW,
    };
    for file in COMMON.iter().chain(files) {
        let path = args.dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = file
            .text
            .replace("{{RELIVE_WORKER}}", &relive_worker)
            .replace("{{RELIVE}}", &relive)
            .replace("{{NAME}}", &name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    // With the checkout's lockfile the new project resolves without the network.
    if let Some(dir) = &checkout {
        let lock = dir.join("Cargo.lock");
        if lock.is_file() {
            std::fs::copy(&lock, args.dir.join("Cargo.lock"))
                .with_context(|| format!("cannot copy {}", lock.display()))?;
        }
    }
    crate::status::info(&format!(
        "created `{name}`: `cd {} && cargo relive run`, then edit worker/src/lib.rs",
        args.dir.display()
    ));
    Ok(())
}
