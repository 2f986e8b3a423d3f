//! Loops through the host's API on a real worker: the recorded reads replace the host's live
//! ones, each pass starts from the same state, and a new build waits for the next pass.

use std::time::{Duration, Instant};

use fixture_base::Context;
use relive::{LoopState, Worker};

use crate::support::{Fixture, Host};

#[test]
fn a_loop_replays_the_recorded_reads_from_the_same_start_and_a_new_build_plays_from_the_next_pass()
{
    let fx = Fixture::new("plain", "loop");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    for i in 1..=3 {
        host.input = i;
        worker.update(&mut host).unwrap();
    }
    let err = worker.loop_end().unwrap_err();
    assert!(err.to_string().contains("no loop is recording"), "{err}");

    worker.loop_start().unwrap();
    assert_eq!(worker.loop_state(), LoopState::Armed);
    // The state after each recorded frame, as JSON, taken then.
    let mut recorded = Vec::new();
    for i in 10..15 {
        host.input = i * 7;
        worker.update(&mut host).unwrap();
        recorded.push(worker.state_json().unwrap());
    }
    assert_eq!(worker.loop_state(), LoopState::Recording { frames: 5 });
    assert_eq!(worker.loop_end().unwrap(), 5);

    // The host's live input is ignored while the loop plays: each pass is the recording again.
    host.input = -1;
    for pass in 1..=2 {
        for (frame, then) in recorded.iter().enumerate() {
            worker.update(&mut host).unwrap();
            assert_eq!(
                &worker.state_json().unwrap(),
                then,
                "pass {pass}, frame {frame}"
            );
            assert_eq!(
                worker.loop_state(),
                LoopState::Playing {
                    pass,
                    frame: frame + 1,
                    frames: 5
                }
            );
        }
    }

    // A new build while pass 3 plays: the pass ends with the old code, pass 4 plays the new code
    // from the same start.
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !worker.is_new_build_ready() {
        assert!(Instant::now() < deadline, "the new build was never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    for then in &recorded[2..] {
        worker.update(&mut host).unwrap();
        assert_eq!(&worker.state_json().unwrap(), then);
        assert!(host.last().starts_with("v1 "), "{}", host.last());
    }
    assert_eq!(worker.version(), 1);
    worker.update(&mut host).unwrap();
    assert_eq!(worker.version(), 2);
    assert!(host.last().starts_with("v2 "), "{}", host.last());
    assert_eq!(worker.state_json().unwrap(), recorded[0]);

    // New code that reads more than the recording holds: the extra reads are the host's live
    // answers, and the pass says so, naming the method.
    let events = worker.subscribe();
    fx.edit(
        "state.history.push(ctx.input());",
        "state.history.push(ctx.input());\n    state.history.push(ctx.input());",
    );
    fx.build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !worker.is_new_build_ready() {
        assert!(Instant::now() < deadline, "the new build was never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..10 {
        worker.update(&mut host).unwrap();
    }
    assert_eq!(worker.version(), 3);
    let history = worker.state_json().unwrap()["history"].clone();
    assert_eq!(
        history,
        serde_json::json!([1, 2, 3, 70, -1]),
        "the extra read is live"
    );
    let warning = crate::support::wait_for(&events, "a warning", |e| match e {
        relive::Event::Warning { message } => Some(message.clone()),
        _ => None,
    });
    assert!(
        warning.contains("`input` 5 times more than the recording holds"),
        "{warning}"
    );

    // Rewind waits for the loop to stop; then play is live again, from where the loop was.
    worker.keep_history(1 << 20);
    assert!(worker.rewind(relive::Rewind::Frames(1)).is_err());
    assert_eq!(worker.loop_stop().unwrap(), 6);
    assert_eq!(worker.loop_state(), LoopState::Off);
    host.input = 1000;
    worker.update(&mut host).unwrap();
    let history = worker.state_json().unwrap()["history"].clone();
    let history = history.as_array().unwrap();
    assert_eq!(history[history.len() - 1], 1000);
    assert_eq!(history[history.len() - 2], 1000);
}
