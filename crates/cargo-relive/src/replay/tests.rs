//! Parsing, cutting and running replayed commands, with stand-ins for rustc.

use super::*;

#[test]
fn a_variant_drops_the_selected_flag_values_and_adds_arguments_and_environment() {
    let line = "Running `CARGO=/c /r/rustc --crate-name worker --crate-type cdylib \
                --emit=dep-info,link -C incremental=/t/inc -Cdebuginfo=1 -C opt-level=0 \
                --out-dir /t`";
    let inv = Invocation::parse(line, "worker", Path::new("/ws")).unwrap();
    let v = inv.variant(
        |a| {
            a.starts_with("incremental=") || a.starts_with("debuginfo=") || a.starts_with("--emit=")
        },
        &["-C", "debuginfo=0", "--emit=metadata"],
        &[("RUSTC_BOOTSTRAP", "1")],
    );
    assert_eq!(
        v.args,
        [
            "--crate-name",
            "worker",
            "--crate-type",
            "cdylib",
            "-C",
            "opt-level=0",
            "--out-dir",
            "/t",
            "-C",
            "debuginfo=0",
            "--emit=metadata"
        ]
    );
    assert!(
        v.env
            .contains(&("RUSTC_BOOTSTRAP".to_owned(), "1".to_owned()))
    );
    assert_eq!(v.program, inv.program);
}

#[test]
fn cargo_running_lines_parse_into_env_program_and_args() {
    let line = "\x1b[1m\x1b[32m     Running\x1b[0m `CARGO=/c CARGO_PKG_AUTHORS='' CARGO_PKG_NAME=worker \
                /r/rustc --crate-name worker --edition=2024 worker/src/lib.rs --crate-type cdylib \
                -C 'link-arg=a b' --out-dir /t/debug/deps`";
    let inv = Invocation::parse(line, "worker", Path::new("/ws")).unwrap();
    assert_eq!(inv.program, "/r/rustc");
    assert_eq!(
        inv.env,
        [
            ("CARGO", "/c"),
            ("CARGO_PKG_AUTHORS", ""),
            ("CARGO_PKG_NAME", "worker")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert!(inv.args.contains(&"link-arg=a b".to_owned()));
    assert_eq!(inv.cwd, Path::new("/ws"));
}

#[test]
fn the_replay_links_at_o0_unless_the_command_chose_its_linker_flavor_or_level() {
    let parse = |extra: &str| {
        let line = format!(
            "Running `/r/rustc --crate-name worker worker/src/lib.rs --crate-type cdylib {extra}`"
        );
        Invocation::parse(&line, "worker", Path::new("/ws")).unwrap()
    };
    assert_eq!(parse("").link_speedups(), ["-C", "link-arg=-Wl,-O0"]);
    assert_eq!(
        parse("-C link-arg=-fuse-ld=mold").link_speedups(),
        ["-C", "link-arg=-Wl,-O0"]
    );
    assert!(parse("-C linker-flavor=ld.lld").link_speedups().is_empty());
    assert!(parse("-C link-arg=-Wl,-O2").link_speedups().is_empty());
    assert!(
        parse("-C link-args=-Wl,--gc-sections,-O1")
            .link_speedups()
            .is_empty()
    );
}

#[test]
fn a_link_that_fails_with_o0_is_run_again_without_it_and_o0_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for rustc whose "linker" refuses `-O0`, speaking rustc's JSON on stderr.
    let rustc = dir.path().join("rustc");
    let lib = dir.path().join("libworker.so");
    std::fs::write(
        &rustc,
        format!(
            "#!/bin/sh\n\
             for a in \"$@\"; do case \"$a\" in *-O0*) \
             echo '{{\"$message_type\":\"diagnostic\",\"message\":\"linking with `cc` failed: exit status: 1\",\"rendered\":\"error: linking with cc failed\"}}' >&2; exit 1;; esac; done\n\
             echo '{{\"$message_type\":\"artifact\",\"artifact\":\"{}\",\"emit\":\"link\"}}' >&2\n",
            lib.display()
        ),
    )
    .unwrap();
    // Run through `sh`: executing a file this multi-threaded test process just wrote could
    // race another test's fork (ETXTBSY).
    let line = format!(
        "Running `/bin/sh {} --crate-name worker src/lib.rs --crate-type cdylib`",
        rustc.display()
    );
    let mut inv = Invocation::parse(&line, "worker", dir.path()).unwrap();
    assert!(!inv.link_speedups().is_empty());
    let mut shown = Vec::new();
    let build = inv.run_to(&mut shown).unwrap();
    assert!(build.success, "the second link, without -O0, succeeds");
    let shown = String::from_utf8(shown).unwrap();
    assert!(shown.contains("error: linking with cc failed"), "{shown}");
    assert!(shown.contains("linking again without it"), "{shown}");
    assert_eq!(build.artifact.as_deref(), Some(lib.as_path()));
    assert!(
        inv.link_speedups().is_empty(),
        "-O0 is left out from now on"
    );
    assert!(inv.run_to(&mut Vec::new()).unwrap().success);
}

#[test]
fn a_link_error_of_the_workers_own_keeps_the_speedups_and_is_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for rustc whose link always fails (an undefined symbol of the worker's).
    let rustc = dir.path().join("rustc");
    std::fs::write(
        &rustc,
        "#!/bin/sh\n\
         echo '{\"$message_type\":\"diagnostic\",\"message\":\"linking with `cc` failed: exit status: 1\",\"rendered\":\"error: undefined symbol: missing\"}' >&2; exit 1\n",
    )
    .unwrap();
    let line = format!(
        "Running `/bin/sh {} --crate-name worker src/lib.rs --crate-type cdylib`",
        rustc.display()
    );
    let mut inv = Invocation::parse(&line, "worker", dir.path()).unwrap();
    let mut shown = Vec::new();
    let build = inv.run_to(&mut shown).unwrap();
    assert!(!build.success);
    let shown = String::from_utf8(shown).unwrap();
    assert_eq!(shown.matches("undefined symbol").count(), 1, "{shown}");
    assert!(!shown.contains("relive adds"), "{shown}");
    assert!(!inv.link_speedups().is_empty(), "the speedups stay");
}

#[test]
fn the_replay_builds_the_cdylib_without_the_rlib_and_its_metadata_in_an_incremental_cache_of_its_own()
 {
    let line = "Running `CARGO=/c /r/rustc --crate-name worker --edition=2024 worker/src/lib.rs \
                --crate-type cdylib --crate-type rlib --emit=dep-info,metadata,link -C embed-bitcode=no \
                -C incremental=/t/debug/incremental`";
    let inv = Invocation::parse(line, "worker", Path::new("/ws"))
        .unwrap()
        .cdylib_only();
    assert_eq!(
        inv.args,
        [
            "--crate-name",
            "worker",
            "--edition=2024",
            "worker/src/lib.rs",
            "--crate-type",
            "cdylib",
            "--emit=dep-info,link",
            "-C",
            "embed-bitcode=no",
            "-C",
            "incremental=/t/debug/incremental-relive"
        ]
    );
}

#[test]
fn other_crates_and_other_lines_are_not_the_worker() {
    let rlib = "Running `CARGO=/c /r/rustc --crate-name base base/src/lib.rs --crate-type lib`";
    assert!(Invocation::parse(rlib, "worker", Path::new("/")).is_none());
    let build_script = "Running `/t/debug/build/x/build-script-build`";
    assert!(Invocation::parse(build_script, "worker", Path::new("/")).is_none());
    assert!(Invocation::parse("   Compiling worker v0.1.0", "worker", Path::new("/")).is_none());
}
