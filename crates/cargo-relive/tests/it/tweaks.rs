//! Live literals: a save that changes only tweakable literals is in effect before any build
//! finishes, and the rebuild behind it keeps the values; anything else builds as before.

use super::*;

const WORKER: &str = r#"use base::Context;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    frames: u64,
    score: u64,
}

pub struct Rgba(f32, f32, f32, f32);
impl Rgba {
    const fn new(r: f32, g: f32, b: f32, a: f32) -> Self {
        Rgba(r, g, b, a)
    }
}

#[relive_worker::tweak]
const STEP: u64 = 1;
#[relive_worker::tweak]
const RATE: f64 = 0.5;
#[relive_worker::tweak]
const COLOR: Rgba = Rgba::new(0.2, 0.8, 0.4, 1.0);

#[relive_worker::tweak]
fn update(ctx: &mut dyn Context, state: &mut State) {
    state.frames += 1;
    if state.frames.is_multiple_of(15) {
        state.score += STEP;
        let label = "score";
        let c = COLOR;
        let rate = RATE * 2.0;
        ctx.show(&format!(
            "{label} {} at {:.1}s: rate {:.2} green {:.2} alpha {:.1}",
            state.score,
            ctx.time(),
            rate,
            c.1,
            c.3 + c.0 - c.0
        ));
    }
}

relive_worker::export! {
    state: State,
    context: dyn Context,
    update: update,
}
"#;

/// The word after `key` in a status line of the game.
fn after(line: &str, key: &str) -> Option<f64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == key)?;
    words.next()?.parse().ok()
}

#[test]
fn a_literal_edit_is_in_effect_before_its_build_and_the_rebuild_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("game");
    new_project(&dir);
    let worker_src = dir.join("worker/src/lib.rs");
    std::fs::write(&worker_src, WORKER).unwrap();
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("tweaks");
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("loaded", FIRST_BUILD, |e| e["event"] == "loaded");
    let (a, _) = s.frame("score ");
    let (b, _) = s.frame("score ");
    assert_eq!(b, a + 1);

    // An integer const: in effect before the build of the edit finishes (the supervisor writes
    // the host's events after that build, so the times say which came first).
    edit(&worker_src, "const STEP: u64 = 1;", "const STEP: u64 = 7;");
    let built = s.event("the edit's build", STEP, |e| e["event"] == "build_finished");
    let tweaked = s.event("the tweak", STEP, |e| e["event"] == "tweaked");
    let effect = tweaked["effect_ms"].as_f64().unwrap();
    let build = built["duration_ms"].as_f64().unwrap();
    assert!(
        effect < build,
        "the tweak took {effect} ms, the build {build} ms"
    );
    let literal = &tweaked["literals"][0];
    assert_eq!(literal["name"], "STEP", "{tweaked}");
    assert_eq!(
        (literal["old"].as_str(), literal["new"].as_str()),
        (Some("1"), Some("7"))
    );
    assert_eq!(literal["at"], "worker/src/lib.rs:19", "{tweaked}");
    assert_eq!(tweaked["version"], 1, "{tweaked}");
    let (c, _) = s.frame("score ");
    let (d, _) = s.frame("score ");
    assert_eq!(d, c + 7, "the tweak is not in effect");
    // The state, read through the control socket, moves by the new step too.
    let score = |dir: &Path| {
        let out = cargo_relive(dir, &target, &["state", "get", "/score"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(
        score(&dir) % 7,
        (c % 7),
        "the state's score does not move by 7"
    );
    // The rebuild behind it is swapped in and keeps the value.
    s.event("the rebuild", STEP, |e| e["event"] == "reloaded");
    let (e1, _) = s.frame("score ");
    let (e2, _) = s.frame("score ");
    assert_eq!(e2, e1 + 7, "the rebuilt version lost the value");

    // A string in the function, a float const and a colour constructor's argument at once.
    let text = std::fs::read_to_string(&worker_src).unwrap();
    let text = text
        .replace("let label = \"score\";", "let label = \"points\";")
        .replace("const RATE: f64 = 0.5;", "const RATE: f64 = 0.75;")
        .replace(
            "Rgba::new(0.2, 0.8, 0.4, 1.0)",
            "Rgba::new(0.2, 0.1, 0.4, 1.0)",
        );
    std::fs::write(&worker_src, text).unwrap();
    let tweaked = s.event("three tweaks", STEP, |e| e["event"] == "tweaked");
    let names: Vec<&str> = tweaked["literals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["RATE", "COLOR#1", "update#2"], "{tweaked}");
    let line = s.line("the tweaked line", |l| {
        l.starts_with("points ").then(|| l.to_owned())
    });
    assert_eq!(after(&line, "rate"), Some(1.5), "{line}");
    assert_eq!(after(&line, "green"), Some(0.1), "{line}");
    s.event("the rebuild", STEP, |e| e["event"] == "reloaded");

    // A literal and a code change in one save: the build alone, no tweak.
    let text = std::fs::read_to_string(&worker_src)
        .unwrap()
        .replace("const STEP: u64 = 7;", "const STEP: u64 = 3;")
        .replace(
            "state.frames += 1;",
            "state.frames += 1;\n    state.frames += 0;",
        );
    std::fs::write(&worker_src, text).unwrap();
    s.event("the mixed edit's reload", STEP, |e| {
        assert_ne!(e["event"], "tweaked", "a code change was taken as a tweak");
        e["event"] == "reloaded"
    });
    let (f1, _) = s.frame("points ");
    let (f2, _) = s.frame("points ");
    assert_eq!(f2, f1 + 3);

    // An integer literal made a float takes the build, whose error is shown; nothing applied.
    edit(
        &worker_src,
        "const STEP: u64 = 3;",
        "const STEP: u64 = 3.5;",
    );
    s.event("the failed build", STEP, |e| {
        assert_ne!(e["event"], "tweaked", "a changed kind was taken as a tweak");
        e["event"] == "build_finished" && e["success"] == false
    });
    let (g1, _) = s.frame("points ");
    let (g2, _) = s.frame("points ");
    assert_eq!(g2, g1 + 3, "a half-applied edit");
}

#[test]
fn write_back_sets_a_literal_in_the_game_and_the_source_and_never_writes_over_an_unread_save() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("game");
    new_project(&dir);
    let worker_src = dir.join("worker/src/lib.rs");
    std::fs::write(&worker_src, WORKER).unwrap();
    let events = tmp.path().join("events");
    mkfifo(&events);
    let target = test_target("tweaks-write");
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("loaded", FIRST_BUILD, |e| e["event"] == "loaded");
    let tweak = |args: &[&str]| {
        let out = cargo_relive(&dir, &target, &[&["tweak"], args].concat());
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    // The list: each literal by the name the user gives it, with its value and place.
    let (ok, list) = tweak(&[]);
    assert!(ok, "{list}");
    let step = list.lines().find(|l| l.starts_with("STEP ")).unwrap_or("");
    assert!(
        step.contains(" 1 ") && step.contains("(int, worker/src/lib.rs:19:"),
        "{list}"
    );
    assert!(list.lines().any(|l| l.starts_with("update#2 ")), "{list}");

    // Set from the command line: in the game at once, in the file as the user would write it,
    // sent once (the save the session made itself is not taken as a second tweak).
    let (ok, said) = tweak(&["STEP", "4"]);
    assert!(ok && said.contains("in the game now"), "{said}");
    let text = std::fs::read_to_string(&worker_src).unwrap();
    assert!(text.contains("const STEP: u64 = 4;"), "{text}");
    let tweaks = std::cell::Cell::new(0);
    s.event("the rebuild", STEP, |e| {
        tweaks.set(tweaks.get() + usize::from(e["event"] == "tweaked"));
        e["event"] == "reloaded"
    });
    assert_eq!(tweaks.get(), 1, "one write-back, {} tweaks", tweaks.get());
    let (a, _) = s.frame("score ");
    let (b, _) = s.frame("score ");
    assert_eq!(b, a + 4, "the rebuilt version lost the value");

    // A negative float where a positive one was, written as a float.
    let (ok, said) = tweak(&["RATE", "-2"]);
    assert!(ok, "{said}");
    let text = std::fs::read_to_string(&worker_src).unwrap();
    assert!(text.contains("const RATE: f64 = -2.0;"), "{text}");
    let line = s.line("the tweaked rate", |l| {
        (l.starts_with("score ") && after(l, "rate") == Some(-4.0)).then(|| l.to_owned())
    });
    assert!(line.contains("rate -4.00"), "{line}");

    // Bad input: a value of another kind, a name that is not there. Nothing written.
    let before = std::fs::read_to_string(&worker_src).unwrap();
    let (ok, said) = tweak(&["STEP", "2.5"]);
    assert!(!ok && said.contains("`2.5` is not an integer"), "{said}");
    let (ok, said) = tweak(&["SPEED", "2"]);
    assert!(
        !ok && said.contains("no tweakable literal is named `SPEED`") && said.contains("STEP"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&worker_src).unwrap(), before);

    // An editor saving while write-backs come: every save of the editor is kept, each
    // write-back is either refused (the session had not read the save) or made on top of it.
    let mut refused = 0;
    for i in 0..6 {
        let text = std::fs::read_to_string(&worker_src).unwrap();
        std::fs::write(&worker_src, format!("{text}// edit {i}\n")).unwrap();
        let value = format!("0.{}", i + 1);
        let (ok, said) = tweak(&["RATE", &value]);
        let now = std::fs::read_to_string(&worker_src).unwrap();
        assert!(
            now.contains(&format!("// edit {i}\n")),
            "save {i} was lost: {said}\n{now}"
        );
        if ok {
            assert!(
                now.contains(&format!("const RATE: f64 = {value};")),
                "{said}\n{now}"
            );
        } else {
            assert!(said.contains("nothing was written"), "{said}");
            refused += 1;
        }
    }
    eprintln!("{refused} of 6 write-backs refused (saves relive had not read yet)");

    // A save that comes while a build runs (the session reads it only after the build): a
    // write-back that arrives meanwhile is refused, and that save is kept as the editor wrote it.
    let text = std::fs::read_to_string(&worker_src).unwrap();
    std::fs::write(
        &worker_src,
        text.replace(
            "state.frames += 1;",
            "state.frames += 1;\n    state.frames += 0;",
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let editor = std::fs::read_to_string(&worker_src).unwrap() + "// saved during the build\n";
    std::fs::write(&worker_src, &editor).unwrap();
    let (ok, said) = tweak(&["RATE", "0.9"]);
    assert!(
        !ok && said.contains("nothing was written"),
        "a write-back over a save relive had not read: {said}"
    );
    assert_eq!(std::fs::read_to_string(&worker_src).unwrap(), editor);
    let final_text = std::fs::read_to_string(&worker_src).unwrap();
    s.event("the last reload", STEP, |e| e["event"] == "reloaded");
    let (c, _) = s.frame("score ");
    let (d, _) = s.frame("score ");
    assert_eq!(d, c + 4, "{final_text}");
}
