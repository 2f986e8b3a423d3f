//! The interface between the coins host (terminal, keys, clock) and its worker (the game).
//! Changing this file restarts the host under `cargo relive run`, with the game's state.

/// A key the player pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Key {
    /// W or the up arrow.
    Up,
    /// S or the down arrow.
    Down,
    /// A or the left arrow.
    Left,
    /// D or the right arrow.
    Right,
}

/// What the host offers the game each tick. `#[relive_worker::context]` lets a loop record what
/// the game reads (`key`) and play it back (`cargo relive loop`).
#[relive_worker::context]
pub trait Context {
    /// The key pressed since the last tick, if any.
    fn key(&self) -> Option<Key>;
    /// Draws `text` at column `x`, row `y` of the next frame (0-based).
    fn draw(&mut self, x: u16, y: u16, text: &str);
    /// One line describing the state; the headless host prints it every tick.
    fn report(&mut self, line: &str);
}
