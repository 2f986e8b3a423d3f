//! The macroquad game in a real window under Xvfb: keys sent with xdotool, screenshots taken with
//! ImageMagick's `import`, pixels compared before and after a reload. `.ci/run` installs
//! `xvfb libgl1-mesa-dri imagemagick xdotool`; without them this test fails and says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::coins::copy_example;
use super::{
    FIRST_BUILD, STEP, Session, cargo_relive, edit, mkfifo, new_project_with, test_target,
};

const W: usize = 800;
const H: usize = 600;

/// An X server of our own, killed with the test.
pub(crate) struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    pub(crate) fn start() -> Xvfb {
        // One display per server: the tests of this process run at once, each with its own.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let mut n;
        loop {
            let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            n = 100 + (std::process::id() % 4000) * 8 + k % 8;
            if !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                break;
            }
            assert!(k < 64, "no free X display number near :{n}");
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([
                &display,
                "-screen",
                "0",
                &format!("{W}x{H}x24"),
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "Xvfb is not installed (apt-get install xvfb libgl1-mesa-dri imagemagick xdotool)",
            );
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "Xvfb did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Xvfb { child, display }
    }

    pub(crate) fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", &self.display);
        cmd
    }

    /// The screen as RGB bytes, also saved as PNG under `name`.
    pub(crate) fn screenshot(&self, dir: &Path, name: &str) -> Vec<u8> {
        let raw = dir.join(format!("{name}.rgb"));
        let ok = self
            .command("import")
            .args(["-window", "root", "-depth", "8"])
            .arg(format!("rgb:{}", raw.display()))
            .status()
            .expect("ImageMagick's import is not installed")
            .success();
        assert!(ok, "import failed");
        let _ = self
            .command("import")
            .args(["-window", "root"])
            .arg(dir.join(format!("{name}.png")))
            .status();
        let bytes = std::fs::read(raw).unwrap();
        assert_eq!(bytes.len(), W * H * 3);
        bytes
    }

    fn key(&self, args: &[&str]) {
        self.key_in("relive: quad", args);
    }

    /// Sends `xdotool ARGS` to the window titled `title`.
    pub(crate) fn key_in(&self, title: &str, args: &[&str]) {
        let window = self
            .command("xdotool")
            .args(["search", "--name", title])
            .output()
            .unwrap();
        let window = String::from_utf8_lossy(&window.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        assert!(!window.is_empty(), "no game window");
        let _ = self
            .command("xdotool")
            .args(["windowfocus", "--sync", &window])
            .status();
        assert!(
            self.command("xdotool")
                .args(args)
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bounding box (min x, min y, max x, max y) of the pixels `pick` accepts, below the status lines.
pub(crate) fn bbox(
    rgb: &[u8],
    pick: impl Fn(u8, u8, u8) -> bool,
) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for y in 80..H {
        for x in 0..W {
            let i = (y * W + x) * 3;
            if pick(rgb[i], rgb[i + 1], rgb[i + 2]) {
                b = Some(match b {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
    }
    b
}

pub(crate) fn green(r: u8, g: u8, b: u8) -> bool {
    g > 150 && r < 120 && b < 150
}

pub(crate) fn red(r: u8, g: u8, b: u8) -> bool {
    r > 180 && g < 120 && b < 120
}

/// Takes screenshots until `pick` finds pixels, for up to 60 s.
pub(crate) fn wait_for_pixels(
    x: &Xvfb,
    dir: &Path,
    name: &str,
    pick: fn(u8, u8, u8) -> bool,
) -> (usize, usize, usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(b) = bbox(&x.screenshot(dir, name), pick) {
            return b;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the expected pixels never showed"
        );
    }
}

/// [`wait_for_pixels`], then until they stay where they are: a key released is seen at the host's
/// next frame (60 a second), so a screenshot right after the key-up can catch the last step.
fn wait_until_still(
    x: &Xvfb,
    dir: &Path,
    name: &str,
    pick: fn(u8, u8, u8) -> bool,
) -> (usize, usize, usize, usize) {
    let mut last = wait_for_pixels(x, dir, name, pick);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = wait_for_pixels(x, dir, name, pick);
        if now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the pixels never settled"
        );
        last = now;
    }
}

/// Starts `cargo relive run ARGS` in `dir` on the display of `x` and waits until the worker is
/// loaded; its events go through a FIFO in `tmp`.
pub(crate) fn start_on(x: &Xvfb, dir: &Path, tmp: &Path, target: &Path, args: &[&str]) -> Session {
    let events = tmp.join("events");
    mkfifo(&events);
    let mut s = Session::start_with_env(dir, target, &events, args, &[("DISPLAY", &x.display)]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.event("loaded", STEP, |e| e["event"] == "loaded");
    s
}

#[test]
fn quad_game_in_a_window_moves_with_keys_reloads_with_its_position_and_quicksaves() {
    let x = Xvfb::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("quad");
    copy_example("quad", &dir);
    let shots = test_target("e2e-quad-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let target = test_target("e2e-examples");
    let mut s = start_on(&x, &dir, tmp.path(), &target, &["-p", "quad-host"]);

    // The text is drawn, then moves right while D is held.
    let before = wait_for_pixels(&x, &shots, "1-start", green);
    x.key(&["keydown", "d"]);
    std::thread::sleep(Duration::from_millis(400)); // holding the key is the input
    x.key(&["keyup", "d"]);
    let moved = wait_until_still(&x, &shots, "2-moved", green);
    assert!(
        moved.0 > before.0 + 30,
        "the text did not move right: {before:?} -> {moved:?}"
    );

    // F5 saves the game where it is.
    x.key(&["key", "F5"]);
    let save = dir.join("quicksave.relive");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !save.exists() {
        assert!(Instant::now() < deadline, "F5 wrote no {}", save.display());
        std::thread::sleep(Duration::from_millis(20));
    }

    // New text in a new color: it appears where the old text was.
    let src = dir.join("worker/src/lib.rs");
    edit(
        &src,
        "const TEXT: &str = \"hello relive\";",
        "const TEXT: &str = \"hot reloaded!\";",
    );
    edit(
        &src,
        "const COLOR: Color = [0.1, 0.9, 0.3, 1.0];",
        "const COLOR: Color = [1.0, 0.2, 0.2, 1.0];",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    let reloaded = wait_for_pixels(&x, &shots, "3-reloaded", red);
    assert!(
        bbox(&x.screenshot(&shots, "3-reloaded"), green).is_none(),
        "the old text is still drawn"
    );
    assert!(
        reloaded.0.abs_diff(moved.0) <= 4 && reloaded.1.abs_diff(moved.1) <= 12,
        "the position was lost: {moved:?} -> {reloaded:?}"
    );

    // Walk away, then F9 brings the saved position back (in the new code's colors).
    x.key(&["keydown", "s"]);
    std::thread::sleep(Duration::from_millis(300));
    x.key(&["keyup", "s"]);
    let away = wait_until_still(&x, &shots, "4-away", red);
    assert!(
        away.1 > reloaded.1 + 20,
        "the text did not move down: {reloaded:?} -> {away:?}"
    );
    x.key(&["key", "F9"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let back = wait_for_pixels(&x, &shots, "5-loaded", red);
        if back.1.abs_diff(reloaded.1) <= 12 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "F9 did not restore the position: {back:?}, saved {reloaded:?}"
        );
    }

    // Ship mode: the same game linked statically draws the same way.
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
    let out = cargo_relive(&dir, &target, &["build", "-p", "quad-host"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ship = x
        .command(target.join("debug/quad-host").to_str().unwrap())
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let shipped = wait_for_pixels(&x, &shots, "6-ship", red);
    let _ = ship.kill();
    let _ = ship.wait();
    assert!(
        shipped.0.abs_diff(before.0) <= 4,
        "the ship build starts elsewhere: {shipped:?} vs {before:?}"
    );
}

#[test]
fn window_template_worker_draws_itself_reloads_in_place_and_survives_an_engine_panic() {
    let x = Xvfb::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("windowgame");
    new_project_with(&dir, &["--template", "window"]);
    let shots = test_target("e2e-window-shots");
    std::fs::create_dir_all(&shots).unwrap();
    // Its own target dir: the engine-direct layout builds with `-C prefer-dynamic`.
    let target = test_target("e2e-window");
    let mut s = start_on(&x, &dir, tmp.path(), &target, &[]);

    // The worker links the shared engine library and std, not its own copies.
    let staged = target.join("relive/host/stage");
    let needed = relive::shared_libs::needed(&staged.join("libworker.so"));
    assert!(
        needed.iter().any(|n| n == "libbase.so") && needed.iter().any(|n| n.starts_with("libstd-")),
        "{needed:?}"
    );
    assert!(staged.join("lib/libbase.so").is_file());

    let before = wait_for_pixels(&x, &shots, "1-start", green);
    x.key_in("windowgame", &["keydown", "Right"]);
    std::thread::sleep(Duration::from_millis(400)); // holding the key is the input
    x.key_in("windowgame", &["keyup", "Right"]);
    let moved = wait_until_still(&x, &shots, "2-moved", green);
    assert!(
        moved.0 > before.0 + 30,
        "the square did not move right: {before:?} -> {moved:?}"
    );

    let src = dir.join("worker/src/lib.rs");
    edit(
        &src,
        "const COLOR: Color = Color::new(0.2, 0.8, 0.4, 1.0);",
        "const COLOR: Color = Color::new(1.0, 0.2, 0.2, 1.0);",
    );
    s.event("reload", STEP, |e| e["event"] == "reloaded");
    let reloaded = wait_for_pixels(&x, &shots, "3-reloaded", red);
    assert!(
        bbox(&x.screenshot(&shots, "3-reloaded"), green).is_none(),
        "the old square is still drawn"
    );
    assert_eq!(
        reloaded, moved,
        "the square moved or changed size in the reload"
    );

    // macroquad panics inside its own code, called by the worker: caught like a worker panic,
    // reported with macroquad's file; the fix runs on with the state.
    edit(
        &src,
        "    state.frames += 1;\n",
        "    state.frames += 1;\n    let _ = Texture2D::from_file_with_format(&[0u8; 4], None);\n",
    );
    let panic = s.event("engine panic", STEP, |e| e["event"] == "panicked");
    assert!(
        panic["location"]
            .as_str()
            .is_some_and(|l| l.contains("macroquad") && l.contains("texture.rs")),
        "{panic}"
    );
    edit(
        &src,
        "    let _ = Texture2D::from_file_with_format(&[0u8; 4], None);\n",
        "",
    );
    s.event("fixed", STEP, |e| e["event"] == "reloaded");
    let fixed = wait_for_pixels(&x, &shots, "4-fixed", red);
    assert_eq!(fixed, moved, "the state was lost with the panic");

    // A crash: the staged host (and its staged engine library) start again from the snapshot.
    let host = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_link(e.path().join("exe")).is_ok_and(|exe| exe == staged.join("host"))
        })
        .and_then(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .expect("the staged host runs");
    std::thread::sleep(Duration::from_millis(600)); // a snapshot with the square where it is
    // SAFETY: killing the host process this session started.
    unsafe { libc::kill(host, libc::SIGKILL) };
    s.event("restarted", STEP, |e| {
        e["event"] == "host_started" && e["restored_from"].is_string()
    });
    let restarted = wait_for_pixels(&x, &shots, "5-restarted", red);
    assert_eq!(restarted, moved, "the crash restart lost the position");

    // A loop records what the worker reads from macroquad (the template's `reads!`), by
    // whichever path the worker reaches it (here `base::input::is_key_down`, not the prelude's):
    // Right held while recording, the square moves right on every pass with no key held, from
    // where the recording started.
    edit(
        &src,
        "keys.into_iter().any(is_key_down)",
        "keys.into_iter().any(base::input::is_key_down)",
    );
    s.event("the read through base::input", STEP, |e| {
        e["event"] == "reloaded"
    });
    let square_x = || -> f64 {
        let out = cargo_relive(&dir, &target, &["state", "get", "/x"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().unwrap_or_else(|_| panic!("{text:?}"))
    };
    let out = cargo_relive(&dir, &target, &["loop", "start"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.event("recording", STEP, |e| e["event"] == "loop_recording");
    let start_x = square_x();
    x.key_in("windowgame", &["keydown", "Right"]);
    std::thread::sleep(Duration::from_millis(500));
    x.key_in("windowgame", &["keyup", "Right"]);
    std::thread::sleep(Duration::from_millis(200));
    let end_x = square_x();
    assert!(end_x > start_x + 30.0, "{start_x} -> {end_x}");
    let out = cargo_relive(&dir, &target, &["loop", "end"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.event("third pass", STEP, |e| {
        e["event"] == "loop_pass" && e["pass"].as_u64() >= Some(3)
    });
    let seen: Vec<f64> = (0..8)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(90));
            square_x()
        })
        .collect();
    let (low, high) = seen
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(
        low >= start_x - 0.01 && high <= end_x + 0.01 && high - low > 10.0,
        "played back {seen:?}, recorded from {start_x} to {end_x}"
    );
    let out = cargo_relive(&dir, &target, &["loop", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.event("stopped", STEP, |e| e["event"] == "loop_stopped");

    engine_types_in_the_state_survive_a_reload(&mut s, &dir, &target);

    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));

    // The ship build links everything in: no std, no engine library at run time.
    let out = cargo_relive(&dir, &target, &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let needed = relive::shared_libs::needed(&target.join("debug/host"));
    assert!(
        !needed
            .iter()
            .any(|n| n.starts_with("libstd-") || n == "libbase.so"),
        "{needed:?}"
    );
    // Nothing of loops is compiled in: the wrapped reads call macroquad and nothing else.
    let symbols = std::process::Command::new("nm")
        .arg(target.join("debug/host"))
        .output()
        .expect("nm (binutils) is not installed");
    let symbols = String::from_utf8_lossy(&symbols.stdout);
    assert!(symbols.contains("is_key_down"), "nm found no symbols");
    assert!(
        !symbols.contains("relive_tape"),
        "{:?}",
        symbols
            .lines()
            .filter(|l| l.contains("relive_tape"))
            .collect::<Vec<_>>()
    );
    // Nor the inspector: no egui (the panel's UI) and none of its drawing code.
    let inspector: Vec<_> = symbols
        .lines()
        .filter(|l| l.contains("egui") || l.contains("relive_inspector"))
        .collect();
    assert!(inspector.is_empty(), "{inspector:?}");
}

/// macroquad's value types in the state: a `Rect` without glue is refused with what to write,
/// at the field; with `#[serde(with = "base::engine_serde")]` each type (and containers of them)
/// is carried across a reload, values set from outside included; a `Texture2D` is skipped.
fn engine_types_in_the_state_survive_a_reload(s: &mut Session, dir: &Path, target: &Path) {
    let src = dir.join("worker/src/lib.rs");
    edit(
        &src,
        "    frames: u64,\n}",
        "    frames: u64,\n    rect: Rect,\n}",
    );
    edit(
        &src,
        "            frames: 0,\n",
        "            frames: 0,\n            rect: Rect::new(1.0, 2.0, 3.0, 4.0),\n",
    );
    let failed = s.event("the refused Rect", STEP, |e| {
        e["event"] == "build_finished" && e["success"] == false
    });
    let help = failed["first_error"]["help"].as_str().unwrap_or_default();
    let field_line = std::fs::read_to_string(&src)
        .unwrap()
        .lines()
        .position(|l| l == "    rect: Rect,")
        .unwrap()
        + 1;
    assert!(
        help.contains("`#[serde(with = \"base::engine_serde\")]` on the field at")
            && help.contains(&format!("worker/src/lib.rs:{field_line}:")),
        "{failed}"
    );

    let with = "    #[serde(with = \"base::engine_serde\")]\n";
    edit(
        &src,
        "    rect: Rect,\n",
        &format!(
            "{with}    rect: Rect,\n{with}    color: Color,\n{with}    key: KeyCode,\n\
             {with}    palette: [Color; 2],\n{with}    spot: Option<Circle>,\n\
             {with}    bindings: std::collections::HashMap<KeyCode, String>,\n\
             {with}    clicks: Vec<(Vec2, MouseButton)>,\n{with}    margin: RectOffset,\n\
             {with}    phase: TouchPhase,\n    at: Vec2,\n    #[serde(skip)]\n    texture: Option<Texture2D>,\n"
        ),
    );
    edit(
        &src,
        "            rect: Rect::new(1.0, 2.0, 3.0, 4.0),\n",
        "            rect: Rect::new(1.0, 2.0, 3.0, 4.0),\n            color: Color::new(0.5, 0.25, 0.125, 1.0),\n\
         \x20           key: KeyCode::Space,\n            palette: [RED, BLUE],\n\
         \x20           spot: Some(Circle::new(5.0, 6.0, 7.0)),\n\
         \x20           bindings: [(KeyCode::Q, \"quit\".to_owned())].into(),\n\
         \x20           clicks: vec![(vec2(1.0, 2.0), MouseButton::Right)],\n\
         \x20           margin: RectOffset::new(1.0, 2.0, 3.0, 4.0),\n\
         \x20           phase: TouchPhase::Moved,\n            at: vec2(8.0, 9.0),\n            texture: None,\n",
    );
    s.event("the state with engine types", STEP, |e| {
        e["event"] == "reloaded"
    });
    let get = |pointer: &str| -> serde_json::Value {
        let out = cargo_relive(dir, target, &["state", "get", pointer]);
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).unwrap_or_else(|_| {
            panic!(
                "{pointer}: {text:?} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let set = |pointer: &str, value: &str| {
        let out = cargo_relive(dir, target, &["state", "set", pointer, value]);
        assert!(
            out.status.success(),
            "{pointer} = {value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The state made before these fields existed takes them from `Default`; set some from outside.
    assert_eq!(
        get("/rect"),
        serde_json::json!({"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0})
    );
    assert_eq!(get("/key"), serde_json::json!("Space"));
    set("/key", "\"F5\"");
    set("/palette/1/r", "0.75");
    set("/spot", "null");
    set("/rect/w", "30");

    // A rebuild: what was set is what the new code has.
    edit(
        &src,
        "    state.frames += 1;\n",
        "    state.frames += 1;\n    state.frames += 0;\n",
    );
    s.event("the rebuild", STEP, |e| e["event"] == "reloaded");
    assert_eq!(get("/key"), serde_json::json!("F5"));
    assert_eq!(get("/palette/1/r"), serde_json::json!(0.75));
    let red = get("/palette/0");
    assert!(
        red["r"].as_f64().is_some_and(|r| (r - 0.9).abs() < 1e-6) && red["a"] == 1.0,
        "{red}"
    );
    assert_eq!(get("/spot"), serde_json::Value::Null);
    assert_eq!(get("/rect/w"), serde_json::json!(30.0));
    assert_eq!(get("/bindings"), serde_json::json!({"Q": "quit"}));
    assert_eq!(get("/clicks"), serde_json::json!([[[1.0, 2.0], "Right"]]));
    assert_eq!(get("/margin/top"), serde_json::json!(3.0));
    assert_eq!(get("/phase"), serde_json::json!("Moved"));
    assert_eq!(get("/at"), serde_json::json!([8.0, 9.0]));
    assert_eq!(get("/color/b"), serde_json::json!(0.125));
}
