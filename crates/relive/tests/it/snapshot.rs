//! Snapshots: the live state written to a file (binary or JSON) and read back through the worker's
//! own tolerant decode; a damaged file or an ill-fitting value never touches the state.

use fixture_base::Context;
use relive::{Error, Format, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host};

#[test]
fn snapshot_restores_the_state_in_both_formats_and_refuses_damage() {
    let fx = Fixture::new("plain", "snapshot");
    let dir = tempfile::tempdir().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 5,
        ..Host::default()
    };
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
    }
    let bin = dir.path().join("quick.save");
    let json = dir.path().join("quick.json");
    worker.save_snapshot(&bin, Format::Binary).unwrap();
    worker.save_snapshot(&json, Format::Json).unwrap();
    let text = std::fs::read_to_string(&json).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["state"]["counter"], 3);
    assert_eq!(doc["state"]["history"], serde_json::json!([5, 5, 5]));
    assert!(doc["state_type"].as_str().unwrap().ends_with("::State"));
    assert!(text.contains("\n  \"state\": {\n"), "not pretty:\n{text}");

    for path in [&bin, &json] {
        for _ in 0..4 {
            worker.update(&mut host).unwrap();
        }
        assert!(host.last().contains("counter=7"), "{}", host.last());
        worker.load_snapshot(path).unwrap();
        worker.update(&mut host).unwrap();
        assert_eq!(host.last(), "v1 counter=4 label= inputs=4");
        worker.load_snapshot(path).unwrap();
    }

    // Damaged files: refused, state untouched.
    let mut damaged = std::fs::read(&bin).unwrap();
    let last = damaged.len() - 20;
    damaged[last] ^= 1;
    let bad = dir.path().join("bad.save");
    std::fs::write(&bad, &damaged).unwrap();
    assert!(matches!(
        worker.load_snapshot(&bad),
        Err(Error::BadSnapshot { .. })
    ));
    std::fs::write(&bad, &std::fs::read(&bin).unwrap()[..40]).unwrap();
    assert!(matches!(
        worker.load_snapshot(&bad),
        Err(Error::BadSnapshot { .. })
    ));
    std::fs::write(&bad, "{\"relive_snapshot\": 1, \"state_type\": \"x\", \"state_version\": 0, \"state\": {\"counter\": \"many\"}}").unwrap();
    assert!(matches!(
        worker.load_snapshot(&bad),
        Err(Error::BadValue { .. })
    ));
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=4 label= inputs=4");
}

#[test]
fn state_json_edits_go_through_the_worker_decode_and_bad_values_change_nothing() {
    let fx = Fixture::new("plain", "json_edit");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    let mut state = worker.state_json().unwrap();
    state["counter"] = serde_json::json!(41);
    state["label"] = serde_json::json!("edited");
    worker.set_state_json(&state).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=42 label=edited inputs=2");

    let err = worker
        .set_state_json(&serde_json::json!({"counter": -3}))
        .unwrap_err();
    assert!(matches!(err, Error::BadValue { .. }), "{err}");
    assert!(err.to_string().contains("state is unchanged"), "{err}");
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=43 label=edited inputs=3");

    // A missing field takes its default: the same tolerance as a reload.
    worker
        .set_state_json(&serde_json::json!({"counter": 1}))
        .unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=1");

    // A reset is explicit.
    worker.reset().unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=1 label= inputs=1");
}

#[test]
fn a_snapshot_of_an_old_version_loads_into_a_new_one_with_a_field_added() {
    let fx = Fixture::new("plain", "snapshot_schema");
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("old.save");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    worker.save_snapshot(&save, Format::Binary).unwrap();

    fx.edit("// EDIT: fields", "pub lives: u32,");
    fx.edit("// EDIT: defaults", "lives: 3,");
    fx.edit(
        "let tag = \"v1\";",
        "let tag = format!(\"lives{}\", state.lives);",
    );
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    for _ in 0..5 {
        worker.update(&mut host).unwrap();
    }
    worker.load_snapshot(&save).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "lives3 counter=2 label= inputs=2");
}

#[test]
fn rewind_restores_the_exact_state_of_n_frames_ago_and_play_goes_on_from_there() {
    let fx = crate::support::Fixture::new("plain", "rewind");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    assert!(
        worker.rewind(relive::Rewind::Frames(1)).is_err(),
        "no history kept yet"
    );
    worker.keep_history(1 << 20);
    // The state after each frame, as JSON, taken then.
    let mut dumps = Vec::new();
    for i in 1..=30 {
        host.input = i;
        worker.update(&mut host).unwrap();
        dumps.push(worker.state_json().unwrap());
    }
    assert_eq!(worker.rewind(relive::Rewind::Frames(10)).unwrap(), 10);
    assert_eq!(
        worker.status().unwrap().to_string(),
        "rewound 10 frames (v1 runs)"
    );
    assert_eq!(
        worker.state_json().unwrap(),
        dumps[19],
        "not the state of 10 frames ago"
    );
    // Play continues from there, and the history with it.
    host.input = 100;
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=21 label= inputs=21");
    assert_eq!(worker.rewind(relive::Rewind::Frames(2)).unwrap(), 2);
    assert_eq!(worker.state_json().unwrap(), dumps[18]);
    // Not further than the history reaches: refused, nothing changes.
    let err = worker.rewind(relive::Rewind::Frames(1000)).unwrap_err();
    assert!(err.to_string().contains("reaches"), "{err}");
    assert_eq!(worker.state_json().unwrap(), dumps[18]);

    // Across a reload: the earlier state is decoded by the code running now.
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(worker.rewind(relive::Rewind::Frames(3)).unwrap(), 3);
    assert_eq!(worker.state_json().unwrap(), dumps[17]);
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2 counter=19 label= inputs=19");
}
