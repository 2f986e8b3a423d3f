//! The status board: what the game shows, from events and the supervisor's reports.

use super::*;

#[test]
fn a_restored_state_is_said_so_until_something_else_happens() {
    let mut board = Board::default();
    let _ = board.on_event(&Event::Restored {
        version: 1,
        path: "state.snapshot".into(),
    });
    assert_eq!(
        board.status().to_string(),
        "v1 running, on the state restored from its snapshot"
    );
    board.on_supervisor(&serde_json::json!({ "status": "building" }));
    assert_eq!(board.status(), Status::Building { version: 1 });
}

#[test]
fn a_panic_whose_message_changes_every_frame_at_the_same_place_is_one_run() {
    let mut board = Board::default();
    let at = |index: u32| Event::Panicked {
        version: 2,
        function: "update".into(),
        message: format!("index out of bounds: the len is 0 but the index is {index}"),
        location: Some("worker/src/lib.rs:18:21".into()),
        count: 1,
    };
    assert_eq!(board.on_event(&at(1)), Report::Send(None));
    let first = board.status();
    for i in 2..50 {
        assert_eq!(board.on_event(&at(i)), Report::Repeat);
        assert!(!board.status().is_news_since(&first));
    }
    let Report::Send(Some(Event::Panicked { count, .. })) = board.on_event(&Event::Reloaded {
        version: 3,
        state_bytes: 10,
        timings: Default::default(),
    }) else {
        panic!("the run is summarized when it ends")
    };
    assert_eq!(count, 49);
}

fn panic_at(line: u32) -> Event {
    Event::Panicked {
        version: 2,
        function: "update".into(),
        message: "boom".into(),
        location: Some(format!("src/lib.rs:{line}:5")),
        count: 1,
    }
}

#[test]
fn a_repeated_panic_is_counted_and_summarized_once_when_something_else_happens() {
    let mut board = Board::default();
    assert_eq!(board.on_event(&panic_at(3)), Report::Send(None));
    for _ in 0..97 {
        assert_eq!(board.on_event(&panic_at(3)), Report::Repeat);
    }
    assert!(
        board.status().to_string().contains("(98 times)"),
        "{}",
        board.status()
    );
    // An old version leaving memory, or a build starting, is not news: the run goes on.
    assert_eq!(
        board.on_event(&Event::Unloaded { version: 1 }),
        Report::Send(None)
    );
    board.on_supervisor(&serde_json::json!({ "status": "building" }));
    assert_eq!(board.on_event(&panic_at(3)), Report::Repeat);
    assert_eq!(board.on_event(&panic_at(3)), Report::Repeat);
    assert_eq!(board.status(), Status::Building { version: 2 });
    // Another panic ends the run: its summary goes first.
    let Report::Send(Some(Event::Panicked { count, .. })) = board.on_event(&panic_at(4)) else {
        panic!("no summary");
    };
    assert_eq!(count, 100);
    assert_eq!(board.on_event(&panic_at(4)), Report::Repeat);
}

#[test]
fn a_failed_build_names_its_error_and_location_and_the_reload_after_the_fix_clears_it() {
    let mut board = Board::default();
    board.on_supervisor(&serde_json::json!({ "status": "building" }));
    assert_eq!(board.status(), Status::Building { version: 1 });
    board.on_supervisor(&serde_json::json!({
        "status": "build_failed", "error": "expected expression", "location": "worker/src/lib.rs:12:5",
        "rendered": "error: expected expression\n --> worker/src/lib.rs:12:5\n"
    }));
    let shown = board.status().to_string();
    assert!(
        matches!(&board.status(), Status::BuildFailed { rendered: Some(r), .. } if r.contains(" --> ")),
        "the whole error is kept for a panel: {:?}",
        board.status()
    );
    assert!(board.status().is_problem());
    assert_eq!(
        shown,
        "build failed: expected expression at worker/src/lib.rs:12:5 (v1 keeps running)"
    );
    board.on_supervisor(
        &serde_json::json!({ "status": "built", "build_ms": 150.0, "since_edit_ms": 160.0 }),
    );
    let _ = board.on_event(&Event::Reloaded {
        version: 2,
        state_bytes: 10,
        timings: Default::default(),
    });
    let Status::Reloaded {
        version: 2,
        build_ms: Some(build),
        edit_to_effect_ms: Some(effect),
        ..
    } = board.status()
    else {
        panic!("{:?}", board.status());
    };
    assert_eq!(build, 150.0);
    assert!(effect >= 160.0);
    assert!(!board.status().is_problem());
}

#[test]
fn a_loop_shows_its_pass_and_a_failed_build_stays_shown_while_it_plays() {
    let mut board = Board::default();
    let _ = board.on_event(&Event::LoopRecording { version: 1 });
    assert_eq!(board.status().to_string(), "loop: recording (v1 runs)");
    let _ = board.on_event(&Event::LoopPass {
        pass: 1,
        frames: 72,
        version: 1,
    });
    let first = board.status();
    assert_eq!(
        first,
        Status::Looping {
            version: 1,
            pass: 1,
            frames: 72
        }
    );
    let _ = board.on_event(&Event::LoopPass {
        pass: 2,
        frames: 72,
        version: 1,
    });
    assert!(!board.status().is_news_since(&first), "a pass is not news");
    // A build shows while it runs; once built, the loop shows again while the new version
    // waits for the next pass.
    let playing = board.status();
    board.on_supervisor(&serde_json::json!({ "status": "building" }));
    assert_eq!(board.status(), Status::Building { version: 1 });
    board.on_supervisor(&serde_json::json!({ "status": "built", "build_ms": 120.0 }));
    assert_eq!(board.status(), playing);
    board.on_supervisor(&serde_json::json!({ "status": "building" }));
    board.on_supervisor(&serde_json::json!({
        "status": "build_failed", "error": "expected `;`", "location": "worker/src/lib.rs:3:9"
    }));
    let _ = board.on_event(&Event::LoopPass {
        pass: 3,
        frames: 72,
        version: 1,
    });
    assert!(board.status().is_problem(), "{}", board.status());
    let _ = board.on_event(&Event::Reloaded {
        version: 2,
        state_bytes: 10,
        timings: Default::default(),
    });
    let _ = board.on_event(&Event::LoopPass {
        pass: 4,
        frames: 72,
        version: 2,
    });
    assert_eq!(
        board.status().to_string(),
        "loop: pass 4 of 72 frames, played by v2"
    );
    assert!(
        board.status().is_news_since(&first),
        "another version is news"
    );
    let _ = board.on_event(&Event::LoopStopped { passes: 4 });
    assert_eq!(board.status(), Status::Running { version: 2 });
}
