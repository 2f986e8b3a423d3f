//! The coins terminal game, driven headless through `cargo relive run` as a script would: keys in,
//! one state line per tick out, a source edit that changes how the player moves.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{FIRST_BUILD, STEP, Session, bin, cargo_relive, edit, mkfifo, repo, test_target};

/// The fields of a state line: `tick=3 pos=4,2 score=0 coins=3 msg=…`.
fn fields(line: &str) -> Option<BTreeMap<String, String>> {
    let (head, msg) = line.split_once(" msg=")?;
    let mut map: BTreeMap<String, String> = head
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    map.insert("msg".into(), msg.to_owned());
    map.contains_key("tick").then_some(map)
}

/// A copy of `examples/<name>` as a workspace of its own, depending on this checkout's relive.
pub(crate) fn copy_example(name: &str, to: &Path) {
    let from = repo().join("examples").join(name);
    for krate in ["base", "worker", "host"] {
        std::fs::create_dir_all(to.join(krate).join("src")).unwrap();
        for file in ["Cargo.toml", "src/lib.rs", "src/main.rs"] {
            let src = from.join(krate).join(file);
            if src.exists() {
                std::fs::copy(&src, to.join(krate).join(file)).unwrap();
            }
        }
    }
    let root = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let deps = root
        .split("[workspace.dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let deps = deps.replace(
        "path = \"crates/",
        &format!("path = \"{}/crates/", repo().display()),
    );
    let manifest = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\"base\", \"worker\", \"host\"]\n\n[workspace.dependencies]{deps}\n\n[profile.dev]\ndebug = \"line-tables-only\"\n"
    );
    std::fs::write(to.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), to.join("Cargo.lock")).unwrap();
}

/// A private tmux server running one command in an 100x30 window.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, target: &Path, command: &str) -> Tmux {
        let socket = format!("relive-test-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "100", "-y", "30"])
            .arg(format!(
                "cd {} && CARGO_TARGET_DIR={} {command}",
                dir.display(),
                target.display()
            ))
            .status()
            .expect("tmux is not installed (apt-get install tmux)")
            .success();
        assert!(ok, "tmux did not start");
        Tmux { socket }
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let ok = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", key])
                .status()
                .unwrap()
                .success();
            assert!(ok);
            // One key per refresh of the inspector, as a person types.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Polls the screen until it shows `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("tmux")
                .args(["-L", &self.socket, "capture-pane", "-p"])
                .output()
                .unwrap();
            let screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the screen never showed `{text}`:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The server is usually gone already (the inspector quit, its session ended).
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn coins_game_headless_keeps_its_state_across_an_edit_that_changes_how_it_plays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("coins");
    copy_example("coins", &dir);
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("e2e-examples");
    let mut s = Session::start(&dir, &target, &events, &["-p", "coins-host"]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");

    // Three steps right, one down: one key per tick.
    s.type_keys("ddds");
    let before = s.line("pos=5,3", |l| fields(l).filter(|f| f["pos"] == "5,3"));
    let tick_before: u64 = before["tick"].parse().unwrap();

    // The player now moves two squares per key.
    edit(
        &dir.join("worker/src/lib.rs"),
        "const STEP: u16 = 1;",
        "const STEP: u16 = 2;",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    s.type_keys("d");
    let after = s.line("pos=7,3", |l| fields(l).filter(|f| f["pos"] == "7,3"));
    let tick_after: u64 = after["tick"].parse().unwrap();
    assert!(
        tick_after > tick_before,
        "the tick went back: {tick_before} -> {tick_after}"
    );
    assert_eq!(after["score"], before["score"]);
    assert_eq!(after["coins"], "3");

    // The live state, read and changed from another process, as a script would.
    let relive = |args: &[&str]| {
        let out = cargo_relive(&dir, &target, args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, x, err) = relive(&["state", "get", "/x"]);
    assert_eq!((code, x.as_str()), (Some(0), "7"), "{err}");
    let (code, whole, err) = relive(&["state", "get"]);
    assert_eq!(code, Some(0), "{err}");
    let whole: serde_json::Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(whole["y"], 3);
    assert!(whole["coins"].is_array());
    let (code, _, err) = relive(&["state", "set", "/x", "3"]);
    assert_eq!(code, Some(0), "{err}");
    s.line("pos=3,3", |l| fields(l).filter(|f| f["pos"] == "3,3"));
    // A value that does not fit the state is refused, and nothing changes.
    let (code, _, err) = relive(&["state", "set", "/x", "\"far away\""]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not fit"), "{err}");
    assert!(
        err.contains("`/x` is an integer (3)") && err.contains("is a string"),
        "{err}"
    );
    let (code, x, _) = relive(&["state", "set", "/nothing/here", "1"]);
    assert_eq!((code, x.as_str()), (Some(1), ""));
    assert_eq!(relive(&["state", "get", "/x"]).1, "3");
    // Save, move, load: the saved position comes back.
    let (code, _, err) = relive(&["save", "corner"]);
    assert_eq!(code, Some(0), "{err}");
    s.type_keys("dd");
    s.line("pos=7,3", |l| fields(l).filter(|f| f["pos"] == "7,3"));
    let (code, _, err) = relive(&["load", "corner"]);
    assert_eq!(code, Some(0), "{err}");
    s.line("pos=3,3 after load", |l| {
        fields(l).filter(|f| f["pos"] == "3,3")
    });
    let (code, _, err) = relive(&["load", "no-such-save"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no save named"), "{err}");

    // The interactive inspector, driven in tmux: move to `x`, edit it, see the game move; a value
    // that does not fit is refused on screen.
    let tui = Tmux::start(&dir, &target, &format!("{} relive inspect", bin()));
    tui.wait_for("x: 3");
    tui.keys(&["Down", "Down", "e", "BSpace", "5", "Enter"]);
    s.line("pos=5,3 after the inspector's edit", |l| {
        fields(l).filter(|f| f["pos"] == "5,3")
    });
    tui.wait_for("set /x = 5");
    tui.keys(&["e", "BSpace", "z", "Enter"]);
    tui.wait_for("refused: `/x` is an integer (5); \"z\" is a string");
    tui.keys(&["Down", "Down", "Down", "Left"]);
    let screen = tui.wait_for("▸ coins");
    assert!(screen.contains("worker v"), "{screen}");
    assert_eq!(relive(&["state", "get", "/x"]).1, "5");
    // Scrubbing through the rewind history: `[` a frame back, PgUp a second back, while the
    // game plays on; `r` takes the game there.
    tui.keys(&["["]);
    tui.wait_for("history: ");
    tui.keys(&["PPage"]);
    let back = |screen: &str| -> Option<u64> {
        let at = screen.find(" frames back")?;
        screen[..at].rsplit(' ').next()?.parse().ok()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while back(&tui.wait_for("frames back")).is_none_or(|n| n < 61) {
        assert!(
            std::time::Instant::now() < deadline,
            "PgUp did not go a second back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut newest = 0;
    s.line("a tick before the rewind", |l| {
        newest = fields(l)?["tick"].parse().ok()?;
        Some(())
    });
    tui.keys(&["r"]);
    tui.wait_for("play goes on from there");
    let rewound: u64 = s.line("the tick gone back", |l| {
        let tick: u64 = fields(l)?["tick"].parse().ok()?;
        if tick < newest {
            Some(tick)
        } else {
            newest = tick;
            None
        }
    });
    assert!(rewound + 50 <= newest, "{rewound} after {newest}");
    tui.keys(&["q"]);

    // The host binds a loop to `l`: start, two steps right, play. The three recorded ticks then
    // repeat from the same start with no key typed; `l` again is live play.
    s.type_keys("lddl");
    let mut seen: Vec<String> = Vec::new();
    s.line("three passes of the loop", |l| {
        seen.push(fields(l)?["pos"].clone());
        let n = seen.len();
        // The last 9 ticks: the same 3 positions, 3 times over.
        (n >= 9
            && seen[n - 9..n - 6] == seen[n - 6..n - 3]
            && seen[n - 6..n - 3] == seen[n - 3..]
            && seen[n - 3] != seen[n - 1])
            .then_some(())
    });
    s.type_keys("l");

    // q quits the game; cargo relive ends with it.
    s.type_keys("q");
    let exited = s.event("exit", STEP, |e| e["event"] == "host_exited");
    assert_eq!(exited["code"], 0);
    let status = s.wait_exit(Duration::from_secs(20));
    assert!(status.success());

    // Ship mode: the same game, linked statically, plays the same script.
    let out = cargo_relive(&dir, &target, &["build", "-p", "coins-host"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut game = Command::new(target.join("debug/coins-host"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = game.stdin.take().unwrap();
        stdin.write_all(b"dd\n").unwrap();
        // Ending stdin ends the game once the keys are played.
    }
    let out = game.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Two keys at the edited step of two squares.
    let last = text.lines().last().and_then(fields).unwrap();
    assert_eq!(last["pos"], "6,2", "{text}");
}
