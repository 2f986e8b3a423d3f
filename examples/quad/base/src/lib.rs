//! The interface between the macroquad host (window, input, textures) and the game worker.
//! Changing this file restarts the host under `cargo relive run`, with the game's state.

use serde::{Deserialize, Serialize};

/// A direction key: WASD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A.
    Left,
    /// D.
    Right,
    /// W.
    Up,
    /// S.
    Down,
}

/// A handle to a texture the host owns. The game keeps the handle in its state; the texture
/// itself (GPU memory) never leaves the host, so it survives every reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextureId(pub u32);

/// An RGBA color, components in 0..=1.
pub type Color = [f32; 4];

/// What the host offers the game each frame. `#[relive_worker::context]`: a loop
/// (`cargo relive loop`) records what the game reads here (keys, frame time, texture handles).
#[relive_worker::context]
pub trait Context {
    /// Draws `text` with its baseline's left end at (`x`, `y`), `size` pixels high.
    fn draw_text(&mut self, text: &str, x: f32, y: f32, size: f32, color: Color);
    /// Draws a host-owned texture with its top-left corner at (`x`, `y`).
    fn draw_texture(&mut self, texture: TextureId, x: f32, y: f32);
    /// Whether the key is held down.
    fn is_pressed(&self, input: Input) -> bool;
    /// Seconds since the last frame.
    fn frame_time(&self) -> f32;
    /// The texture the host loaded under `name`, if any.
    fn texture(&self, name: &str) -> Option<TextureId>;
}
