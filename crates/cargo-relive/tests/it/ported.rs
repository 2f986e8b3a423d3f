//! `examples/ported`: macroquad's own Asteroids, in the engine-direct layout, under `cargo relive
//! run` on Xvfb: an edit of the worker reloads it with the ship, the asteroids and the bullets
//! where they were, read through `cargo relive state get`.

use std::path::Path;
use std::time::Duration;

use super::quad::{Xvfb, start_on};
use super::{cargo_relive, edit, repo, test_target};

/// Copies the `examples/ported` workspace (not its target dir), its path dependencies on relive
/// pointed at this checkout.
fn copy_ported(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() == "target" {
                continue;
            }
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else if entry.file_name() == "Cargo.toml" {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                let crates = format!("{}/crates/", repo().display());
                // Hosts and workers are four levels down, the engine three.
                let text = text
                    .replace("../../../../crates/", &crates)
                    .replace("../../../crates/", &crates);
                std::fs::write(&target, text).unwrap();
            } else if entry.path().extension().is_some_and(|e| e == "rs") {
                // The engine's `#[path]` to the window template's engine_serde.rs (from
                // engine/src/, four levels up to the checkout).
                let text = std::fs::read_to_string(entry.path()).unwrap();
                let crates = format!("{}/crates/", repo().display());
                std::fs::write(
                    &target,
                    text.replace("\"../../../../crates/", &format!("\"{crates}")),
                )
                .unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    copy(&repo().join("examples/ported"), to);
}

fn state(dir: &Path, target: &Path, pointer: &str) -> serde_json::Value {
    let out = cargo_relive(
        dir,
        target,
        &["state", "get", pointer, "-p", "asteroids-host"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ported_asteroids_reloads_an_edit_with_its_ship_and_asteroids_where_they_were() {
    let x = Xvfb::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ported");
    copy_ported(&dir);
    // The window template's target dir: the same macroquad build (same features, same flags).
    let target = test_target("e2e-window");
    let mut s = start_on(&x, &dir, tmp.path(), &target, &["-p", "asteroids-host"]);

    // As in macroquad's original, the game opens on its end screen: Enter starts a round, with
    // asteroids around the ship, which does not move while no other key is pressed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut before = state(&dir, &target, "");
    while before["gameover"] == true {
        assert!(
            std::time::Instant::now() < deadline,
            "Enter started no round: {before}"
        );
        x.key_in("Asteroids", &["keydown", "Return"]);
        std::thread::sleep(Duration::from_millis(150));
        x.key_in("Asteroids", &["keyup", "Return"]);
        before = state(&dir, &target, "");
    }
    let asteroids = before["asteroids"].as_array().unwrap().len();
    assert!(asteroids > 0, "{before}");

    edit(
        &dir.join("asteroids/worker/src/lib.rs"),
        "const SHIP_HEIGHT: f32 = 25.;",
        "const SHIP_HEIGHT: f32 = 50.;",
    );
    let reloaded = s.event("reload", super::STEP, |e| e["event"] == "reloaded");
    assert!(
        reloaded["edit_to_effect_ms"].as_f64().is_some(),
        "{reloaded}"
    );
    let after = state(&dir, &target, "");
    assert_eq!(
        after["ship"]["pos"], before["ship"]["pos"],
        "the ship moved"
    );
    assert_eq!(
        after["asteroids"].as_array().unwrap().len(),
        asteroids,
        "the asteroid field changed"
    );
    assert_eq!(
        after["asteroids"][0]["size"], before["asteroids"][0]["size"],
        "not the same asteroids"
    );

    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
