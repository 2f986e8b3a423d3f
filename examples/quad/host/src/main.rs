//! The macroquad host: owns the window, the input and the textures, and draws what the game asks
//! for. F5 quicksaves, F9 quickloads, F2 dumps the state as pretty JSON; the top line shows the
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
        is_key_down(match input {
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

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last().map(|l| l.chars().count()).unwrap_or(0);
        if last > 0 && last + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[macroquad::main("relive: quad")]
async fn main() {
    let mut game = match Game::new("quad_worker") {
        Ok(game) => game,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let events = game.subscribe();
    let mut host = Host {
        frame: Vec::new(),
        dt: 0.0,
        textures: vec![("sprite", sprite())],
    };
    let mut last_good: Vec<Draw> = Vec::new();
    // A refused build stays reported until a build is swapped in.
    let mut refused: Option<String> = None;
    let mut note = String::from("F5 save, F9 load, F2 dump JSON");
    let mut last_reload: Option<Instant> = None;
    loop {
        if is_key_pressed(KeyCode::F5) {
            note = match game.save_snapshot(QUICKSAVE, relive::Format::Binary) {
                Ok(()) => format!("saved to {QUICKSAVE}"),
                Err(e) => e.to_string(),
            };
        }
        if is_key_pressed(KeyCode::F9) {
            note = match game.load_snapshot(QUICKSAVE) {
                Ok(()) => format!("loaded {QUICKSAVE}"),
                Err(e) => e.to_string(),
            };
        }
        if is_key_pressed(KeyCode::F2) {
            note = match game.save_snapshot(JSON_DUMP, relive::Format::Json) {
                Ok(()) => format!("state dumped to {JSON_DUMP}"),
                Err(e) => e.to_string(),
            };
        }

        host.frame.clear();
        host.dt = get_frame_time();
        let panicked = match game.update(&mut host) {
            Ok(()) => {
                std::mem::swap(&mut last_good, &mut host.frame);
                None
            }
            // The last good frame stays on screen; the message says what happened.
            Err(e) => Some(e.to_string()),
        };
        while let Ok(event) = events.try_recv() {
            match event {
                relive::Event::Reloaded { .. } => {
                    last_reload = Some(Instant::now());
                    refused = None;
                }
                relive::Event::ReloadFailed { reason, .. } => refused = Some(reason),
                _ => {}
            }
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
        let reloaded = last_reload.map_or("never".to_owned(), |t| {
            format!("{:.1}s ago", t.elapsed().as_secs_f32())
        });
        let status = format!("worker v{}  reloaded {reloaded}  {note}", game.version());
        draw_text(&status, 10.0, 20.0, 20.0, LIGHTGRAY);
        let lines = panicked.iter().chain(&refused).flat_map(|p| wrap(p, 72));
        for (i, line) in lines.enumerate() {
            let color = Color::new(1.0, 0.3, 0.3, 1.0);
            draw_text(&line, 10.0, 44.0 + 22.0 * i as f32, 20.0, color);
        }
        next_frame().await;
    }
}
