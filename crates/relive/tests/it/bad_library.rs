//! Bad builds are refused with a clear error while the old version keeps running: truncated or
//! half-written libraries, random bytes, a library without relive's exports, and libraries built
//! against another interface or with other codegen flags.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::Receiver;

use fixture_base::Context;
use relive::{Error, Event, FingerprintPart, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, fixture_target, wait_for};

/// A worker running version 1 of the plain fixture, plus the bytes of an edited version 2 that
/// has not been put in place yet.
struct Setup {
    fx: Fixture,
    worker: Worker<dyn Context>,
    events: Receiver<Event>,
    host: Host,
    v2: Vec<u8>,
}

fn setup(test: &str) -> Setup {
    let fx = Fixture::new("plain", test);
    let v1 = std::fs::read(fx.lib()).unwrap();
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let v2 = std::fs::read(fx.lib()).unwrap();
    write_in_place(&fx.lib(), &v1);
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=1 label= inputs=1");
    Setup {
        fx,
        worker,
        events,
        host,
        v2,
    }
}

/// Rewrites the file in place (same inode), as `cp` or a careless tool would.
fn write_in_place(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn expect_refusal(s: &mut Setup, contains: &str) {
    let reason = wait_for(&s.events, "reload failed", |e| match e {
        Event::ReloadFailed {
            reason, running: 1, ..
        } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.contains(contains),
        "reason `{reason}` lacks `{contains}`"
    );
    s.worker.update(&mut s.host).unwrap();
    assert!(
        s.host.last().starts_with("v1 "),
        "old version not running: {}",
        s.host.last()
    );
}

fn expect_v2_after_fix(s: &mut Setup) {
    let v2 = s.v2.clone();
    write_in_place(&s.fx.lib(), &v2);
    assert!(s.worker.wait_and_reload(BUILD_WAIT).unwrap());
    s.worker.update(&mut s.host).unwrap();
    assert!(s.host.last().starts_with("v2 "), "{}", s.host.last());
}

#[test]
fn truncated_library_is_refused_and_the_old_version_keeps_running() {
    let mut s = setup("truncated");
    let half = s.v2[..s.v2.len() / 2].to_vec();
    write_in_place(&s.fx.lib(), &half);
    expect_refusal(&mut s, "truncated");
    // The state went on under version 1 and is carried into the whole library when it arrives.
    expect_v2_after_fix(&mut s);
    assert!(s.host.last().contains("counter=3"), "{}", s.host.last());
}

#[test]
fn random_bytes_are_refused_as_not_elf() {
    let mut s = setup("random");
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write_in_place(&s.fx.lib(), &noise);
    expect_refusal(&mut s, "not an ELF file");
    expect_v2_after_fix(&mut s);
}

#[test]
fn library_without_the_exports_is_refused() {
    let mut s = setup("noexports");
    let other = Fixture::new("noexports", "noexports");
    let bytes = std::fs::read(other.lib()).unwrap();
    write_in_place(&s.fx.lib(), &bytes);
    expect_refusal(&mut s, "relive_worker_exports_v1");
    expect_v2_after_fix(&mut s);
}

#[test]
fn slowly_written_library_is_loaded_once_complete_and_never_refused() {
    let mut s = setup("slow");
    let lib = s.fx.lib();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&lib)
        .unwrap();
    for chunk in s.v2.chunks(256 * 1024) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        // A slow writer: the loader must not give up on the file between two chunks.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(f);
    assert!(s.worker.wait_and_reload(BUILD_WAIT).unwrap());
    s.worker.update(&mut s.host).unwrap();
    assert!(s.host.last().starts_with("v2 "), "{}", s.host.last());
    while let Ok(e) = s.events.try_recv() {
        assert!(
            !matches!(e, Event::ReloadFailed { .. }),
            "refused while being written: {e:?}"
        );
    }
}

#[test]
fn worker_built_against_an_edited_interface_is_refused_with_restart_advice() {
    let fx = Fixture::copy("plain", "iface").with_own_base();
    fx.build().unwrap();
    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();

    fx.edit_base(
        "    fn input(&self) -> i64;",
        "    fn input(&self) -> i64;\n    fn extra(&self) -> u8 { 0 }",
    );
    fx.edit("let tag = \"v1\";", "let tag = \"v2\";");
    fx.build().unwrap();
    let reason = wait_for(&events, "reload failed", |e| match e {
        Event::ReloadFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.contains("interface crate"), "{reason}");
    assert!(reason.contains("restart the host"), "{reason}");
    worker.update(&mut host).unwrap();
    assert_eq!(host.last(), "v1 counter=2 label= inputs=2");

    // Loading it fresh gives the typed error.
    match Worker::<dyn Context>::open(fx.lib()) {
        Err(Error::FingerprintMismatch { part, .. }) => {
            assert_eq!(part, FingerprintPart::Interface)
        }
        Err(other) => panic!("expected a fingerprint mismatch, got {other}"),
        Ok(_) => panic!("a worker built against another interface was loaded"),
    }
}

#[test]
fn worker_built_with_other_codegen_flags_is_refused() {
    let fx = Fixture::copy("plain", "flags").with_flags(
        fixture_target().with_file_name("fixtures-flags"),
        "-Cforce-frame-pointers=yes",
    );
    fx.build().unwrap();
    match Worker::<dyn Context>::open(fx.lib()) {
        Err(err @ Error::FingerprintMismatch { .. }) => {
            let Error::FingerprintMismatch { part, worker, .. } = &err else {
                unreachable!()
            };
            assert_eq!(*part, FingerprintPart::Flags);
            assert!(worker.contains("force-frame-pointers"), "{worker}");
            assert!(err.to_string().contains("same RUSTFLAGS"), "{err}");
        }
        Err(other) => panic!("expected a fingerprint mismatch, got {other}"),
        Ok(_) => panic!("a worker built with other flags was loaded"),
    }
}

#[test]
fn library_outside_the_project_target_dir_is_refused() {
    let fx = Fixture::new("plain", "untrusted");
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("libplain_untrusted.so");
    std::fs::copy(fx.lib(), &copy).unwrap();
    match Worker::<dyn Context>::open(&copy) {
        Err(err @ Error::Untrusted { .. }) => {
            assert!(err.to_string().contains("target directory"), "{err}")
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a library from outside the target dir was loaded"),
    }
}

#[test]
fn library_truncated_at_any_offset_is_refused() {
    let mut s = setup("truncations");
    let len = s.v2.len();
    // Offsets spread over the file, including inside the ELF header and just short of the end.
    for cut in [
        1,
        40,
        63,
        64,
        4096,
        len / 7,
        len / 3,
        len / 2,
        len - 4096,
        len - 1,
    ] {
        let part = s.v2[..cut].to_vec();
        write_in_place(&s.fx.lib(), &part);
        expect_refusal(&mut s, "");
    }
    expect_v2_after_fix(&mut s);
}

/// In a process of its own (this test binary, run again for this one test), a host with no logger
/// and no subscriber: a refused build is still said, on stderr.
#[test]
fn without_a_logger_or_a_subscriber_a_refused_build_is_printed_on_stderr() {
    const CHILD: &str = crate::support::NO_LOGGER_CHILD;
    if std::env::var_os(CHILD).is_some() {
        let fx = Fixture::new("plain", "nologger");
        let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
        let mut host = Host::default();
        worker.update(&mut host).unwrap();
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
            .collect();
        write_in_place(&fx.lib(), &noise);
        let deadline = std::time::Instant::now() + BUILD_WAIT;
        while !worker.status().is_some_and(|s| s.is_problem()) {
            assert!(std::time::Instant::now() < deadline, "no refusal");
            std::thread::sleep(std::time::Duration::from_millis(10));
            worker.update(&mut host).unwrap();
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bad_library::without_a_logger_or_a_subscriber_a_refused_build_is_printed_on_stderr",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("relive: version 2 was refused, version 1 keeps running")
            && stderr.contains("not an ELF file"),
        "{stderr}"
    );
}
