//! The game: a line of text and a sprite you move with WASD. Edit the constants while it runs.

use quad_base::{Color, Context, Input, TextureId};
use serde::{Deserialize, Serialize};

/// What the text says. Try changing it and saving.
const TEXT: &str = "hello relive";
/// Its color. Try [1.0, 0.2, 0.2, 1.0].
const COLOR: Color = [0.1, 0.9, 0.3, 1.0];
/// Pixels per second while a key is held.
const SPEED: f32 = 240.0;

/// The game's state: carried across every reload, saved with F5, loaded with F9.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    x: f32,
    y: f32,
    frames: u64,
    /// A handle to the host's texture: valid across reloads, as the texture lives in the host.
    sprite: Option<TextureId>,
}

impl Default for State {
    fn default() -> Self {
        State {
            x: 200.0,
            y: 300.0,
            frames: 0,
            sprite: None,
        }
    }
}

fn update(ctx: &mut dyn Context, state: &mut State) {
    state.frames += 1;
    let step = SPEED * ctx.frame_time().min(0.1);
    if ctx.is_pressed(Input::Left) {
        state.x -= step;
    }
    if ctx.is_pressed(Input::Right) {
        state.x += step;
    }
    if ctx.is_pressed(Input::Up) {
        state.y -= step;
    }
    if ctx.is_pressed(Input::Down) {
        state.y += step;
    }
    if state.sprite.is_none() {
        state.sprite = ctx.texture("sprite");
    }
    if let Some(sprite) = state.sprite {
        ctx.draw_texture(sprite, state.x, state.y + 20.0);
    }
    ctx.draw_text(TEXT, state.x, state.y, 48.0, COLOR);
}

relive_worker::export! {
    state: State,
    context: dyn Context,
    update: update,
}
