//! How the panel reads the state for its tree, without a long frame.
//!
//! A small state is encoded by the worker on the game's thread and made into JSON there: a few
//! microseconds. A larger one (over 256 KB encoded, or taking over 4 ms to encode:
//! [`relive::Worker::encode_is_slow`]) is read aside: a copy of the process
//! ([`relive::Worker::snapshot_aside`]) encodes it as it was at the end of the frame, while the
//! game's frames go on, and a thread makes it into JSON. The game's thread then pays for the
//! fork only. Where the fork cannot be made, the state is read in the frame as before, and made
//! into JSON on a thread.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use relive::{Interface, Snapshot, Worker};
use serde_json::Value;

/// A state encoded larger than this is read aside (its JSON made on a thread of its own).
pub(crate) const ASIDE_FROM_BYTES: usize = 256 << 10;

/// What one read of the state gives: the tree and its size as JSON text, or why it could not
/// be read (a whole sentence, shown as it is).
pub(crate) type Tree = Result<(Value, usize), String>;

/// A read of the state going on aside.
pub(crate) struct Reading {
    done: Receiver<Tree>,
    /// What the read took on the game's thread (the fork, or the worker's encode).
    pub(crate) on_game_thread: Duration,
    /// When the rest started.
    pub(crate) started: Instant,
    /// Whether the state read was after a frame the game played.
    pub(crate) ran: bool,
    /// Whether a copy of the process encodes it (the encode is not on the game's thread).
    pub(crate) forked: bool,
}

/// What [`start`] did: the tree at once (a small state), or a read going on aside.
pub(crate) enum Started {
    /// The state read and made into JSON in the frame.
    Now(Tree, Duration),
    /// A read going on aside.
    Aside(Reading),
}

impl Reading {
    /// The tree, once ready.
    pub(crate) fn poll(&self) -> Option<Tree> {
        match self.done.try_recv() {
            Ok(tree) => Some(tree),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the thread reading it stopped".into())),
        }
    }
}

/// Starts a read of the state: aside (`aside`: a copy of the process encodes it) or in the frame.
pub(crate) fn start<C: ?Sized + Interface + 'static>(
    game: &Worker<C>,
    aside: bool,
    ran: bool,
) -> Result<Started, String> {
    let started = Instant::now();
    if aside {
        match game.snapshot_aside() {
            Ok(copy) => {
                let on_game_thread = started.elapsed();
                return on_a_thread(move || copy.wait().map_err(|e| unreadable(&e))).map(|done| {
                    Started::Aside(Reading {
                        done,
                        on_game_thread,
                        started: Instant::now(),
                        ran,
                        forked: true,
                    })
                });
            }
            Err(e) => log::warn!("{e}; the panel reads the state in the frame"),
        }
    }
    let snapshot = game.snapshot().map_err(|e| unreadable(&e))?;
    let on_game_thread = started.elapsed();
    if snapshot.bytes.len() <= ASIDE_FROM_BYTES {
        return Ok(Started::Now(to_tree(&snapshot), started.elapsed()));
    }
    on_a_thread(move || Ok(snapshot)).map(|done| {
        Started::Aside(Reading {
            done,
            on_game_thread,
            started: Instant::now(),
            ran,
            forked: false,
        })
    })
}

/// Runs `snapshot` (which may wait), then makes the state into JSON, on a thread of its own.
fn on_a_thread(
    snapshot: impl FnOnce() -> Result<Snapshot, String> + Send + 'static,
) -> Result<Receiver<Tree>, String> {
    let (tx, done) = mpsc::channel();
    std::thread::Builder::new()
        .name("relive-inspector-read".into())
        .spawn(move || {
            let _ = tx.send(snapshot().and_then(|s| to_tree(&s)));
        })
        .map_err(|e| format!("cannot read the state: cannot start a thread: {e}"))?;
    Ok(done)
}

/// Why the state could not be read, as the panel says it.
fn unreadable(e: &relive::Error) -> String {
    match e {
        // Says it already.
        relive::Error::ReadAside { .. } => e.to_string(),
        e => format!("cannot read the state: {e}"),
    }
}

/// Drops `value` on a thread of its own (a large tree takes longer to free than a frame has).
pub(crate) fn let_go<T: Send + 'static>(value: T) {
    // If no thread can be started, the closure is dropped here, and the value with it.
    let _ = std::thread::Builder::new()
        .name("relive-inspector-free".into())
        .spawn(move || drop(value));
}

/// The tree of an encoded state, and about how many bytes it takes as JSON text.
pub(crate) fn to_tree(snapshot: &Snapshot) -> Tree {
    let state = snapshot.to_json().map_err(|e| unreadable(&e))?;
    let bytes = estimate_bytes(&state);
    Ok((state, bytes))
}

/// About how many bytes `value` takes as JSON text (without writing it out).
fn estimate_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| estimate_bytes(v) + 1).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 4 + estimate_bytes(v))
                .sum::<usize>()
        }
    }
}
