//! The in-window inspector of the window template, used as its user uses it: a real session under
//! Xvfb, F1 to open the panel, xdotool to drag, click and type in it, the state checked through
//! the control socket (`cargo relive state get`), screenshots looked at for the game's square.

use std::path::Path;
use std::time::{Duration, Instant};

use super::quad::{Xvfb, bbox, green, start_on};
use super::{STEP, cargo_relive, edit, new_project_with, test_target};

/// The panel's left edge in the 800×600 window: the game is drawn left of it.
const PANEL: usize = 420;
const W: usize = 800;

/// The value at `pointer` of the running game's state, as JSON text.
fn get(dir: &Path, target: &Path, pointer: &str) -> serde_json::Value {
    let out = cargo_relive(dir, target, &["state", "get", pointer]);
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("state get {pointer}: {text:?}"))
}

fn number(dir: &Path, target: &Path, pointer: &str) -> f64 {
    get(dir, target, pointer)
        .as_f64()
        .unwrap_or_else(|| panic!("{pointer} is not a number"))
}

/// The game's part of a screenshot (left of the panel), the panel blacked out.
fn game_area(mut rgb: Vec<u8>) -> Vec<u8> {
    for (i, px) in rgb.chunks_mut(3).enumerate() {
        if i % W >= PANEL {
            px.copy_from_slice(&[0, 0, 0]);
        }
    }
    rgb
}

/// Waits until `check` holds, for up to 20 s.
fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn window_template_inspector_edits_numbers_strings_colours_variants_options_and_items_keeps_input_from_the_game_pauses_steps_scrubs_and_loops()
 {
    let x = Xvfb::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("panelgame");
    new_project_with(&dir, &["--template", "window"]);
    let shots = test_target("e2e-inspector-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let target = test_target("e2e-inspector");
    let mut s = start_on(&x, &dir, tmp.path(), &target, &[]);
    let xdo = |args: &[&str]| x.key_in("panelgame", args);
    until("the square drawn", || {
        bbox(&game_area(x.screenshot(&shots, "0-start")), green).is_some()
    });

    // F1 opens the panel; the square's x (a float, 200) is the first row of the tree (below the
    // status, the note line, the time controls and the filter).
    xdo(&["key", "F1"]);
    std::thread::sleep(Duration::from_millis(500));
    x.screenshot(&shots, "1-open");
    assert_eq!(number(&dir, &target, "/x"), 200.0);

    // Dragging the number right by 50 pixels moves it by about 50 (one unit a pixel at 200).
    xdo(&["mousemove", "480", "188", "mousedown", "1"]);
    for _ in 0..10 {
        xdo(&["mousemove_relative", "5", "0"]);
        std::thread::sleep(Duration::from_millis(30));
    }
    xdo(&["mouseup", "1"]);
    until("the dragged x in the state", || {
        let v = number(&dir, &target, "/x");
        (230.0..=270.0).contains(&v)
    });
    x.screenshot(&shots, "2-dragged");

    // Typing a number into the same field, with an arrow key held while it has the keyboard:
    // the state gets exactly the typed value, and the game never saw the arrow.
    xdo(&["mousemove", "480", "188", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["key", "ctrl+a"]);
    xdo(&["type", "--delay", "50", "320"]);
    xdo(&["keydown", "Right"]);
    std::thread::sleep(Duration::from_millis(500));
    xdo(&["keyup", "Right"]);
    xdo(&["key", "Return"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        number(&dir, &target, "/x"),
        320.0,
        "the typed value, not moved by the held arrow"
    );
    let typed = bbox(&game_area(x.screenshot(&shots, "3-typed")), green).unwrap();
    assert_eq!(typed.0, 320, "the square is drawn where the state says");

    // A reload keeps the edited state (and the panel stays open: the host never restarted).
    edit(
        &dir.join("worker/src/lib.rs"),
        "const SIZE: f32 = 60.0;",
        "const SIZE: f32 = 40.0;",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    assert_eq!(number(&dir, &target, "/x"), 320.0);
    std::thread::sleep(Duration::from_millis(300));
    x.screenshot(&shots, "3b-reloaded");

    // Pause: the frame counter stops while the square is still drawn; Step plays one frame.
    xdo(&["mousemove", "455", "77", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let paused = number(&dir, &target, "/frames");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(number(&dir, &target, "/frames"), paused, "paused");
    let drawn = bbox(&game_area(x.screenshot(&shots, "4-paused")), green);
    assert!(drawn.is_some_and(|b| b.0 == 320), "{drawn:?}");
    xdo(&["mousemove", "513", "77", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(number(&dir, &target, "/frames"), paused + 1.0, "one step");

    // Play again, move left for a second, then drag the history slider back: the game shows
    // the earlier frame while the state stays; releasing goes back to it for good.
    xdo(&["mousemove", "455", "77", "click", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    xdo(&["mousemove", "200", "400", "keydown", "Left"]);
    std::thread::sleep(Duration::from_millis(700));
    xdo(&["keyup", "Left"]);
    std::thread::sleep(Duration::from_millis(300));
    let now = number(&dir, &target, "/x");
    assert!(now < 320.0, "moved left: {now}");
    // The slider's handle sits at its right end (the newest frame).
    let handle = slider_handle(&x.screenshot(&shots, "5-before-scrub"));
    xdo(&[
        "mousemove",
        &handle.0.to_string(),
        &handle.1.to_string(),
        "mousedown",
        "1",
    ]);
    for _ in 0..20 {
        xdo(&["mousemove_relative", "--", "-4", "0"]);
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(400));
    let shown = bbox(&game_area(x.screenshot(&shots, "6-scrubbing")), green).unwrap();
    assert_eq!(
        number(&dir, &target, "/x"),
        now,
        "scrubbing does not change the state"
    );
    assert!(
        shown.0 as f64 > now + 5.0,
        "the scrubbed frame shows the square further right: {shown:?} vs x {now}"
    );
    xdo(&["mouseup", "1"]);
    until("the rewind on release", || {
        number(&dir, &target, "/x") > now + 5.0
    });
    s.event("rewound", STEP, |e| e["event"] == "rewound");
    x.screenshot(&shots, "7-rewound");

    // A string and a colour join the state (a reload; the new fields start as `Default` says).
    let src = dir.join("worker/src/lib.rs");
    edit(
        &src,
        "    frames: u64,\n}",
        "    frames: u64,\n    label: String,\n    tint_color: [f32; 4],\n}",
    );
    edit(
        &src,
        "            frames: 0,\n",
        "            frames: 0,\n            label: String::new(),\n            tint_color: [0.2, 0.8, 0.4, 1.0],\n",
    );
    edit(
        &src,
        "draw_rectangle(state.x, state.y, SIZE, SIZE, COLOR);",
        "draw_rectangle(state.x, state.y, SIZE, SIZE, Color::from(state.tint_color));\n    \
         draw_text(&state.label, 10.0, 70.0, 30.0, COLOR);",
    );
    s.event("reload with the new fields", STEP, |e| {
        e["event"] == "reloaded"
    });
    let before = number(&dir, &target, "/x");

    // Typing into the string: "dash" holds three of the game's keys (WASD), none reaches it.
    xdo(&["mousemove", "560", "250", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["type", "--delay", "60", "dash"]);
    xdo(&["key", "Return"]);
    until("the typed label", || get(&dir, &target, "/label") == "dash");
    assert_eq!(
        number(&dir, &target, "/x"),
        before,
        "a typed `d` or `a` moved the square"
    );
    x.screenshot(&shots, "8-string");

    // The colour: its swatch opens egui's picker; a click in the picker's square changes it.
    xdo(&["mousemove", "540", "271", "click", "1"]);
    std::thread::sleep(Duration::from_millis(400));
    x.screenshot(&shots, "9-picker");
    xdo(&["mousemove", "600", "347", "click", "1"]);
    until("a picked colour", || {
        get(&dir, &target, "/tint_color") != serde_json::json!([0.2, 0.8, 0.4, 1.0])
    });
    let picked = get(&dir, &target, "/tint_color");
    let channels: Vec<f64> = picked
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    assert!(
        channels.len() == 4 && channels.iter().all(|c| (0.0..=1.0).contains(c)),
        "{picked}"
    );
    xdo(&["key", "Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    x.screenshot(&shots, "10-colour");

    // A loop from the panel: record while Right is held, end it, and it plays with no key held.
    xdo(&["mousemove", "588", "77", "click", "1"]);
    s.event("loop recording", STEP, |e| e["event"] == "loop_recording");
    xdo(&["mousemove", "200", "400", "keydown", "Right"]);
    std::thread::sleep(Duration::from_millis(400));
    xdo(&["keyup", "Right"]);
    xdo(&["mousemove", "570", "77", "click", "1"]);
    let playing = s.event("loop playing", STEP, |e| e["event"] == "loop_playing");
    assert!(
        playing["frames"].as_u64().is_some_and(|f| f > 5),
        "{playing}"
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        seen.insert(number(&dir, &target, "/x") as i64);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        seen.len() > 2,
        "the loop does not move the square: {seen:?}"
    );
    x.screenshot(&shots, "11-loop");

    // The Literals section, below the state: SIZE typed is in the game at once and written into
    // the source as a float; the rebuild behind it agrees.
    let source = || std::fs::read_to_string(&src).unwrap();
    xdo(&["mousemove", "535", "331", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["key", "ctrl+a"]);
    xdo(&["type", "--delay", "50", "90"]);
    xdo(&["key", "Return"]);
    until("SIZE written into the source", || {
        source().contains("const SIZE: f32 = 90.0;")
    });
    let tweaked = s.event("the tweak", STEP, |e| e["event"] == "tweaked");
    assert_eq!(tweaked["literals"][0]["name"], "SIZE", "{tweaked}");
    let square = |r: u8, g: u8, b: u8| g > 100 && g > r + 20 && g > b;
    until("the square drawn 90 high", || {
        bbox(&game_area(x.screenshot(&shots, "12-literal")), square)
            .is_some_and(|b| (88..=92).contains(&(b.3 - b.1 + 1)))
    });
    s.event("the rebuild", STEP, |e| e["event"] == "reloaded");

    // SPEED dragged: in the game while the drag lasts, written once, when let go.
    xdo(&["mousemove", "535", "436", "mousedown", "1"]);
    for _ in 0..10 {
        xdo(&["mousemove_relative", "5", "0"]);
        std::thread::sleep(Duration::from_millis(30));
    }
    xdo(&["mouseup", "1"]);
    until("SPEED written into the source", || {
        !source().contains("const SPEED: f32 = 300.0;")
    });
    let line = source()
        .lines()
        .find(|l| l.starts_with("const SPEED: f32 = "))
        .unwrap()
        .to_owned();
    let speed: f64 = line
        .trim_start_matches("const SPEED: f32 = ")
        .trim_end_matches(';')
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    assert!(speed > 320.0 && line.contains('.'), "{line}");
    let tweaks = std::cell::Cell::new(0);
    s.event("the rebuild", STEP, |e| {
        tweaks.set(tweaks.get() + usize::from(e["event"] == "tweaked"));
        e["event"] == "reloaded"
    });
    assert_eq!(tweaks.get(), 1, "the drag wrote more than once");
    x.screenshot(&shots, "13-dragged-literal");

    // The loop stopped from the panel: live play again, where edits stay.
    xdo(&["mousemove", "693", "77", "click", "1"]);
    s.event("loop stopped", STEP, |e| e["event"] == "loop_stopped");

    // Shapes: an enum's variant picked from the list its decoder gives, an `Option` set, set
    // to `None` and back, a sequence's item added and removed, each checked in the game.
    edit(
        &src,
        "    tint_color: [f32; 4],\n}",
        "    tint_color: [f32; 4],\n    #[serde(with = \"base::engine_serde\")]\n    key: KeyCode,\n    \
         aim: Option<f32>,\n    trail: Vec<u32>,\n}",
    );
    edit(
        &src,
        "            tint_color: [0.2, 0.8, 0.4, 1.0],\n",
        "            tint_color: [0.2, 0.8, 0.4, 1.0],\n            key: KeyCode::Space,\n            \
         aim: None,\n            trail: vec![1, 2],\n",
    );
    s.event("reload with the shapes", STEP, |e| e["event"] == "reloaded");
    until("the new fields", || get(&dir, &target, "/key") == "Space");
    std::thread::sleep(Duration::from_millis(300));
    x.screenshot(&shots, "14-shapes");
    // The key's list (120 names), its fifth entry.
    xdo(&["mousemove", "520", "293", "click", "1"]);
    std::thread::sleep(Duration::from_millis(400));
    x.screenshot(&shots, "15-variants");
    xdo(&["mousemove", "500", "402", "click", "1"]);
    until("the picked variant", || {
        get(&dir, &target, "/key") == "Period"
    });
    // `None`: "set…" opens a box for its value as JSON.
    xdo(&["mousemove", "530", "314", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["mousemove", "550", "335", "click", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    xdo(&["type", "--delay", "60", "2.5"]);
    xdo(&["mousemove", "673", "335", "click", "1"]);
    until("aim set", || get(&dir, &target, "/aim") == 2.5);
    // The sequence opened, an item added (a copy of the last), the middle one removed.
    xdo(&["mousemove", "470", "335", "click", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["mousemove", "485", "396", "click", "1"]);
    until("an item added", || {
        get(&dir, &target, "/trail") == serde_json::json!([1, 2, 2])
    });
    std::thread::sleep(Duration::from_millis(200));
    xdo(&["mousemove", "506", "377", "click", "3"]);
    std::thread::sleep(Duration::from_millis(400));
    x.screenshot(&shots, "16-menu");
    xdo(&["mousemove", "537", "493", "click", "1"]);
    until("the item removed", || {
        get(&dir, &target, "/trail") == serde_json::json!([1, 2])
    });
    // `Set to None` from the value's menu, and `Some` brings the value back.
    xdo(&["mousemove", "493", "314", "click", "3"]);
    std::thread::sleep(Duration::from_millis(400));
    xdo(&["mousemove", "547", "388", "click", "1"]);
    until("aim none", || get(&dir, &target, "/aim").is_null());
    std::thread::sleep(Duration::from_millis(300));
    x.screenshot(&shots, "16b-none");
    xdo(&["mousemove", "530", "314", "click", "1"]);
    until("aim back", || get(&dir, &target, "/aim") == 2.5);
    x.screenshot(&shots, "17-shapes-edited");

    // What was set survives a rebuild.
    edit(
        &src,
        "    state.frames += 1;\n",
        "    state.frames += 1;\n    state.frames += 0;\n",
    );
    s.event("the last reload", STEP, |e| e["event"] == "reloaded");
    assert_eq!(get(&dir, &target, "/key"), "Period");
    assert_eq!(get(&dir, &target, "/aim"), 2.5);
    assert_eq!(get(&dir, &target, "/trail"), serde_json::json!([1, 2]));
}

/// Where the history slider's handle is: the first light pixel from the left on the slider's
/// row (its rail is dark) is the handle's outline.
fn slider_handle(rgb: &[u8]) -> (usize, usize) {
    let y = 98;
    let light = |x: usize| {
        let i = (y * W + x) * 3;
        rgb[i] > 150 && rgb[i + 1] > 150 && rgb[i + 2] > 150
    };
    let left = (PANEL + 10..W).find(|&x| light(x));
    let x = left.expect("the slider's handle is drawn");
    (x + 8, y)
}
