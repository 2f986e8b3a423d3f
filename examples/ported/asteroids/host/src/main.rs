//! The host of macroquad's Asteroids example: owns the window and calls the worker
//! (`asteroids`) each frame; the worker plays and draws the game with macroquad itself. A band at
//! the top shows relive's status for a few seconds after it changes (a reload, a build started),
//! and for as long as it lasts when it is a problem (a build that failed and where, a panic and
//! where).

// `#[macroquad::main]` names `macroquad::…`: here that is the shared copy in `ported_engine`.
extern crate ported_engine as macroquad;

use ported_engine::prelude::*;

relive::worker!(type Game = asteroids for ());

/// The frame rate the host holds (the game steps per frame, and a window without vsync, under
/// Xvfb say, would otherwise spin a whole core).
const FPS: f64 = 60.0;

#[macroquad::main("Asteroids")]
async fn main() {
    let mut game = match Game::new("asteroids") {
        Ok(game) => game,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    // What the game reads from macroquad, for `cargo relive loop`; F1 opens the inspector, and
    // while it has the keyboard or the mouse the game's reads of them see nothing pressed.
    game.record_reads(&ported_engine::prelude::RELIVE_READS);
    let mut inspector =
        relive_inspector::macroquad::Overlay::new().isolate(&ported_engine::prelude::RELIVE_READS);
    let (mut shown, mut since): (Option<relive::Status>, f64) = (None, 0.0);
    // Each frame starts when the last one's wait ended: the present (`next_frame`) counts
    // in the frame, so the rate is held at FPS.
    let mut started = std::time::Instant::now();
    loop {
        // A panic is reported in the band below; the next frame calls the worker again.
        let _ = inspector.update(&mut game, &mut ());
        if let Some(status) = game.status() {
            if shown.as_ref().is_none_or(|last| status.is_news_since(last)) {
                (shown, since) = (Some(status.clone()), get_time());
            }
            // The game draws at the top too: the band stays 4 s after a change, a problem until
            // it is fixed.
            if status.is_problem() || get_time() - since < 4.0 {
                ported_engine::draw_status(&status.to_string(), status.is_problem());
            }
        }
        inspector.draw();
        let rest = std::time::Duration::from_secs_f64(1.0 / FPS).saturating_sub(started.elapsed());
        std::thread::sleep(rest);
        started = std::time::Instant::now();
        next_frame().await;
    }
}
