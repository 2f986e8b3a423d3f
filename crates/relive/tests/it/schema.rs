//! State evolution: the new code reads the old state when a field is added, removed or renamed,
//! migrates it when the state version changes, and when it cannot read it the old version keeps
//! running with the state intact.

use fixture_base::Context;
use relive::{Error, Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, wait_for};

/// Runs version 1 for three frames (counter=3, label=label7), applies `edit`, reloads, runs one
/// frame and returns the worker, its host and its events.
fn run_then_reload(
    test: &str,
    edit: impl FnOnce(&Fixture),
) -> (Fixture, Worker<dyn Context>, Host, Result<bool, Error>) {
    let fx = Fixture::new("plain", test);
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host {
        input: 7,
        ..Host::default()
    };
    let rename = worker.func("rename").unwrap();
    worker.call(rename, &mut host).unwrap();
    for _ in 0..3 {
        worker.update(&mut host).unwrap();
    }
    assert_eq!(host.last(), "v1 counter=3 label=label7 inputs=3");
    edit(&fx);
    fx.build().unwrap();
    let reloaded = worker.wait_and_reload(BUILD_WAIT);
    (fx, worker, host, reloaded)
}

#[test]
fn state_survives_adding_a_field() {
    let (_fx, mut worker, mut host, reloaded) = run_then_reload("add_field", |fx| {
        fx.edit("// EDIT: fields", "pub lives: u32,");
        fx.edit("// EDIT: defaults", "lives: 3,");
        fx.edit(
            "let tag = \"v1\";",
            "let tag = format!(\"lives{}\", state.lives);",
        );
    });
    assert!(reloaded.unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "lives3 counter=4 label=label7 inputs=4");
}

#[test]
fn state_survives_removing_a_field() {
    let (_fx, mut worker, mut host, reloaded) = run_then_reload("remove_field", |fx| {
        fx.edit("    pub label: String,\n", "");
        fx.edit("            label: String::new(),\n", "");
        fx.edit(
            "state.label = format!(\"label{}\", ctx.input());",
            "let _ = (ctx, state);",
        );
        fx.edit(
            "\"{tag} counter={} label={} inputs={}\",",
            "\"{tag} counter={} inputs={}\",",
        );
        fx.edit("        state.label,\n", "");
        fx.edit("let tag = \"v1\";", "let tag = \"nolabel\";");
    });
    assert!(reloaded.unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "nolabel counter=4 inputs=4");
    let json = worker.state_json().unwrap();
    assert_eq!(json["counter"], 4);
    assert!(json.get("label").is_none(), "{json}");
}

#[test]
fn state_survives_renaming_a_field_with_an_alias() {
    let (_fx, mut worker, mut host, reloaded) = run_then_reload("rename_field", |fx| {
        fx.edit(
            "    pub label: String,",
            "    #[serde(alias = \"label\")]\n    pub title: String,",
        );
        fx.edit("label: String::new(),", "title: String::new(),");
        fx.edit_all("state.label", "state.title");
        fx.edit("let tag = \"v1\";", "let tag = \"renamed\";");
    });
    assert!(reloaded.unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "renamed counter=4 label=label7 inputs=4");
    assert_eq!(worker.state_json().unwrap()["title"], "label7");
}

#[test]
fn a_new_state_version_goes_through_migrate() {
    let (_fx, mut worker, mut host, reloaded) = run_then_reload("migrate", |fx| {
        fx.edit(
            "    functions: [rename, boom],",
            "    functions: [rename, boom],\n    version: 2,\n    migrate: migrate,",
        );
        fx.edit(
            "const STEP: u64 = 1; // EDIT: step",
            r#"const STEP: u64 = 1;

fn migrate(old: relive_worker::OldState) -> Result<State, relive_worker::DecodeError> {
    #[derive(Deserialize)]
    struct V0 { counter: u64, label: String }
    match old.version() {
        0 => {
            let v0: V0 = old.decode()?;
            Ok(State { counter: v0.counter * 100, label: v0.label.to_uppercase(), ..State::default() })
        }
        v => Err(relive_worker::DecodeError::custom(format!("no migration from version {v}"))),
    }
}"#,
        );
    });
    assert!(reloaded.unwrap());
    worker.update(&mut host).unwrap();
    // Version 0 → 2: counter ×100, label upper-cased, history dropped by the migration.
    assert_eq!(host.last(), "v1 counter=301 label=LABEL7 inputs=1");
}

#[test]
fn unreadable_state_keeps_the_old_version_running_then_a_fixed_build_carries_it() {
    let (fx, mut worker, mut host, reloaded) = run_then_reload("incompatible", |fx| {
        fx.edit("    pub label: String,", "    pub label: u32,");
        fx.edit("label: String::new(),", "label: 0,");
        fx.edit(
            "state.label = format!(\"label{}\", ctx.input());",
            "state.label = ctx.input() as u32;",
        );
        fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    });
    let events = worker.subscribe();
    match reloaded {
        Err(
            e @ Error::IncompatibleState {
                version: 2,
                from_version: 1,
                ..
            },
        ) => {
            let text = e.to_string();
            // Where, what was found, and advice that fits a changed type.
            assert!(text.contains("at `/label`"), "{text}");
            assert!(text.contains("string"), "{text}");
            assert!(!text.contains("msgpack"), "{text}");
            assert!(text.contains("changed its type"), "{text}");
        }
        other => panic!("expected an incompatible state, got {other:?}"),
    }
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=4 label=label7 inputs=4");
    assert_eq!(worker.version(), 1);

    // Going back to a compatible type, with new behaviour: the state is all there.
    fx.edit("    pub label: u32,", "    pub label: String,");
    fx.edit("label: 0,", "label: String::new(),");
    fx.edit(
        "state.label = ctx.input() as u32;",
        "state.label = format!(\"label{}\", ctx.input());",
    );
    fx.edit("let tag = \"v2\";", "let tag = \"v3\";");
    fx.build().unwrap();
    assert!(worker.wait_and_reload(BUILD_WAIT).unwrap());
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v3 counter=5 label=label7 inputs=5");
    wait_for(&events, "reloaded", |e| {
        matches!(e, Event::Reloaded { version: 3, .. }).then_some(())
    });
}

#[test]
fn a_nested_value_that_does_not_fit_is_named_by_its_path() {
    let fx = Fixture::copy("plain", "nested_misfit");
    fx.edit(
        "    // EDIT: fields",
        "    pub player: Player,\n    pub items: Vec<Item>,",
    );
    fx.edit(
        "            // EDIT: defaults",
        "            player: Player::default(),\n            items: vec![Item::default()],",
    );
    fx.edit(
        "/// Panics when dropped if `PANIC_IN_DROP`.",
        "#[derive(Serialize, Deserialize, Default)]\n#[serde(default)]\npub struct Player {\n    pub name: String,\n    pub hp: u32,\n}\n\n\
         #[derive(Serialize, Deserialize, Default)]\n#[serde(default)]\npub struct Item {\n    pub weight: u32,\n}\n\n/// Panics when dropped if `PANIC_IN_DROP`.",
    );
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    // `hp` becomes a string: the new code cannot read the old number.
    fx.edit("    pub hp: u32,", "    pub hp: String,");
    fx.build().unwrap();
    let text = worker.wait_and_reload(BUILD_WAIT).unwrap_err().to_string();
    assert!(text.contains("at `/player/hp`"), "{text}");
    assert_eq!(worker.version(), 1);
}
