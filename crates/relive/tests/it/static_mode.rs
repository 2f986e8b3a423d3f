//! Ship mode: the same host code, built with its `static` feature, links the worker as a normal
//! crate and behaves the same, with no loader, no exports and no interposer in the binary.

use std::process::Command;

use crate::support::{cargo_fixtures, fixture_target};

fn cargo(args: &[&str]) {
    cargo_fixtures(args, &fixture_target());
}

fn run_host() -> String {
    let out = Command::new(fixture_target().join("debug/fixture-host"))
        .env_remove("RELIVE_WORKER_LIB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "host failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn symbols() -> String {
    let out = Command::new("nm")
        .arg("-C")
        .arg(fixture_target().join("debug/fixture-host"))
        .output()
        .unwrap();
    assert!(out.status.success(), "nm failed");
    String::from_utf8(out.stdout).unwrap()
}

fn defines(symbols: &str, name: &str) -> bool {
    symbols.lines().any(|l| {
        let mut parts = l.split_whitespace().rev();
        parts.next() == Some(name)
            && parts
                .next()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("t"))
    })
}

#[test]
fn static_build_runs_the_same_host_code_with_the_same_output_and_no_loader() {
    cargo(&["build", "-p", "plain", "-p", "fixture-host"]);
    let hot = run_host();
    let hot_symbols = symbols();
    for interposer in ["__cxa_thread_atexit_impl", "pthread_create"] {
        assert!(
            defines(&hot_symbols, interposer),
            "hot host lacks the {interposer} interposer"
        );
    }

    cargo(&["build", "-p", "fixture-host", "--features", "static"]);
    let shipped = run_host();
    let static_symbols = symbols();

    assert_eq!(hot, shipped);
    assert!(
        shipped.contains("v1 counter=4 label=label3 inputs=4"),
        "{shipped}"
    );
    assert!(
        shipped.contains("state {\"counter\":4,\"label\":\"label3\",\"history\":[1,2,3,3]}"),
        "{shipped}"
    );
    for absent in [
        "relive_worker_exports_v1",
        "dlopen",
        "__cxa_thread_atexit_impl",
        "pthread_create",
    ] {
        assert!(
            !defines(&static_symbols, absent),
            "the static host defines {absent}"
        );
    }
    assert!(
        !static_symbols.contains("libloading"),
        "the static host links libloading"
    );
    assert!(
        !static_symbols.contains("relive_worker::__private::"),
        "the static host has FFI shims"
    );
    assert!(
        hot_symbols.contains("relive::hot::Worker"),
        "the hot host has no loader: the check above proves nothing"
    );
}
