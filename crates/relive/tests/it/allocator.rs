//! A host whose global allocator is not the C allocator (which every worker uses) is told so once,
//! with what to do; a host on the C allocator is not.

use std::process::Command;

use crate::support::{cargo_fixtures, fixture_target};

/// Builds `fixtures/host` (with `features`) and its worker into a target dir of their own, runs
/// the host, and returns its stderr.
fn run_host(features: &[&str]) -> String {
    let target = fixture_target().with_file_name("fixtures-allocator");
    let mut args = vec!["build", "-p", "plain", "-p", "fixture-host"];
    for feature in features {
        args.extend(["--features", feature]);
    }
    cargo_fixtures(&args, &target);
    let out = Command::new(target.join("debug/fixture-host"))
        .env_remove("RELIVE_WORKER_LIB")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("state "),
        "the host did not run its frames"
    );
    stderr
}

#[test]
fn a_host_with_its_own_global_allocator_is_told_once_and_one_on_malloc_is_not() {
    const WARNING: &str = "global allocator is not the C allocator";
    let stderr = run_host(&["fixture-host/bump"]);
    assert_eq!(stderr.matches(WARNING).count(), 1, "{stderr}");
    assert!(stderr.contains("pass borrowed data"), "{stderr}");
    let stderr = run_host(&[]);
    assert!(!stderr.contains(WARNING), "{stderr}");
}
