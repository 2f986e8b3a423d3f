//! The macroquad host: owns the window, the input and the textures, and draws what the game asks
//! for. F1 opens the inspector, F5 quicksaves, F9 quickloads, F2 dumps the state as pretty JSON; the top line shows the
//! worker's version, the last reload and, after a panic, its message (the last good frame stays
//! on screen until the fix is saved).

use std::time::Instant;

use macroquad::prelude::*;
use quad_base::{Context, Input, TextureId};

relive::worker!(type Game = quad_worker for dyn Context);

const QUICKSAVE: &str = "quicksave.relive";
const JSON_DUMP: &str = "quicksave.json";

/// One drawing the game asked for, replayed by the host after the game's update.
enum Draw {
    Text(String, f32, f32, f32, Color),
    Texture(u32, f32, f32),
}

struct Host {
    frame: Vec<Draw>,
    /// The inspector panel holds the keyboard (a field is typed into): the game sees no keys.
    keys_held_back: bool,
    dt: f32,
    /// The host-owned resources, by name; the game holds indices into this.
    textures: Vec<(&'static str, Texture2D)>,
}

impl Context for Host {
    fn draw_text(&mut self, text: &str, x: f32, y: f32, size: f32, c: quad_base::Color) {
        self.frame.push(Draw::Text(
            text.to_owned(),
            x,
            y,
            size,
            Color::new(c[0], c[1], c[2], c[3]),
        ));
    }

    fn draw_texture(&mut self, texture: TextureId, x: f32, y: f32) {
        self.frame.push(Draw::Texture(texture.0, x, y));
    }

    fn is_pressed(&self, input: Input) -> bool {
        !self.keys_held_back
            && is_key_down(match input {
                Input::Left => KeyCode::A,
                Input::Right => KeyCode::D,
                Input::Up => KeyCode::W,
                Input::Down => KeyCode::S,
            })
    }

    fn frame_time(&self) -> f32 {
        self.dt
    }

    fn texture(&self, name: &str) -> Option<TextureId> {
        self.textures
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| u32::try_from(i).ok())
            .map(TextureId)
    }
}

/// A small checkerboard made by the host at start: the resource the game refers to by handle.
fn sprite() -> Texture2D {
    let mut image = Image::gen_image_color(32, 32, Color::new(0.2, 0.4, 1.0, 1.0));
    for y in 0..32u32 {
        for x in 0..32u32 {
            if (x / 8 + y / 8) % 2 == 0 {
                image.set_pixel(x, y, Color::new(1.0, 0.85, 0.1, 1.0));
            }
        }
    }
    Texture2D::from_image(&image)
}

/// Draws `text` as a band across the top of the window, wrapped to its width (never cut off),
/// on a dark background: red when it needs the user, gray otherwise.
fn draw_band(text: &str, problem: bool) {
    const SIZE: u16 = 20;
    let width = screen_width() - 20.0;
    let mut lines: Vec<String> = Vec::new();
    for word in default_font_text(text).split(' ') {
        match lines.last_mut() {
            Some(line)
                if measure_text(&format!("{line} {word}")[..], None, SIZE, 1.0).width <= width =>
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

/// The frame rate the host holds (without vsync, under Xvfb say, it would spin a whole core).
const FPS: f64 = 60.0;

#[macroquad::main("relive: quad")]
async fn main() {
    let mut game = match Game::new("quad_worker") {
        Ok(game) => game,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let mut host = Host {
        frame: Vec::new(),
        keys_held_back: false,
        dt: 0.0,
        textures: vec![("sprite", sprite())],
    };
    let mut last_good: Vec<Draw> = Vec::new();
    let mut note = String::from("F1 inspector, F5 save, F9 load, F2 dump JSON");
    // F1 opens the inspector: the state, edited live; pause, step, rewind, loop.
    let mut inspector = relive_inspector::macroquad::Overlay::new();
    // Each frame starts when the last one's wait ended: the present (`next_frame`) counts
    // in the frame, so the rate is held at FPS.
    let mut started = Instant::now();
    loop {
        // While the panel has the keyboard, neither the game nor the host's keys act on it.
        host.keys_held_back = inspector.wants_keyboard();
        let keys = !host.keys_held_back;
        if keys && is_key_pressed(KeyCode::F5) {
            note = match game.save_snapshot(QUICKSAVE, relive::Format::Binary) {
                Ok(()) => format!("saved to {QUICKSAVE}"),
                Err(e) => e.to_string(),
            };
        }
        if keys && is_key_pressed(KeyCode::F9) {
            note = match game.load_snapshot(QUICKSAVE) {
                Ok(()) => format!("loaded {QUICKSAVE}"),
                Err(e) => e.to_string(),
            };
        }
        if keys && is_key_pressed(KeyCode::F2) {
            note = match game.save_snapshot(JSON_DUMP, relive::Format::Json) {
                Ok(()) => format!("state dumped to {JSON_DUMP}"),
                Err(e) => e.to_string(),
            };
        }

        host.frame.clear();
        host.dt = get_frame_time();
        // After a panic the last good frame stays on screen; the status says what happened.
        if inspector.update(&mut game, &mut host).is_ok() {
            std::mem::swap(&mut last_good, &mut host.frame);
        }

        clear_background(Color::new(0.08, 0.08, 0.12, 1.0));
        for draw in &last_good {
            match draw {
                Draw::Text(text, x, y, size, color) => {
                    draw_text(text, *x, *y, *size, *color);
                }
                Draw::Texture(id, x, y) => {
                    if let Some((_, texture)) = host.textures.get(*id as usize) {
                        draw_texture(texture, *x, *y, WHITE);
                    }
                }
            }
        }
        // relive's status (none in a ship build): the last reload, a build that failed (the
        // compiler's first error and where), a refused reload, a panic (where).
        match game.status() {
            Some(status) => draw_band(&format!("{status}  |  {note}"), status.is_problem()),
            None => draw_band(&note, false),
        }
        inspector.draw();
        let rest = std::time::Duration::from_secs_f64(1.0 / FPS).saturating_sub(started.elapsed());
        std::thread::sleep(rest);
        started = Instant::now();
        next_frame().await;
    }
}
