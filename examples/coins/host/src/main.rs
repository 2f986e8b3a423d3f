//! The coins host: owns the terminal, the keyboard and the clock, and calls the game every tick.
//!
//! In a terminal it draws the game full-screen at 30 frames a second. When stdin or stdout is not a
//! terminal it runs headless: every character read from stdin is a key (`w`, `a`, `s`, `d`; `q`
//! quits), one key per tick, and every tick prints the game's state as one line, so that scripts
//! and tests can drive it.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

use coins_base::{Context, Key};
use crossterm::{cursor, event, execute, queue, style, terminal};

relive::worker!(type Game = coins_worker for dyn Context);

/// What the game sees: this tick's key, the frame being drawn, its report line.
#[derive(Default)]
struct Host {
    key: Option<Key>,
    frame: Vec<(u16, u16, String)>,
    report: String,
}

impl Context for Host {
    fn key(&self) -> Option<Key> {
        self.key
    }

    fn draw(&mut self, x: u16, y: u16, text: &str) {
        self.frame.push((x, y, text.to_owned()));
    }

    fn report(&mut self, line: &str) {
        line.clone_into(&mut self.report);
    }
}

fn key_of(c: char) -> Option<Key> {
    match c.to_ascii_lowercase() {
        'w' => Some(Key::Up),
        's' => Some(Key::Down),
        'a' => Some(Key::Left),
        'd' => Some(Key::Right),
        _ => None,
    }
}

fn main() {
    let mut game = match Game::new("coins_worker") {
        Ok(game) => game,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let result = if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        run_terminal(&mut game)
    } else {
        run_headless(&mut game)
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Scripted keys from stdin, one state line per tick on stdout, 20 ticks a second.
fn run_headless(game: &mut Game) -> std::io::Result<()> {
    let keys = spawn_stdin_reader();
    let events = game.subscribe();
    let mut host = Host::default();
    let tick = Duration::from_millis(50);
    let mut next = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut shown: Option<relive::Status> = None;
    loop {
        host.key = None;
        match keys.try_recv() {
            Ok('q') => return Ok(()),
            Ok('l') => toggle_loop(game),
            Ok('r') => rewind_a_second(game),
            Ok(c) => host.key = key_of(c),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => return Ok(()),
        }
        host.frame.clear();
        if let Err(e) = game.update(&mut host)
            && !matches!(e, relive::Error::Panicked { .. })
        {
            eprintln!("{e}");
        }
        writeln!(out, "{}", host.report)?;
        // relive's status when it changes (a panic is in it, with where; its repeats are counted,
        // not printed), and the events as JSON.
        if let Some(status) = game.status()
            && shown.as_ref().is_none_or(|s| status.is_news_since(s))
        {
            eprintln!("relive status: {status}");
            shown = Some(status);
        }
        while let Ok(event) = events.try_recv() {
            if let Ok(line) = serde_json::to_string(&event) {
                eprintln!("relive: {line}");
            }
        }
        next += tick;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// `l`: starts a loop, plays it, stops it (relive's status shows which). Nothing in a ship build.
fn toggle_loop(game: &mut Game) {
    // A refusal (a ship build, a recording of no frame) is in relive's status line.
    let _ = match game.loop_state() {
        relive::LoopState::Off => game.loop_start(),
        relive::LoopState::Armed | relive::LoopState::Recording { .. } => {
            game.loop_end().map(|_| ())
        }
        relive::LoopState::Playing { .. } => game.loop_stop().map(|_| ()),
    };
}

/// `r`: the game as it was a second ago (relive's rewind history). Nothing in a ship build.
fn rewind_a_second(game: &mut Game) {
    // Refused (nothing changes) in a ship build or before a second was played.
    let _ = game.rewind(relive::Rewind::Seconds(1.0));
}

/// Every character of stdin, in order; the channel closes at end of input.
fn spawn_stdin_reader() -> Receiver<char> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            for c in line.chars().filter(|c| !c.is_whitespace()) {
                if tx.send(c).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The full-screen game.
fn run_terminal(game: &mut Game) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    terminal::enable_raw_mode()?;
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
    let result = play(game, &mut out);
    let _ = execute!(out, cursor::Show, terminal::LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
    result
}

fn play(game: &mut Game, out: &mut std::io::Stdout) -> std::io::Result<()> {
    let mut host = Host::default();
    // After a panic the last good frame stays on screen until the fix is saved.
    let mut last_good: Vec<(u16, u16, String)> = Vec::new();
    // Keys typed faster than the frames come are played one per frame, in order.
    let mut pending = std::collections::VecDeque::new();
    let frame = Duration::from_secs(1) / 30;
    let mut next = Instant::now();
    loop {
        while event::poll(Duration::ZERO)? {
            if let event::Event::Key(k) = event::read()? {
                if k.kind == event::KeyEventKind::Release {
                    continue;
                }
                let ctrl_c = k.code == event::KeyCode::Char('c')
                    && k.modifiers.contains(event::KeyModifiers::CONTROL);
                let key = match k.code {
                    event::KeyCode::Char('q') | event::KeyCode::Esc => return Ok(()),
                    _ if ctrl_c => return Ok(()),
                    event::KeyCode::Up => Some(Key::Up),
                    event::KeyCode::Down => Some(Key::Down),
                    event::KeyCode::Left => Some(Key::Left),
                    event::KeyCode::Right => Some(Key::Right),
                    event::KeyCode::Char('l') => {
                        toggle_loop(game);
                        None
                    }
                    event::KeyCode::Char('r') => {
                        rewind_a_second(game);
                        None
                    }
                    event::KeyCode::Char(c) => key_of(c),
                    _ => None,
                };
                pending.extend(key);
            }
        }
        host.key = pending.pop_front();
        host.frame.clear();
        if game.update(&mut host).is_ok() {
            std::mem::swap(&mut last_good, &mut host.frame);
        }
        queue!(out, terminal::Clear(terminal::ClearType::All))?;
        for (x, y, text) in &last_good {
            queue!(out, cursor::MoveTo(*x, *y), style::Print(text))?;
        }
        // The status area below the map: relive's status (none in a ship build), wrapped to
        // the terminal's width, red when it needs the user.
        let bottom = last_good.iter().map(|(_, y, _)| *y).max().unwrap_or(0) + 2;
        if let Some(status) = game.status() {
            let (width, _) = terminal::size().unwrap_or((80, 24));
            let color = if status.is_problem() {
                style::Color::Red
            } else {
                style::Color::DarkGrey
            };
            queue!(out, style::SetForegroundColor(color))?;
            for (i, line) in wrap(&format!("relive: {status}"), usize::from(width.max(20)))
                .iter()
                .enumerate()
            {
                let row = bottom.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
                queue!(out, cursor::MoveTo(0, row), style::Print(line))?;
            }
            queue!(out, style::ResetColor)?;
        }
        out.flush()?;
        next += frame;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// `text` in lines of at most `width` characters, broken at spaces where it can be.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => {
                let chars: Vec<char> = word.chars().collect();
                for chunk in chars.chunks(width) {
                    lines.push(chunk.iter().collect());
                }
            }
        }
    }
    lines
}
