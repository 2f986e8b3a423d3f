//! What an inspector asks of a `Worker`, on a real worker build (`fixtures/soak`: maps, strings,
//! an enum, a grid of `u8`): one value set through the worker's decode, or refused with the path;
//! frames that draw without the state moving on; a decode that only checks.

use fixture_base::Context;
use relive::{Error, Worker};
use serde_json::json;

use crate::support::{Fixture, Host};

fn frame(worker: &Worker<dyn Context>) -> u64 {
    worker.state_json().unwrap()["frame"].as_u64().unwrap()
}

#[test]
fn set_state_at_takes_a_fitting_value_and_refuses_others_naming_the_path() {
    let fx = Fixture::new("soak", "inspect_set");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    for _ in 0..10 {
        worker.update(&mut host).unwrap();
    }
    assert_eq!(
        worker.set_state_at("/frame", json!(5000)).unwrap(),
        json!(5000)
    );
    worker.update(&mut host).unwrap();
    assert_eq!(frame(&worker), 5001, "the game plays on from the set value");

    let refused = worker.set_state_at("/frame", json!("abc")).unwrap_err();
    assert!(matches!(refused, Error::Edit { .. }), "{refused:?}");
    assert!(refused.to_string().contains("`/frame`"), "{refused}");
    let missing = worker.set_state_at("/nope", json!(1)).unwrap_err();
    assert_eq!(missing.to_string(), "the state has no value at `/nope`");
    // 300 is an integer like the 0 there, but not a `u8`: the worker's own decode refuses it,
    // with the path, and the state is as it was.
    let before = worker.state_json().unwrap();
    let too_big = worker.set_state_at("/grid/0/0", json!(300)).unwrap_err();
    assert!(too_big.to_string().contains("/grid/0/0"), "{too_big}");
    assert_eq!(worker.state_json().unwrap(), before);
}

#[test]
fn frozen_frames_draw_without_moving_the_state_or_the_history() {
    let fx = Fixture::new("soak", "inspect_frozen");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    worker.keep_history(64 << 20);
    let mut host = Host::default();
    for _ in 0..30 {
        worker.update(&mut host).unwrap();
    }
    let (oldest, newest) = worker.history_frames().unwrap();
    assert_eq!(newest - oldest, 29);
    let lines = host.lines.len();
    for _ in 0..5 {
        worker.update_frozen(&mut host).unwrap();
    }
    assert_eq!(frame(&worker), 30, "paused: the state did not move on");
    assert_eq!(
        worker.history_frames(),
        Some((oldest, newest)),
        "nothing recorded"
    );
    assert!(
        host.lines.len() > lines,
        "the frozen frames still ran update (drew)"
    );

    // The frame of the history drawn while scrubbing: its update runs on frame 10's state.
    worker.update_frozen_at(oldest + 9, &mut host).unwrap();
    // (History entry k holds the state after update k, whose `frame` is k; the update run on
    // it draws frame k + 1.)
    assert_eq!(host.last(), format!("a{}", oldest + 10));
    assert_eq!(frame(&worker), 30, "the state now is back");
}

#[test]
fn paused_frames_encode_the_state_once_and_keep_every_change_made_between_them() {
    let fx = Fixture::new("soak", "inspect_paused");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
    }
    worker.update_frozen(&mut host).unwrap();
    let encoded = worker.last_encode();
    assert!(encoded.is_some());
    for _ in 0..3 {
        worker.update_frozen(&mut host).unwrap();
    }
    assert_eq!(
        worker.last_encode(),
        encoded,
        "a paused frame encoded the state again"
    );
    assert_eq!(frame(&worker), 3);
    // An edit while paused is what the next paused frames go back to.
    worker.set_state_at("/frame", json!(100)).unwrap();
    for _ in 0..2 {
        worker.update_frozen(&mut host).unwrap();
    }
    assert_eq!(frame(&worker), 100, "a paused frame undid the edit");
    // So is a state loaded while paused.
    let loaded = worker.snapshot().unwrap();
    worker.update(&mut host).unwrap();
    worker.update_frozen(&mut host).unwrap();
    assert_eq!(frame(&worker), 101);
    worker.restore(&loaded).unwrap();
    worker.update_frozen(&mut host).unwrap();
    assert_eq!(frame(&worker), 100, "a paused frame undid the restore");
    // Play goes on from there.
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(frame(&worker), 102);
}

#[test]
fn check_state_json_decodes_without_changing_and_lists_an_enum_s_variants() {
    let fx = Fixture::new("soak", "inspect_check");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
    }
    let state = worker.state_json().unwrap();
    let mut probe = state.clone();
    probe["mode"] = json!("relive inspector probe");
    let refusal = worker.check_state_json(&probe).unwrap_err().to_string();
    for variant in ["`Idle`", "`Walking`", "`Named`"] {
        assert!(refusal.contains(variant), "{refusal}");
    }
    let mut fine = state.clone();
    fine["log"][0] = json!("a new line");
    worker.check_state_json(&fine).unwrap();
    assert_eq!(
        worker.state_json().unwrap(),
        state,
        "checking changed nothing"
    );
}
