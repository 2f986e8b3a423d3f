//! A new build replaces the running one at the next call, with the state carried over and the old
//! image gone from memory.

use fixture_base::Context;
use relive::{Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, is_mapped, wait_for};

#[test]
fn edited_worker_runs_new_code_with_the_state_carried_and_the_old_image_unmapped() {
    let fx = Fixture::new("plain", "edit");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    for i in 1..=3 {
        host.input = i;
        worker.update(&mut host).unwrap();
    }
    let rename = worker.func("rename").unwrap();
    worker.call(rename, &mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=3 label= inputs=3");
    let old_copy = worker.library_path().to_owned();
    assert!(is_mapped(&old_copy));

    fx.edit("const STEP: u64 = 1;", "const STEP: u64 = 10;");
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    assert!(
        worker.wait_and_reload(BUILD_WAIT).unwrap(),
        "no new build seen"
    );

    host.input = 4;
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2 counter=13 label=label3 inputs=4");
    assert_eq!(worker.version(), 2);
    // A function handle taken before the swap calls the new version's function.
    host.input = 9;
    worker.call(rename, &mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v2 counter=23 label=label9 inputs=5");

    let timings = wait_for(&events, "reloaded", |e| match e {
        Event::Reloaded {
            version: 2,
            timings,
            ..
        } => Some(*timings),
        _ => None,
    });
    assert!(timings.pause <= timings.detect_to_swap);
    wait_for(&events, "unloaded", |e| {
        matches!(e, Event::Unloaded { version: 1 }).then_some(())
    });
    assert!(!is_mapped(&old_copy), "version 1 is still mapped");
}

#[test]
fn thread_local_worker_is_unmapped_after_reload() {
    assert!(
        relive::interposer_active(),
        "the test host does not interpose __cxa_thread_atexit_impl"
    );
    let fx = Fixture::new("tls", "unmap");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "tls1 frames=2 seen=2");
    let old_copy = worker.library_path().to_owned();

    fx.edit("let tag = \"tls1\";", "let tag = \"tls2\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    // The thread-local starts fresh in the new image; the state carried on.
    assert_eq!(host.last(), "tls2 frames=3 seen=1");
    let outcome = wait_for(&events, "unload check", |e| match e {
        Event::Unloaded { version: 1 } => Some(Ok(())),
        Event::StaleMapping {
            version: 1, path, ..
        } => Some(Err(path.clone())),
        _ => None,
    });
    assert_eq!(
        outcome,
        Ok(()),
        "the thread-local destructor pinned version 1"
    );
    assert!(!is_mapped(&old_copy));
}

#[test]
fn boxed_trait_object_and_closure_are_rebuilt_by_the_new_code() {
    let fx = Fixture::new("boxed", "rebuild");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "square1 scaled=4");

    fx.edit(
        "format!(\"square{}\", self.0)",
        "format!(\"SQUARE{}\", self.0 * 100)",
    );
    fx.edit("Box::new(|x| x * 2)", "Box::new(|x| x * 3)");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    // Made by the new code from the carried `size`: no vtable of version 1 is used.
    assert_eq!(host.last(), "SQUARE300 scaled=9");
    wait_for(&events, "unloaded", |e| {
        matches!(e, Event::Unloaded { version: 1 }).then_some(())
    });
}

/// `fixtures/big` or `big_codec`, built and loaded, after one update with a state of 1000 numbers:
/// the worker, its host, and the numbers the worker made.
fn thousand_numbers(fx: &Fixture) -> (Worker<dyn Context>, Host, Vec<u64>) {
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 1000,
        ..Host::default()
    };
    worker.update(&mut host).unwrap();
    let expected = (0..1000u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    (worker, host, expected)
}

#[test]
fn bulk_field_is_carried_as_one_block_and_edited_through_its_json_bytes() {
    let fx = Fixture::copy("big", "bulk");
    fx.edit(
        "    pub data: Vec<u64>,",
        "    #[serde(with = \"relive_worker::bulk\")]\n    pub data: Vec<u64>,",
    );
    let (mut worker, mut host, expected) = thousand_numbers(&fx);
    let words = |json: &serde_json::Value| -> Vec<u64> {
        // [element type, [bytes]]
        let bytes: Vec<u8> = json["data"][1]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };

    fx.edit("let tag = \"a\";", "let tag = \"b\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "b");
    let json = worker.state_json().unwrap();
    assert_eq!(
        words(&json),
        expected,
        "the data did not survive the reload"
    );
    let encoded = worker.snapshot().unwrap().bytes.len();
    assert!(
        encoded < 8000 + 64,
        "{encoded} bytes: not one block of 8000"
    );

    // `cargo relive state set`: the JSON array of the bytes goes back in.
    let mut edited = json;
    let new_words: Vec<u8> = [5u64, 6].iter().flat_map(|w| w.to_le_bytes()).collect();
    edited["data"][1] = serde_json::json!(new_words);
    worker.set_state_json(&edited).unwrap();
    host.input = 2;
    worker.update(&mut host).unwrap();
    assert_eq!(words(&worker.state_json().unwrap()), [5, 6]);
}

#[test]
fn a_function_dropped_by_a_new_version_answers_no_such_function_until_it_comes_back() {
    let fx = Fixture::new("plain", "dropfn");
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 7,
        ..Host::default()
    };
    assert!(matches!(
        worker.func("nope"),
        Err(relive::Error::NoSuchFunction { name }) if name == "nope"
    ));
    let rename = worker.func("rename").unwrap();
    worker.call(rename, &mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=1 label=label7 inputs=1");

    fx.edit("functions: [rename, boom],", "functions: [boom],");
    fx.edit("fn rename(", "#[allow(dead_code)]\nfn rename(");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    let err = worker.call(rename, &mut host).unwrap_err();
    assert!(
        matches!(&err, relive::Error::NoSuchFunction { name } if name == "rename"),
        "{err}"
    );
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label=label7 inputs=2");

    fx.edit("functions: [boom],", "functions: [rename, boom],");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    host.input = 9;
    worker.call(rename, &mut host).unwrap();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=3 label=label9 inputs=3");
}

/// The plain fixture with `before_save` and `after_load` hooks that leave their marks: the old
/// version's hook writes the saved label, the new version's rebuilds a skipped field from it.
fn hooked(test: &str, panic_in_after_load: bool) -> Fixture {
    let fx = Fixture::copy("plain", test);
    fx.edit(
        "    // EDIT: fields",
        "    #[serde(skip)]\n    pub rebuilt: String,",
    );
    fx.edit(
        "            // EDIT: defaults",
        "            rebuilt: String::new(),",
    );
    fx.edit(
        "    functions: [rename, boom],",
        "    functions: [rename, boom],\n    before_save: before_save,\n    after_load: after_load,",
    );
    fx.edit(
        "fn rename(",
        &format!(
            "fn before_save(_ctx: Option<&mut dyn Context>, state: &mut State) {{\n    state.label = format!(\"saved-at-{{}}\", state.counter);\n}}\n\n\
             fn after_load(ctx: Option<&mut dyn Context>, state: &mut State) {{\n    if {panic_in_after_load} {{\n        panic!(\"after_load refuses\");\n    }}\n    state.rebuilt = format!(\"from {{}} ctx={{}}\", state.label, ctx.is_some());\n}}\n\nfn rename("
        ),
    );
    fx.edit(
        "        \"{tag} counter={} label={} inputs={}\",\n        state.counter,\n        state.label,",
        "        \"{tag} counter={} label={} {} inputs={}\",\n        state.counter,\n        state.label,\n        state.rebuilt,",
    );
    fx
}

#[test]
fn before_save_runs_in_the_old_version_and_after_load_in_the_new_one_only_around_a_reload() {
    let fx = hooked("hooks", false);
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    worker.update(&mut host).unwrap();
    // A snapshot and the JSON view do not run the hooks.
    let json = worker.state_json().unwrap();
    assert_eq!(json["label"], "", "before_save ran for a snapshot: {json}");
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    // A tool's reload, outside a frame: the hooks get no context.
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(
        host.last(),
        "v2 counter=3 label=saved-at-2 from saved-at-2 ctx=false inputs=3"
    );
    // The game loop's reload, in a frame: they get the host's context.
    fx.edit("let tag = \"v2\";", "let tag = \"v3\";");
    fx.build().unwrap();
    let deadline = std::time::Instant::now() + BUILD_WAIT;
    while !host.last().starts_with("v3 ") {
        assert!(std::time::Instant::now() < deadline, "no reload in a frame");
        std::thread::sleep(std::time::Duration::from_millis(20));
        worker.update(&mut host).unwrap();
    }
    assert!(host.last().contains(" ctx=true "), "{}", host.last());
}

#[test]
fn a_panicking_after_load_fails_the_reload_and_the_old_version_goes_on_with_its_state() {
    let fx = hooked("hookpanic", false);
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    fx.edit(
        "if false {\n        panic!(\"after_load refuses\");",
        "if true {\n        panic!(\"after_load refuses\");",
    );
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let err = worker.wait_and_reload(BUILD_WAIT).unwrap_err().to_string();
    assert!(err.contains("after_load refuses"), "{err}");
    assert!(
        events
            .try_iter()
            .any(|e| matches!(e, relive::Event::ReloadFailed { .. })),
        "no ReloadFailed event"
    );
    worker.update(&mut host).unwrap();
    // Still version 1; its own after_load ran on its state after the failed attempt.
    assert_eq!(
        host.last(),
        "v1 counter=2 label=saved-at-1 from saved-at-1 ctx=false inputs=2"
    );
}

#[test]
fn a_state_crates_own_codec_carries_the_state_across_a_reload_and_reads_the_default_codecs_bytes() {
    let fx = Fixture::copy("big_codec", "own");
    let (mut worker, mut host, expected) = thousand_numbers(&fx);
    // The same bytes relive's default codec writes: a snapshot taken by one reads in the other.
    let snapshot = worker.snapshot().unwrap();
    let by_default: Vec<u8> =
        relive_worker::encode(&serde_json::json!({ "data": expected })).unwrap();
    assert_eq!(snapshot.bytes, by_default);

    fx.edit("let tag = \"a\";", "let tag = \"b\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "b");
    let json = worker.state_json().unwrap();
    assert_eq!(json["data"], serde_json::json!(expected));
    worker.restore(&snapshot).unwrap();
    assert_eq!(
        worker.state_json().unwrap()["data"],
        serde_json::json!(expected)
    );
}
