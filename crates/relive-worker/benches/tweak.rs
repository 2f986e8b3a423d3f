//! What a tweakable literal costs per call against the same literal compiled in, same run:
//! `cargo bench -p relive-worker --bench tweak` (release) and `--profile dev` (the dev loop's).

use std::hint::black_box;
use std::time::Instant;

#[relive_worker::tweak]
fn tweaked(x: f32) -> f32 {
    x * 0.5 + 2.0
}

fn plain(x: f32) -> f32 {
    x * 0.5 + 2.0
}

/// Nanoseconds per call of `f`, the best of 7 runs of `n` calls.
fn per_call(f: fn(f32) -> f32, n: u32) -> f64 {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            let mut acc = 0.0f32;
            for _ in 0..n {
                acc = black_box(f)(black_box(acc));
            }
            black_box(acc);
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n = 20_000_000;
    let (base, tweak) = (per_call(plain, n), per_call(tweaked, n));
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    println!(
        "{profile}: plain {base:.2} ns/call, tweakable {tweak:.2} ns/call: {:.2} ns per tweakable literal (2 per call), ratio {:.2}",
        (tweak - base) / 2.0,
        tweak / base
    );
}
