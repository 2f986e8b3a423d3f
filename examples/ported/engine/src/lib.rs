//! The engine the hosts and the workers share: macroquad, built once as a Rust `dylib` that
//! they all link. Use macroquad through this crate only (`use ported_engine::prelude::*;`): a
//! crate that depends on macroquad itself would get a second copy of it, never initialized (its
//! first call panics: `assertion failed: THREAD_ID.is_some()`). Changing this crate restarts the
//! host (with its state).

pub use macroquad::*;

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
