//! A large state with the panel open: read by a copy of the process while the game's frames go
//! on, and shown as it was when the read began.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../relive/tests/it/support.rs"]
mod support;

use std::time::{Duration, Instant};

use fixture_base::Context;
use relive::Worker;
use relive_inspector::Inspector;
use support::{Fixture, Host};

#[test]
fn a_large_state_reaches_the_panel_while_the_games_frames_go_on() {
    let fx = Fixture::new("big", "inspector_large");
    let mut game = Worker::<dyn Context>::open(fx.lib()).unwrap();
    game.keep_history(64 << 20);
    let mut host = Host {
        input: 1_000_000,
        ..Host::default()
    };
    // The history's encode of the first frame measures the state (8 MB: too large to keep).
    game.update(&mut host).unwrap();
    assert!(
        game.history_frames().is_none(),
        "the history kept 8 MB a frame"
    );
    let off = game.history_off().unwrap();
    assert!(
        off.contains("(9.0 MB encoded) is too large to keep 32 frames of in 64 MB")
            && off.contains("`cargo relive run --history 275`"),
        "{off}"
    );
    let measured = game.last_encode();
    let mut inspector = Inspector::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut frames = 0;
    while inspector.reads() == 0 {
        assert!(
            Instant::now() < deadline,
            "the state never reached the panel"
        );
        inspector.update(&mut game, &mut host, true).unwrap();
        frames += 1;
        if frames == 1 {
            // The game changes its state after the read began: the panel shows the state as
            // it was then, whole.
            host.input = 10;
        }
    }
    let state = inspector.state().unwrap();
    let data = state["data"].as_array().unwrap();
    assert_eq!(data.len(), 1_000_000);
    assert_eq!(
        data[999_999],
        999_999u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    assert!(
        frames > 1,
        "the state was read within one frame: the game waited for it"
    );
    assert_eq!(host.lines.len(), frames + 1, "a frame was skipped");
    assert_eq!(
        game.last_encode(),
        measured,
        "the game's thread encoded the state for the panel"
    );
    // The next read sees the state the game has now.
    let reads = inspector.reads();
    while inspector.reads() == reads {
        assert!(Instant::now() < deadline, "the state was not read again");
        inspector.update(&mut game, &mut host, true).unwrap();
    }
    assert_eq!(
        inspector.state().unwrap()["data"].as_array().unwrap().len(),
        10
    );
}
