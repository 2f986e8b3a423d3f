//! Many reloads in a row of a worker with a thread-local destructor: every state carried, no old
//! image left mapped, memory growth reported.

use std::path::Path;

use fixture_base::Context;
use relive::{Event, Worker};

use crate::support::{BUILD_WAIT, Fixture, Host, rss_kib};

/// Puts `bytes` at `path` as a new file (a new inode), the way a linker does.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn two_hundred_reloads_carry_the_state_and_leave_no_stale_mapping() {
    const RELOADS: u64 = 200;
    let fx = Fixture::new("tls", "soak");
    let a = std::fs::read(fx.lib()).unwrap();
    fx.edit("let tag = \"tls1\";", "let tag = \"tls2\";");
    fx.build().unwrap();
    let b = std::fs::read(fx.lib()).unwrap();
    replace(&fx.lib(), &a);

    let mut worker = Worker::<dyn Context>::open(fx.lib()).unwrap();
    let events = worker.subscribe();
    let mut host = Host::default();
    worker.update(&mut host).unwrap();
    // Warm up a few reloads so that one-time allocations do not count as growth.
    let mut frames = 1;
    let mut pauses = Vec::new();
    let mut rss_after_warmup = 0;
    for i in 1..=RELOADS {
        let (bytes, tag) = if i % 2 == 1 {
            (&b, "tls2")
        } else {
            (&a, "tls1")
        };
        replace(&fx.lib(), bytes);
        assert!(
            worker.wait_and_reload(BUILD_WAIT).unwrap(),
            "reload {i} not seen"
        );
        worker.update(&mut host).unwrap();
        frames += 1;
        assert_eq!(
            host.last(),
            format!("{tag} frames={frames} seen=1"),
            "reload {i}"
        );
        if i == 10 {
            rss_after_warmup = rss_kib();
        }
    }
    let rss_end = rss_kib();
    let mut stale = 0;
    let mut unloaded = 0;
    while let Ok(e) = events.recv_timeout(std::time::Duration::from_secs(5)) {
        match e {
            Event::StaleMapping { .. } => stale += 1,
            Event::Unloaded { .. } => unloaded += 1,
            Event::Reloaded { timings, .. } => pauses.push(timings.pause),
            _ => {}
        }
        if unloaded + stale == RELOADS {
            break;
        }
    }
    pauses.sort();
    let per_reload = rss_end.saturating_sub(rss_after_warmup) as f64 / (RELOADS - 10) as f64;
    println!(
        "soak: {RELOADS} reloads, {stale} stale mappings, RSS {rss_after_warmup} KiB -> {rss_end} KiB ({per_reload:.1} KiB/reload), median pause {:?}",
        pauses.get(pauses.len() / 2)
    );
    assert_eq!(stale, 0, "old images stayed mapped");
    assert_eq!(unloaded, RELOADS);
    // The failure this guards against (glibc pinning every version) costs ~350 KiB per reload.
    assert!(
        per_reload < 64.0,
        "RSS grows {per_reload:.1} KiB per reload"
    );
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let stem = format!("lib{}.v", fx.name);
    let images: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.find('/').map(|at| &l[at..]))
        .filter(|p| p.contains(&stem))
        .collect();
    assert_eq!(images.len(), 1, "mapped worker images: {images:#?}");
}
