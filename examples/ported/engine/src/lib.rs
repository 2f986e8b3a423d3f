//! The engine the hosts and the workers share: macroquad, built once as a Rust `dylib` that
//! they all link. Use macroquad through this crate only (`use ported_engine::prelude::*;`): a
//! crate that depends on macroquad itself would get a second copy of it, never initialized (its
//! first call panics: `assertion failed: THREAD_ID.is_some()`). Changing this crate restarts the
//! host (with its state).

pub use macroquad::*;

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
    }
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
