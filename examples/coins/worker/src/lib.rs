//! The coins game: walk the `@` over the `$` to collect them. Everything the game knows is in
//! [`State`], so it survives every reload; edit the lines below while it runs.

use coins_base::{Context, Key};
use serde::{Deserialize, Serialize};

/// The map's size, walls included.
const WIDTH: u16 = 32;
const HEIGHT: u16 = 12;

/// The player's look. Try "&" or "☺".
const PLAYER: &str = "@";
/// Squares per key press. Try 2.
const STEP: u16 = 1;
/// Coins on the map at once. Try 6.
const COINS: usize = 3;

/// The game's state: carried across every reload.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    tick: u64,
    x: u16,
    y: u16,
    score: u32,
    coins: Vec<(u16, u16)>,
    seed: u64,
    message: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            tick: 0,
            x: 2,
            y: 2,
            score: 0,
            coins: Vec::new(),
            seed: 0x2545_f491_4f6c_dd1d,
            message: "collect the coins: WASD or arrow keys, q quits".to_owned(),
        }
    }
}

impl State {
    /// A pseudo-random square inside the walls (xorshift, so a replay is deterministic).
    fn random_square(&mut self) -> (u16, u16) {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let x = 1 + (self.seed % u64::from(WIDTH - 2)) as u16;
        let y = 1 + ((self.seed >> 32) % u64::from(HEIGHT - 2)) as u16;
        (x, y)
    }
}

fn update(ctx: &mut dyn Context, state: &mut State) {
    state.tick += 1;
    while state.coins.len() < COINS {
        let square = state.random_square();
        if square != (state.x, state.y) && !state.coins.contains(&square) {
            state.coins.push(square);
        }
    }
    let (x, y) = (state.x, state.y);
    (state.x, state.y) = match ctx.key() {
        Some(Key::Up) => (x, y.saturating_sub(STEP).max(1)),
        Some(Key::Down) => (x, (y + STEP).min(HEIGHT - 2)),
        Some(Key::Left) => (x.saturating_sub(STEP).max(1), y),
        Some(Key::Right) => ((x + STEP).min(WIDTH - 2), y),
        None => (x, y),
    };
    if let Some(i) = state.coins.iter().position(|c| *c == (state.x, state.y)) {
        state.coins.swap_remove(i);
        state.score += 1;
        state.message = format!("a coin! {} so far", state.score);
    }
    draw(ctx, state);
    ctx.report(&format!(
        "tick={} pos={},{} score={} coins={} msg={}",
        state.tick,
        state.x,
        state.y,
        state.score,
        state.coins.len(),
        state.message
    ));
}

fn draw(ctx: &mut dyn Context, state: &State) {
    let wall = "#".repeat(usize::from(WIDTH));
    ctx.draw(0, 0, &wall);
    ctx.draw(0, HEIGHT - 1, &wall);
    for y in 1..HEIGHT - 1 {
        ctx.draw(0, y, "#");
        ctx.draw(WIDTH - 1, y, "#");
    }
    for (x, y) in &state.coins {
        ctx.draw(*x, *y, "$");
    }
    ctx.draw(state.x, state.y, PLAYER);
    ctx.draw(
        0,
        HEIGHT,
        &format!("score {}   tick {}", state.score, state.tick),
    );
    ctx.draw(0, HEIGHT + 1, &state.message);
}

relive_worker::export! {
    state: State,
    context: dyn Context,
    update: update,
}
