//! The guide's CLI chapter holds each command's `--help`, as `cargo relive` prints it: checked
//! here, so that neither drifts. `RELIVE_BLESS=1` rewrites the chapter's blocks instead.

use std::process::Command;

use super::{bin, repo};

/// The chapter, from the repository's root.
const CHAPTER: &str = "docs/guide/src/cli.md";

/// What the test says when the chapter and the commands disagree.
const FIX: &str = "run `RELIVE_BLESS=1 cargo test -p cargo-relive --test it guide::` to rewrite \
                   the chapter's blocks from the commands' `--help`, then read the diff and fix \
                   the text around them";

/// `cargo relive ARGS --help` as a user sees it: no colours, no value of `RELIVE_EVENTS`.
fn help(args: &[String]) -> String {
    let out = Command::new(bin())
        .arg("relive")
        .args(args)
        .arg("--help")
        .env_remove("RELIVE_EVENTS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`cargo relive {} --help` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`, without clap's `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command, its subcommands after it (`state`, `state get`, …), each with its help text;
/// `cargo relive` itself first.
fn commands() -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut todo = vec![Vec::new()];
    while let Some(args) = todo.pop() {
        let text = help(&args);
        let subs = subcommands(&text);
        // Depth first, in the order `--help` lists them.
        for sub in subs.into_iter().rev() {
            let mut more = args.clone();
            more.push(sub);
            todo.push(more);
        }
        found.push((args, text));
    }
    found
}

/// The first line of a command's block: `$ cargo relive run --help`.
fn prompt(args: &[String]) -> String {
    let mut line = "$ cargo relive".to_owned();
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    line + " --help"
}

/// A block of the chapter: where its text (after the prompt line) starts and ends.
struct Block {
    prompt: String,
    text: std::ops::Range<usize>,
}

/// The chapter's `--help` blocks: a ```` ```text ```` fence whose first line is a prompt.
fn blocks(chapter: &str) -> Vec<Block> {
    let open = "```text\n$ cargo relive";
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = chapter[from..].find(open) {
        let line_start = from + at + "```text\n".len();
        let line_end = line_start + chapter[line_start..].find('\n').unwrap_or(0);
        let text_start = line_end + 1;
        let Some(close) = chapter[text_start..].find("```\n") else {
            break;
        };
        let text_end = text_start + close;
        found.push(Block {
            prompt: chapter[line_start..line_end].to_owned(),
            text: text_start..text_end,
        });
        from = text_end;
    }
    found
}

/// A help text as the chapter holds it: without trailing blanks, one newline at its end.
fn as_written(help: &str) -> String {
    let lines: Vec<&str> = help.trim_end().lines().map(str::trim_end).collect();
    lines.join("\n") + "\n"
}

#[test]
fn the_cli_chapter_holds_each_commands_help_as_it_is() {
    let path = repo().join(CHAPTER);
    let mut chapter = std::fs::read_to_string(&path).unwrap();
    let commands = commands();
    assert!(
        commands.iter().any(|(args, _)| args == &["run"]),
        "no `run` among the commands: {:?}",
        commands
            .iter()
            .map(|(a, _)| a.join(" "))
            .collect::<Vec<_>>()
    );
    let bless = std::env::var_os("RELIVE_BLESS").is_some_and(|v| v == "1");

    let mut wrong = Vec::new();
    for (args, text) in &commands {
        let prompt = prompt(args);
        let want = as_written(text);
        let block = blocks(&chapter).into_iter().find(|b| b.prompt == prompt);
        match block {
            Some(block) if chapter[block.text.clone()] == want => {}
            Some(block) if bless => chapter.replace_range(block.text, &want),
            None if bless => {
                let title = format!("cargo relive {}", args.join(" "));
                chapter = format!(
                    "{}\n\n### `{}`\n\n```text\n{prompt}\n{want}```\n",
                    chapter.trim_end(),
                    title.trim_end()
                );
            }
            Some(_) => wrong.push(format!("`{prompt}` differs from the command's")),
            None => wrong.push(format!("`{prompt}` has no block")),
        }
    }
    // A block for a command that is gone.
    let prompts: Vec<String> = commands.iter().map(|(args, _)| prompt(args)).collect();
    for block in blocks(&chapter).into_iter().rev() {
        if prompts.contains(&block.prompt) {
            continue;
        }
        if bless {
            let start = chapter[..block.text.start]
                .rfind("```text\n")
                .unwrap_or(block.text.start);
            chapter.replace_range(start..block.text.end + "```\n".len(), "");
        } else {
            wrong.push(format!(
                "`{}` is in the chapter but is no command of `cargo relive`",
                block.prompt
            ));
        }
    }
    if bless {
        // What a removed block leaves: blank lines in a row.
        while chapter.contains("\n\n\n") {
            chapter = chapter.replace("\n\n\n", "\n\n");
        }
        std::fs::write(&path, chapter.trim_end().to_owned() + "\n").unwrap();
        return;
    }
    assert!(
        wrong.is_empty(),
        "{CHAPTER} does not hold the commands' `--help`:\n- {}\nTo fix it, {FIX}.",
        wrong.join("\n- ")
    );
}

#[test]
fn subcommands_are_read_from_the_commands_list_of_a_help_text() {
    let text = "About\n\nUsage: cargo relive <COMMAND>\n\nCommands:\n  new    Create\n  \
                state  Read\n  help   Print this message\n\nOptions:\n  -h, --help  Print help\n";
    assert_eq!(subcommands(text), ["new", "state"]);
    assert_eq!(subcommands("Usage: x\n"), Vec::<String>::new());
    let chapter = "# CLI\n\n```text\n$ cargo relive run --help\nUsage: run\n```\n\nmore\n";
    let found = blocks(chapter);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].prompt, "$ cargo relive run --help");
    assert_eq!(&chapter[found[0].text.clone()], "Usage: run\n");
    assert_eq!(as_written("a  \nb\n\n"), "a\nb\n");
}

/// Messages and templates name the guide's chapters and sections: they are there.
#[test]
fn the_chapters_and_sections_that_messages_name_exist() {
    for (chapter, section) in [
        // The slow-rebuild advice, `new --state-crate`'s help, a failed link with relive's
        // speedups.
        (
            "docs/guide/src/fast-reloads.md",
            "Keeping reloads fast as the worker grows",
        ),
        ("docs/guide/src/fast-reloads.md", "How a reload is fast"),
        // The window template's README.
        (
            "docs/guide/src/layouts.md",
            "The two layouts and which to pick",
        ),
    ] {
        let text = std::fs::read_to_string(repo().join(chapter)).unwrap();
        assert!(
            text.lines()
                .any(|line| line.trim_start_matches('#').trim() == section
                    && line.starts_with('#')),
            "{chapter} has no section \"{section}\""
        );
    }
    let summary = std::fs::read_to_string(repo().join("docs/guide/src/SUMMARY.md")).unwrap();
    for line in summary.lines().filter(|l| l.contains("](")) {
        let file = line
            .split("](")
            .nth(1)
            .and_then(|l| l.split(')').next())
            .unwrap();
        assert!(
            repo().join("docs/guide/src").join(file).is_file(),
            "SUMMARY.md lists {file}, which is not there"
        );
    }
}
