//! [`Inspector`]: what the panel holds between frames, and the frame itself (the game's update,
//! a frozen one while paused or scrubbing, the edits applied before it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relive::{Error, Interface, Rewind, Worker};
use serde_json::Value;

use crate::model::{self, display_path};
use crate::read::{self, Reading, Started};

/// How long a note (an edit refused, a value the game overwrote) stays in the panel.
pub(crate) const NOTE_FOR: Duration = Duration::from_secs(6);

/// The longest an edit may take to be applied each frame of a drag (a quarter of a 60 fps
/// frame); a slower one is applied once, when the drag ends.
pub(crate) const EDIT_IN_FRAME: Duration = Duration::from_millis(4);

/// Refreshing the tree may take at most this share of the game thread's time (a large state is
/// then refreshed less often, never every frame)...
const REFRESH_SHARE: u32 = 10;

/// ...and a read aside (a copy of the process and a thread, on another core) at most this share
/// of the time.
const ASIDE_SHARE: u32 = 3;

/// The largest JSON state the tree shows (beyond it, the panel says so).
const MAX_SHOWN_BYTES: usize = 64 << 20;

/// Something the user did in the panel, applied before the game's next frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// One value changed (a number dragged or typed, a checkbox, a colour, a string).
    Set { pointer: String, value: Value },
    /// A change of the value's shape (an enum variant, `None`/`Some`, an item added or
    /// removed, a value typed as JSON): the whole state goes back through the decoder.
    Replace { pointer: String, value: Value },
    /// Removes the item or key at `pointer`.
    Remove { pointer: String },
    /// Pauses or resumes play.
    Pause(bool),
    /// One frame of play while paused.
    Step,
    /// Shows the history's frame (while the slider is dragged).
    Scrub(u64),
    /// Goes back to the history's frame for good (the slider released).
    RewindTo(u64),
    /// Starts recording a loop.
    LoopStart,
    /// Ends the recording: the loop plays.
    LoopEnd,
    /// Stops the loop.
    LoopStop,
}

/// A value the user set, checked after the game's next frame: did the game keep it?
#[derive(Debug)]
struct Pending {
    pointer: String,
    value: Value,
}

/// A note shown next to a value, or at the top of the panel.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) text: String,
    pub(crate) problem: bool,
    pub(crate) at: Instant,
}

/// A plotted value: its path and the (frame, value) points over the kept history.
#[derive(Debug)]
pub(crate) struct Plot {
    pub(crate) pointer: String,
    pub(crate) points: Vec<[f64; 2]>,
}

/// The in-window inspector's state between frames: the state as last read, what is expanded,
/// watched and plotted, the time controls, the notes. Front ends own one and call [`Inspector::ui`]
/// then [`Inspector::update`] each frame.
pub struct Inspector {
    /// The state after the last frame, as JSON (shared with the frame's UI: a large tree is
    /// not copied each frame).
    pub(crate) state: Option<Arc<Value>>,
    /// A large state being read aside.
    reading: Option<Reading>,
    /// How many reads of the state reached the tree.
    reads: u64,
    /// Whether the next read is made aside (see [`crate::read`]); `None` until known.
    read_aside: Option<bool>,
    /// Why the state could not be read, when it could not.
    pub(crate) state_error: Option<String>,
    /// The size of the tree in `state` as JSON text (0 for none), to know how to let go of it.
    tree_bytes: usize,
    /// The state's size as JSON text, for the header (estimated when read).
    pub(crate) state_bytes: usize,
    /// When the state was last read and what reading it cost.
    refreshed: Option<Instant>,
    pub(crate) refresh_cost: Duration,
    /// What of it was on the game's thread (all of it, unless the state was read aside).
    pub(crate) refresh_in_frame: Duration,
    /// The tree's filter text.
    pub(crate) filter: String,
    /// Pinned paths.
    pub(crate) watch: Vec<String>,
    pub(crate) plots: Vec<Plot>,
    pub(crate) paused: bool,
    /// The frame the history slider shows, while it is dragged.
    pub(crate) scrub: Option<u64>,
    /// The state of the scrubbed frame, shown in the tree while scrubbing.
    pub(crate) scrub_state: Option<(u64, Arc<Value>)>,
    step: bool,
    /// Notes by path (an edit refused or overwritten), and `""` for the panel's own.
    pub(crate) notes: HashMap<String, Note>,
    /// What the user is typing, by path: the game's changes to those values do not reach the
    /// field until it loses focus.
    pub(crate) typing: HashMap<String, String>,
    /// What the user is dragging: the number follows the drag, not the game.
    pub(crate) dragging: Option<(String, f64)>,
    /// What the last edit of one value took on the game's thread (the worker decodes the whole
    /// state): past [`EDIT_IN_FRAME`], a dragged number is applied when let go, not each frame.
    pub(crate) edit_cost: Duration,
    /// A value taken out by "set to None", put back by "Some".
    pub(crate) remembered: HashMap<String, Value>,
    /// Enum variants the worker's decoder listed, by path (`None`: a plain string).
    pub(crate) variants: HashMap<String, Option<Vec<String>>>,
    /// The "edit as JSON" box: its path and text.
    pub(crate) json_edit: Option<(String, String)>,
    pending: Vec<Pending>,
    pub(crate) actions: Vec<Action>,
    /// The tweakable literals' section.
    pub(crate) literals: crate::literals::Literals,
    /// The worker version the tree was read from (a reload clears what depends on the code).
    version: u64,
    /// Frames counted here when the game keeps no history (plots then start when they are added).
    frames: u64,
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector::new()
    }
}

impl Inspector {
    /// An inspector with nothing expanded, watched or plotted.
    pub fn new() -> Inspector {
        Inspector {
            state: None,
            reading: None,
            read_aside: None,
            reads: 0,
            state_error: None,
            state_bytes: 0,
            tree_bytes: 0,
            refreshed: None,
            refresh_cost: Duration::ZERO,
            refresh_in_frame: Duration::ZERO,
            filter: String::new(),
            watch: Vec::new(),
            plots: Vec::new(),
            paused: false,
            scrub: None,
            scrub_state: None,
            step: false,
            notes: HashMap::new(),
            typing: HashMap::new(),
            dragging: None,
            edit_cost: Duration::ZERO,
            remembered: HashMap::new(),
            variants: HashMap::new(),
            json_edit: None,
            pending: Vec::new(),
            actions: Vec::new(),
            literals: crate::literals::Literals::default(),
            version: 0,
            frames: 0,
        }
    }

    /// The state as the panel last read it, as JSON (`None` while closed, or when it could not
    /// be read).
    pub fn state(&self) -> Option<&Value> {
        self.state.as_deref()
    }

    /// How many times the panel has read the state for its tree (a large state is read less
    /// often than every frame, and aside: see [`Inspector::update`]).
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Whether play is paused (the game's `update` runs on a copy of the state each frame, so
    /// the frame is still drawn, and the copy is thrown away).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Pauses or resumes play, as the panel's button does.
    pub fn set_paused(&mut self, paused: bool) {
        self.actions.push(Action::Pause(paused));
    }

    /// Pins `pointer` (a JSON pointer such as `/player/speed`) into the watch list.
    pub fn watch(&mut self, pointer: &str) {
        if !self.watch.iter().any(|w| w == pointer) {
            self.watch.push(pointer.to_owned());
        }
    }

    /// Runs the game's frame: the panel's edits and time controls first, then the game's
    /// `update` (or, while paused or scrubbing, an `update` on a copy of the state that is then
    /// thrown away, so the frame is drawn and the game does not move), then the state is read
    /// again for the panel when `open` (a state that takes long to encode is read by a copy of
    /// the process while the game plays on: see [`relive::Worker::snapshot_aside`]). The result
    /// is the game's `update`'s.
    pub fn update<C: ?Sized + Interface + 'static>(
        &mut self,
        game: &mut Worker<C>,
        ctx: &mut C,
        open: bool,
    ) -> Result<(), Error> {
        let mut stepped = false;
        for action in std::mem::take(&mut self.actions) {
            stepped |= action == Action::Step;
            self.apply(action, game);
        }
        self.literals.apply(game);
        let result = if let Some(frame) = self.scrub {
            game.update_frozen_at(frame, ctx)
        } else if self.paused && !std::mem::take(&mut self.step) {
            game.update_frozen(ctx)
        } else {
            self.frames += 1;
            game.update(ctx)
        };
        let ran = self.scrub.is_none() && (!self.paused || stepped);
        if game.version() != self.version {
            self.version = game.version();
            // Another build: what the decoder said about variants may have changed.
            self.variants.clear();
        }
        if open {
            self.literals.refresh(game);
            self.refresh(game, ran);
        } else {
            self.set_tree(None, 0);
            self.refreshed = None;
            self.reading = None;
            self.read_aside = None;
        }
        result
    }

    /// Reads the state again (when due: a large state less often, and made into JSON aside)
    /// and checks the values the user set against it.
    fn refresh<C: ?Sized + Interface + 'static>(&mut self, game: &Worker<C>, ran: bool) {
        if let Some(reading) = &self.reading {
            let Some(result) = reading.poll() else {
                return;
            };
            let cost = reading.on_game_thread + reading.started.elapsed();
            let (read_ran, forked) = (reading.ran, reading.forked);
            self.refresh_in_frame = reading.on_game_thread;
            self.reading = None;
            self.refresh_cost = cost;
            self.refreshed = Some(Instant::now());
            if forked {
                // The copy's encode is not measured on the game's thread: its size decides.
                self.read_aside = Some(
                    result
                        .as_ref()
                        .map_or(true, |(_, bytes)| *bytes > read::ASIDE_FROM_BYTES),
                );
            } else {
                self.read_aside = Some(game.encode_is_slow());
            }
            return self.install(game, result, read_ran);
        }
        let due = match self.refreshed {
            None => true,
            Some(at) => {
                at.elapsed()
                    >= (self.refresh_in_frame * REFRESH_SHARE).max(self.refresh_cost * ASIDE_SHARE)
            }
        };
        if !due && self.pending.is_empty() {
            return;
        }
        let aside = *self.read_aside.get_or_insert_with(|| game.encode_is_slow());
        match read::start(game, aside, ran) {
            Ok(Started::Aside(reading)) => self.reading = Some(reading),
            Ok(Started::Now(result, cost)) => {
                self.refresh_cost = cost;
                self.refresh_in_frame = cost;
                self.refreshed = Some(Instant::now());
                self.read_aside = Some(game.encode_is_slow());
                self.install(game, result, ran);
            }
            Err(e) => {
                self.state_error = Some(e);
                self.set_tree(None, 0);
            }
        }
    }

    /// Replaces the tree. A large old one is let go of on a thread: freeing a million values
    /// takes longer than a frame has.
    fn set_tree(&mut self, tree: Option<Arc<Value>>, bytes: usize) {
        let old = std::mem::replace(&mut self.state, tree);
        if std::mem::replace(&mut self.tree_bytes, bytes) > read::ASIDE_FROM_BYTES {
            read::let_go(old);
        }
    }

    /// The state just read becomes the tree (unless it is too large to show).
    fn install<C: ?Sized + Interface + 'static>(
        &mut self,
        game: &Worker<C>,
        result: read::Tree,
        ran: bool,
    ) {
        self.reads += 1;
        match result {
            Ok((state, bytes)) => {
                self.state_bytes = bytes;
                if bytes > MAX_SHOWN_BYTES {
                    self.state_error = Some(format!(
                        "the state is {} MB as JSON: too large to show (the game goes on)",
                        bytes >> 20
                    ));
                    read::let_go(state);
                    self.set_tree(None, 0);
                    return;
                }
                self.state_error = None;
                if ran {
                    self.check_pending(&state);
                }
                self.record_plots(game, &state, ran);
                self.set_tree(Some(Arc::new(state)), bytes);
            }
            Err(e) => {
                self.state_error = Some(e);
                self.set_tree(None, 0);
            }
        }
    }

    /// After a frame the game played: the values the user set that the game changed back are
    /// noted as such, so an edit is never silently lost.
    fn check_pending(&mut self, state: &Value) {
        for edit in std::mem::take(&mut self.pending) {
            let Some(now) = state.pointer(&edit.pointer) else {
                continue;
            };
            if !model::still_holds(&edit.value, now) {
                self.note(
                    &edit.pointer,
                    format!(
                        "the game set it back to {now} in the same frame (it recomputes this \
                         value each frame: change what it is computed from)"
                    ),
                    true,
                );
            }
        }
    }

    /// Adds the frame's value of each plotted number.
    fn record_plots<C: ?Sized + Interface + 'static>(
        &mut self,
        game: &Worker<C>,
        state: &Value,
        ran: bool,
    ) {
        let frame = game
            .history_frames()
            .map_or(self.frames, |(_, newest)| newest);
        for plot in &mut self.plots {
            // After a rewind the later points are gone from the history too.
            plot.points.retain(|p| p[0] <= frame as f64);
            if !ran {
                continue;
            }
            if let Some(y) = state.pointer(&plot.pointer).and_then(Value::as_f64)
                && plot.points.last().is_none_or(|p| p[0] < frame as f64)
            {
                plot.points.push([frame as f64, y]);
            }
            let oldest = game.history_frames().map_or(0, |(oldest, _)| oldest);
            let cut = plot.points.partition_point(|p| p[0] < oldest as f64);
            if cut > 0 && game.history_frames().is_some() {
                plot.points.drain(..cut);
            }
        }
    }

    /// Starts plotting `pointer`, filled from the kept history (no new recording: the history
    /// already holds every frame's state).
    pub(crate) fn add_plot<C: ?Sized + Interface + 'static>(
        &mut self,
        game: &Worker<C>,
        pointer: &str,
    ) {
        if self.plots.iter().any(|p| p.pointer == pointer) {
            return;
        }
        let mut points = Vec::new();
        if let Some((oldest, newest)) = game.history_frames() {
            for frame in oldest..=newest {
                if let Ok(kept) = game.history_state(Rewind::ToFrame(frame))
                    && let Some(y) = kept.state.pointer(pointer).and_then(Value::as_f64)
                {
                    points.push([kept.frame as f64, y]);
                }
            }
        }
        self.plots.push(Plot {
            pointer: pointer.to_owned(),
            points,
        });
    }

    /// Applies one of the panel's actions to the game.
    fn apply<C: ?Sized + Interface + 'static>(&mut self, action: Action, game: &mut Worker<C>) {
        match action {
            Action::Set { pointer, value } => {
                let started = Instant::now();
                let result = game.set_state_at(&pointer, value.clone());
                self.edit_cost = started.elapsed();
                match result {
                    Ok(now) => {
                        self.notes.remove(&pointer);
                        self.pending.push(Pending {
                            pointer: pointer.clone(),
                            value: now,
                        });
                        self.patch(&pointer, value);
                    }
                    Err(e) => self.note(&pointer, refusal(&e), true),
                }
            }
            Action::Replace { pointer, value } => self.replace(game, &pointer, Some(value)),
            Action::Remove { pointer } => self.replace(game, &pointer, None),
            Action::Pause(paused) => {
                self.paused = paused;
                self.step = false;
            }
            Action::Step => {
                self.paused = true;
                self.step = true;
            }
            Action::Scrub(frame) => {
                if self.scrub != Some(frame) {
                    self.scrub_state = game
                        .history_state(Rewind::ToFrame(frame))
                        .ok()
                        .map(|kept| (kept.frame, Arc::new(kept.state)));
                }
                self.scrub = Some(frame);
            }
            Action::RewindTo(frame) => {
                self.scrub = None;
                self.scrub_state = None;
                let newest = game.history_frames().map(|(_, newest)| newest);
                if newest != Some(frame) {
                    match game.rewind(Rewind::ToFrame(frame)) {
                        Ok(back) => self.note("", format!("went back {back} frames"), false),
                        Err(e) => self.note("", e.to_string(), true),
                    }
                }
                self.refreshed = None;
            }
            Action::LoopStart => match game.loop_start() {
                Ok(()) => self.note("", "recording a loop: play, then end it".to_owned(), false),
                Err(e) => self.note("", e.to_string(), true),
            },
            Action::LoopEnd => match game.loop_end() {
                Ok(frames) => self.note("", format!("the loop plays its {frames} frames"), false),
                Err(e) => self.note("", e.to_string(), true),
            },
            Action::LoopStop => match game.loop_stop() {
                Ok(passes) => self.note("", format!("loop stopped after {passes} passes"), false),
                Err(e) => self.note("", e.to_string(), true),
            },
        }
    }

    /// Replaces (or, with `None`, removes) the value at `pointer` in the whole state and hands
    /// it to the worker's decoder, which takes it or refuses it with the path.
    fn replace<C: ?Sized + Interface + 'static>(
        &mut self,
        game: &mut Worker<C>,
        pointer: &str,
        value: Option<Value>,
    ) {
        let mut state = match game.state_json() {
            Ok(state) => state,
            Err(e) => return self.note(pointer, e.to_string(), true),
        };
        let changed = match value {
            Some(value) => match state.pointer_mut(pointer) {
                Some(slot) => {
                    *slot = value;
                    true
                }
                None => false,
            },
            None => remove_at(&mut state, pointer),
        };
        if !changed {
            let text = format!("no value at {} any more", display_path(pointer));
            return self.note(pointer, text, true);
        }
        match game.set_state_json(&state) {
            Ok(()) => {
                self.notes.remove(pointer);
                self.refreshed = None;
            }
            Err(e) => self.note(pointer, refusal(&e), true),
        }
    }

    /// Writes `value` into the shown tree at once, so the field shows it this frame.
    fn patch(&mut self, pointer: &str, value: Value) {
        if let Some(slot) = self
            .state
            .as_mut()
            .and_then(|s| Arc::make_mut(s).pointer_mut(pointer))
        {
            *slot = value;
        }
    }

    /// Puts a note next to `pointer` (`""`: at the top of the panel).
    pub(crate) fn note(&mut self, pointer: &str, text: String, problem: bool) {
        self.notes.insert(
            pointer.to_owned(),
            Note {
                text,
                problem,
                at: Instant::now(),
            },
        );
    }

    /// The note at `pointer` while it is recent.
    pub(crate) fn note_at(&self, pointer: &str) -> Option<&Note> {
        self.notes
            .get(pointer)
            .filter(|n| n.at.elapsed() < NOTE_FOR)
    }
}

/// What the panel says when the game refused an edit: the decoder's words (it names the field).
fn refusal(e: &Error) -> String {
    format!("not changed: {e}")
}

/// Removes the item or key at `pointer`; whether there was one.
fn remove_at(state: &mut Value, pointer: &str) -> bool {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    match state.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&key).is_some(),
        Some(Value::Array(items)) => match key.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::remove_at;
    use serde_json::json;

    #[test]
    fn removing_takes_out_an_item_or_a_key_and_nothing_else() {
        let mut state = json!({"items": [1, 2, 3], "map": {"a/b": 1, "c": 2}});
        assert!(remove_at(&mut state, "/items/1"));
        assert!(remove_at(&mut state, "/map/a~1b"));
        assert!(!remove_at(&mut state, "/items/7"));
        assert!(!remove_at(&mut state, "/nothing/here"));
        assert_eq!(state, json!({"items": [1, 3], "map": {"c": 2}}));
    }
}
