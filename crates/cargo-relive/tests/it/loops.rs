//! Loops from the CLI on a new terminal project: the same span of play again and again, with the
//! recorded reads (the host's clock) in place of live ones, and each save played from the next
//! pass.

use std::time::{Duration, Instant};

use super::{FIRST_BUILD, STEP, Session, cargo_relive, edit, mkfifo, new_project, test_target};

/// `score 12 at 3.4s: …` → `("score", 12, "3.4")`: the word, the score, the host's clock.
fn parse(line: &str) -> Option<(String, u64, String)> {
    let mut words = line.split_whitespace();
    let word = words.next()?.to_owned();
    let score = words.next()?.parse().ok()?;
    let time = words.nth(1)?.trim_end_matches("s:").to_owned();
    Some((word, score, time))
}

/// The worker's lines for `wait`.
fn lines_for(s: &mut Session, wait: Duration) -> Vec<(String, u64, String)> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while let Ok(line) = s
        .lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        out.extend(parse(&line));
    }
    out
}

/// The span that repeats at the end of `lines` (score and clock), and how often it repeats.
fn period(lines: &[(String, u64, String)]) -> (Vec<(u64, String)>, usize) {
    let keys: Vec<(u64, String)> = lines.iter().map(|(_, s, t)| (*s, t.clone())).collect();
    let last = keys.last().expect("no lines");
    // The pass ends with the last line; the same line one pass earlier marks its length.
    let before = keys[..keys.len() - 1]
        .iter()
        .rposition(|k| k == last)
        .unwrap_or_else(|| panic!("no line repeats: {keys:?}"));
    let len = keys.len() - 1 - before;
    let tail = &keys[keys.len() - len..];
    let repeats = keys.rchunks_exact(len).take_while(|c| *c == tail).count();
    // A pass starts with its earliest clock.
    let clock = |k: &(u64, String)| k.1.parse::<f64>().unwrap();
    let first = (0..len)
        .min_by(|&a, &b| clock(&tail[a]).total_cmp(&clock(&tail[b])))
        .unwrap();
    let mut span = tail.to_vec();
    span.rotate_left(first);
    (span, repeats)
}

#[test]
fn a_loop_plays_the_same_frames_each_pass_and_a_save_changes_the_next_pass_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("looped");
    new_project(&dir);
    let target = test_target("e2e-loop");
    let events = tmp.path().join("events");
    mkfifo(&events);
    let mut s = Session::start(&dir, &target, &events, &[]);
    s.event("host start", FIRST_BUILD, |e| e["event"] == "host_started");
    s.frame("score ");

    let out = cargo_relive(&dir, &target, &["loop", "start"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.event("recording", STEP, |e| e["event"] == "loop_recording");
    // About a second of play: four lines at the template's four lines a second.
    std::thread::sleep(Duration::from_millis(1100));
    let out = cargo_relive(&dir, &target, &["loop", "end"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("loop: playing"), "{stderr}");
    let playing = s.event("playing", STEP, |e| e["event"] == "loop_playing");
    let frames = playing["frames"].as_u64().unwrap();
    assert!(frames >= 30, "{playing}");

    // Passes of the same lines: same scores, and the recorded clock, not the live one.
    s.event("third pass", STEP, |e| {
        e["event"] == "loop_pass" && e["pass"].as_u64() >= Some(3)
    });
    let lines = lines_for(&mut s, Duration::from_millis(2500));
    let (span, repeats) = period(&lines);
    assert!(repeats >= 2, "{lines:?}");
    // One line every 15 frames.
    let n = span.len() as u64;
    assert!(
        n == frames / 15 || n == frames / 15 + 1,
        "{frames} frames: {lines:?}"
    );

    // A save while the loop plays: the pass being played ends with the old code, the next one
    // plays the same frames with the new code.
    edit(
        &dir.join("worker/src/lib.rs"),
        "\"score {} at",
        "\"SCORE {} at",
    );
    s.event("reloaded", STEP, |e| e["event"] == "reloaded");
    let lines = lines_for(&mut s, Duration::from_millis(2500));
    let first_new = lines
        .iter()
        .position(|(w, ..)| w == "SCORE")
        .unwrap_or_else(|| panic!("the new code never played: {lines:?}"));
    assert!(
        lines[first_new..].iter().all(|(w, ..)| w == "SCORE"),
        "{lines:?}"
    );
    let (new_span, _) = period(&lines[first_new..]);
    assert_eq!(new_span, span, "the new code played other frames");
    // It switched at a pass boundary: its first line is the pass's first line.
    assert_eq!(
        (lines[first_new].1, lines[first_new].2.clone()),
        span[0],
        "{lines:?}"
    );

    // Back to live play: the clock moves on again.
    let out = cargo_relive(&dir, &target, &["loop", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.event("stopped", STEP, |e| e["event"] == "loop_stopped");
    let recorded_end: f64 = span
        .iter()
        .map(|(_, t)| t.parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    let live = lines_for(&mut s, Duration::from_millis(800));
    let newest: f64 = live
        .iter()
        .map(|(_, _, t)| t.parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    assert!(newest > recorded_end + 1.0, "live {live:?} after {span:?}");

    // A loop needs a recording: `end` with none says so.
    let out = cargo_relive(&dir, &target, &["loop", "end"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no loop is recording"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SAFETY: signalling the process group of the session we started.
    unsafe { libc::killpg(s.child.id() as i32, libc::SIGINT) };
    s.wait_exit(Duration::from_secs(20));
}
