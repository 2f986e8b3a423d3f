//! The engine the hosts and the workers share: macroquad, built once as a Rust `dylib` that
//! they all link. Use macroquad through this crate only (`use ported_engine::prelude::*;`): a
//! crate that depends on macroquad itself would get a second copy of it, never initialized (its
//! first call panics: `assertion failed: THREAD_ID.is_some()`). Changing this crate restarts the
//! host (with its state).

pub use macroquad::*;

/// Serde for macroquad's value types (`#[serde(with = "ported_engine::engine_serde")]`): the
/// window template's own file, shared.
#[path = "../../../../crates/cargo-relive/templates/window/base.engine_serde.rs.tmpl"]
pub mod engine_serde;

/// macroquad's prelude (`use ported_engine::prelude::*;`), with the functions that read input, time and
/// the window's size wrapped so that a loop (`cargo relive loop start|end|stop`) records what
/// they return and plays it back. Each wrapper calls macroquad's function of the same name.
/// The keyboard and mouse reads (`#[input(..)]`) read "nothing pressed" while the inspector
/// panel (F1 in the hosts) holds that input, so typing into it does not also steer the game.
pub mod prelude {
    pub use macroquad::prelude::*;

    relive_tape::reads! {
        /// `macroquad::input::is_key_down`.
        #[input(keyboard)]
        pub fn is_key_down(key: KeyCode) -> bool = macroquad::input::is_key_down;
        /// `macroquad::input::is_key_pressed`.
        #[input(keyboard)]
        pub fn is_key_pressed(key: KeyCode) -> bool = macroquad::input::is_key_pressed;
        /// `macroquad::input::is_key_released`.
        #[input(keyboard)]
        pub fn is_key_released(key: KeyCode) -> bool = macroquad::input::is_key_released;
        /// `macroquad::input::is_mouse_button_down`.
        #[input(pointer)]
        pub fn is_mouse_button_down(button: MouseButton) -> bool =
            macroquad::input::is_mouse_button_down;
        /// `macroquad::input::is_mouse_button_pressed`.
        #[input(pointer)]
        pub fn is_mouse_button_pressed(button: MouseButton) -> bool =
            macroquad::input::is_mouse_button_pressed;
        /// `macroquad::input::mouse_position`.
        pub fn mouse_position() -> (f32, f32) = macroquad::input::mouse_position;
        /// `macroquad::input::mouse_wheel`.
        #[input(pointer)]
        pub fn mouse_wheel() -> (f32, f32) = macroquad::input::mouse_wheel;
        /// `macroquad::input::get_char_pressed`.
        #[input(keyboard)]
        pub fn get_char_pressed() -> Option<char> = macroquad::input::get_char_pressed;
        /// `macroquad::time::get_frame_time`.
        pub fn get_frame_time() -> f32 = macroquad::time::get_frame_time;
        /// `macroquad::time::get_time`.
        pub fn get_time() -> f64 = macroquad::time::get_time;
        /// `macroquad::window::screen_width`.
        pub fn screen_width() -> f32 = macroquad::window::screen_width;
        /// `macroquad::window::screen_height`.
        pub fn screen_height() -> f32 = macroquad::window::screen_height;
        /// `macroquad::input::is_mouse_button_released`.
        #[input(pointer)]
        pub fn is_mouse_button_released(button: MouseButton) -> bool =
            macroquad::input::is_mouse_button_released;
        /// `macroquad::input::is_any_key_down`.
        #[input(keyboard)]
        pub fn is_any_key_down() -> bool = macroquad::input::is_any_key_down;
        /// `macroquad::input::get_last_key_pressed` (`KeyCode` has no serde impls: a loop that
        /// reads it is refused, naming it).
        #[input(keyboard)]
        pub fn get_last_key_pressed() -> Option<KeyCode> = macroquad::input::get_last_key_pressed;
        /// `macroquad::input::get_keys_down` (not recordable either: `KeyCode`).
        #[input(keyboard)]
        pub fn get_keys_down() -> std::collections::HashSet<KeyCode> =
            macroquad::input::get_keys_down;
        /// `macroquad::input::get_keys_pressed` (not recordable: `KeyCode`).
        #[input(keyboard)]
        pub fn get_keys_pressed() -> std::collections::HashSet<KeyCode> =
            macroquad::input::get_keys_pressed;
        /// `macroquad::input::get_keys_released` (not recordable: `KeyCode`).
        #[input(keyboard)]
        pub fn get_keys_released() -> std::collections::HashSet<KeyCode> =
            macroquad::input::get_keys_released;
        /// `macroquad::input::mouse_position_local`.
        pub fn mouse_position_local() -> Vec2 = macroquad::input::mouse_position_local;
        /// `macroquad::input::mouse_delta_position`.
        pub fn mouse_delta_position() -> Vec2 = macroquad::input::mouse_delta_position;
        /// `macroquad::input::touches` (not recordable: `Touch` has no serde impls).
        #[input(pointer)]
        pub fn touches() -> Vec<Touch> = macroquad::input::touches;
        /// `macroquad::input::is_quit_requested`.
        pub fn is_quit_requested() -> bool = macroquad::input::is_quit_requested;
        /// `macroquad::time::get_fps`.
        pub fn get_fps() -> i32 = macroquad::time::get_fps;
    }
}

/// macroquad's `input` module with the reads of [`prelude`] in place of its own, so that
/// `ported_engine::input::is_key_down` is recorded by a loop as `ported_engine::prelude::is_key_down` is.
pub mod input {
    pub use macroquad::input::*;

    pub use crate::prelude::{
        get_char_pressed, get_keys_down, get_keys_pressed, get_keys_released, get_last_key_pressed,
        is_any_key_down, is_key_down, is_key_pressed, is_key_released, is_mouse_button_down,
        is_mouse_button_pressed, is_mouse_button_released, is_quit_requested, mouse_delta_position,
        mouse_position, mouse_position_local, mouse_wheel, touches,
    };
}

/// macroquad's `time` module with the recorded reads of [`prelude`].
pub mod time {
    pub use macroquad::time::*;

    pub use crate::prelude::{get_fps, get_frame_time, get_time};
}

/// macroquad's `window` module with the recorded reads of [`prelude`].
pub mod window {
    pub use macroquad::window::*;

    pub use crate::prelude::{screen_height, screen_width};
}

/// Draws relive's status (a reload, a build that failed and where, a panic and where) across
/// the top of the window on a dark band, wrapped to the window's width: red when it needs the
/// user, gray otherwise.
pub fn draw_status(text: &str, problem: bool) {
    use macroquad::prelude::*;
    const SIZE: u16 = 20;
    let width = screen_width() - 20.0;
    let mut lines: Vec<String> = Vec::new();
    for word in default_font_text(text).split(' ') {
        match lines.last_mut() {
            Some(line)
                if measure_text(format!("{line} {word}"), None, SIZE, 1.0).width <= width =>
            {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    let height = f32::from(SIZE) * lines.len() as f32 + 8.0;
    draw_rectangle(
        0.0,
        0.0,
        screen_width(),
        height,
        Color::new(0.0, 0.0, 0.0, 0.75),
    );
    let color = if problem {
        Color::new(1.0, 0.5, 0.5, 1.0)
    } else {
        Color::new(0.85, 0.85, 0.85, 1.0)
    };
    for (i, line) in lines.iter().enumerate() {
        draw_text(
            line,
            10.0,
            f32::from(SIZE) * (i as f32 + 1.0),
            f32::from(SIZE),
            color,
        );
    }
}

/// The text with the characters macroquad's default font lacks (arrows, typographic quotes,
/// ellipses) spelled in ASCII.
fn default_font_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2192}' => out.push_str("->"),
            '\u{2190}' => out.push_str("<-"),
            '\u{2026}' => out.push_str("..."),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{201c}' | '\u{201d}' => out.push('"'),
            '\n' | '\t' => out.push(' '),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}
