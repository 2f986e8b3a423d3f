//! The tape of a relive loop: every value the worker read from the host during a span of frames,
//! so that the span can be played again with the recorded values in place of the host's live
//! ones. Used through `relive_worker` (`relive_worker::tape`, `#[relive_worker::context]`), or
//! directly by an engine crate for [`reads!`].
//!
//! `#[relive_worker::context]` generates, for the interface's context trait, an implementation on
//! [`Taped`]: each method that returns a value records it (while recording) or hands back the
//! recorded one (while replaying); methods that return nothing (drawing) always reach the host.
//! [`reads!`] does the same for engine functions a worker calls directly. The host's
//! `relive::Worker` owns the tape and wraps each call of a loop with it. None of this is reached
//! unless a loop is started, and a ship build never calls it.
//!
//! Values are kept as compact MessagePack (no field names): the host that records a span is the
//! one that replays it, with the same interface crate.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

/// Wraps engine functions a worker calls directly (the engine-direct layout, `context: ()`), in
/// the engine crate, so that a loop can record what they return and play it back.
///
/// ```ignore
/// // In the shared engine crate (a `dylib`; it depends on relive-tape, not relive-worker):
/// pub mod prelude {
///     pub use macroquad::prelude::*;
///     relive_tape::reads! {
///         pub fn is_key_down(key: KeyCode) -> bool = macroquad::input::is_key_down;
///         pub fn get_frame_time() -> f32 = macroquad::time::get_frame_time;
///     }
/// }
/// // In the host:
/// game.record_reads(&base::prelude::RELIVE_READS);
/// ```
///
/// Each wrapper calls the engine function; while a loop records, it also records the value, and
/// while the loop plays, it returns the recorded one instead. The items it defines shadow the
/// ones of the same name that a glob (`pub use macroquad::prelude::*`) brings into the module.
/// It also defines `RELIVE_READS` ([`EngineReads`]) for the host, so once per module. The same
/// rules as for `#[relive_worker::context]`: a type that is not serde's `Serialize +
/// Deserialize`, a borrowed value or a `&mut` argument cannot be recorded, and a loop whose
/// recording reads one is refused with the function's name. A generic function cannot be listed.
///
/// A read marked `#[input(keyboard)]` or `#[input(pointer)]` is input the game should not see
/// while an inspector panel holds it ([`EngineReads::capture`]): it then returns its type's
/// `Default` (no key down, no click, no wheel), recorded as such by a loop.
///
/// The engine crate depends on `relive-tape` only: everything it depends on is shared by the host
/// and every worker version, and relive-worker must stay each version's own.
pub use relive_macros::reads;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The recorded reads of a span of frames, and where a replay is in it.
pub struct Tape {
    inner: RefCell<Inner>,
}

struct Inner {
    /// The context's method names, by index.
    names: &'static [&'static str],
    replaying: bool,
    /// The recorded values, back to back.
    data: Vec<u8>,
    /// Per call: the method and where its value ends in `data` (it starts where the previous one
    /// ends).
    calls: Vec<(u16, u32)>,
    /// Per frame: the index of its first call.
    frames: Vec<u32>,
    /// Replay: the frame being played.
    frame: usize,
    /// Replay: per method, the next call of the frame to look at.
    cursors: Vec<u32>,
    /// Recording: the first read that cannot be recorded.
    unrecordable: Option<String>,
    /// Replay: reads the recording has no value for (the code now running reads more, or other
    /// things), answered by the host live; per method.
    live: Vec<u64>,
}

impl Tape {
    /// An empty tape, recording, for a context with these methods.
    pub fn recording(names: &'static [&'static str]) -> Tape {
        Tape {
            inner: RefCell::new(Inner {
                names,
                replaying: false,
                data: Vec::new(),
                calls: Vec::new(),
                frames: Vec::new(),
                frame: 0,
                cursors: vec![0; names.len()],
                unrecordable: None,
                live: vec![0; names.len()],
            }),
        }
    }

    /// Recording: the next reads belong to a new frame.
    pub fn begin_frame(&self) {
        let mut t = self.inner.borrow_mut();
        let first = t.calls.len() as u32;
        t.frames.push(first);
    }

    /// Ends the recording; from now on the tape answers reads. Refused with what was read that
    /// cannot be recorded, or when no frame was recorded.
    pub fn finish(&self) -> Result<usize, String> {
        let mut t = self.inner.borrow_mut();
        if let Some(why) = &t.unrecordable {
            return Err(why.clone());
        }
        if t.frames.is_empty() {
            return Err("no frame was played since the loop started".to_owned());
        }
        t.replaying = true;
        Ok(t.frames.len())
    }

    /// Replay: plays frame `frame` next (reads start again from its first recorded value).
    pub fn seek(&self, frame: usize) {
        let mut t = self.inner.borrow_mut();
        t.frame = frame;
        let first = t.frames.get(frame).copied().unwrap_or(u32::MAX);
        t.cursors.iter_mut().for_each(|c| *c = first);
    }

    /// Frames recorded.
    pub fn frames(&self) -> usize {
        self.inner.borrow().frames.len()
    }

    /// Memory the recording takes, in bytes.
    pub fn bytes(&self) -> usize {
        let t = self.inner.borrow();
        t.data.capacity()
            + t.calls.capacity() * std::mem::size_of::<(u16, u32)>()
            + t.frames.capacity() * std::mem::size_of::<u32>()
    }

    /// The first read of the recording that cannot be recorded, in words.
    pub fn unrecordable(&self) -> Option<String> {
        self.inner.borrow().unrecordable.clone()
    }

    /// Replay: the reads answered live since the last call (the recording had no value for them),
    /// as `(method, count)`, and resets the counts.
    pub fn take_live_reads(&self) -> Vec<(&'static str, u64)> {
        let mut t = self.inner.borrow_mut();
        let names = t.names;
        let out = t
            .live
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| (names.get(i).copied().unwrap_or("?"), n))
            .collect();
        t.live.iter_mut().for_each(|n| *n = 0);
        out
    }

    /// Replay: the next recorded value of `method` in this frame.
    fn next_value(&self, method: u16) -> Option<Vec<u8>> {
        let mut t = self.inner.borrow_mut();
        if !t.replaying {
            return None;
        }
        let m = usize::from(method);
        let end_of_frame = t
            .frames
            .get(t.frame + 1)
            .copied()
            .unwrap_or(t.calls.len() as u32);
        let mut i = *t.cursors.get(m)?;
        while i < end_of_frame {
            let (called, end) = t.calls[i as usize];
            if called == method {
                let start = if i == 0 { 0 } else { t.calls[i as usize - 1].1 };
                t.cursors[m] = i + 1;
                return Some(t.data[start as usize..end as usize].to_vec());
            }
            i += 1;
        }
        t.cursors[m] = end_of_frame;
        if let Some(n) = t.live.get_mut(m) {
            *n += 1;
        }
        None
    }

    fn push(&self, method: u16, value: &impl Serialize) {
        let mut t = self.inner.borrow_mut();
        let t = &mut *t;
        if t.replaying {
            return;
        }
        if t.frames.is_empty() {
            t.frames.push(0);
        }
        let before = t.data.len();
        match rmp_serde::encode::write(&mut t.data, value) {
            Ok(()) => {
                let end = t.data.len() as u32;
                t.calls.push((method, end));
            }
            Err(e) => {
                t.data.truncate(before);
                let name = t.names.get(usize::from(method)).copied().unwrap_or("?");
                t.unrecordable.get_or_insert_with(|| {
                    format!("`{name}` returned a value that does not encode: {e}")
                });
            }
        }
    }

    /// A read that cannot be recorded: refuses the recording (with `why`), or during a replay
    /// counts as answered live.
    #[doc(hidden)]
    pub fn read_unrecordable(&self, method: u16, why: &str) {
        let mut t = self.inner.borrow_mut();
        let m = usize::from(method);
        if t.replaying {
            if let Some(n) = t.live.get_mut(m) {
                *n += 1;
            }
            return;
        }
        let name = t.names.get(m).copied().unwrap_or("?");
        t.unrecordable
            .get_or_insert_with(|| format!("the worker read `{name}`, which {why}"));
    }
}

/// The host's context wrapped with a tape, for one call of a loop: what
/// `#[relive_worker::context]` implements the context trait on.
///
/// It exists only inside [`run_taped`], which hands it out once, through a function that turns it
/// into the context trait object.
pub struct Taped<C: ?Sized + 'static> {
    inner: *mut C,
    tape: *const Tape,
    // Neither `Send` nor `Sync`: it points at the host's context and a `RefCell`.
    _not_send: PhantomData<*mut ()>,
}

impl<C: ?Sized + 'static> Taped<C> {
    /// The host's context.
    pub fn inner(&self) -> &C {
        // SAFETY: `run_taped` made `inner` from a `&mut C` that outlives this value, and hands out
        // this value only behind a reference bound to that borrow.
        unsafe { &*self.inner }
    }

    /// The host's context, mutably.
    pub fn inner_mut(&mut self) -> &mut C {
        // SAFETY: as in `inner`; `&mut self` makes this the only access to the context.
        unsafe { &mut *self.inner }
    }

    /// The tape.
    pub fn tape(&self) -> &Tape {
        // SAFETY: `run_taped` made `tape` from a `&Tape` that outlives this value.
        unsafe { &*self.tape }
    }
}

/// Runs `run` with `ctx` wrapped in a [`Taped`] (turned into the context trait object by `erase`,
/// a non-capturing `|t| t`). What `#[relive_worker::context]`'s `Interface::with_tape` calls.
pub fn run_taped<C: ?Sized + 'static>(
    ctx: &mut C,
    tape: &Tape,
    erase: fn(&mut Taped<C>) -> &mut C,
    run: &mut dyn FnMut(&mut C),
) {
    // The only `Taped` there is: `erase` cannot capture a place to put it or a second one to swap
    // it with, so it never outlives `ctx` and `tape`.
    let mut taped = Taped {
        inner: ctx,
        tape,
        _not_send: PhantomData,
    };
    run(erase(&mut taped));
}

/// The engine functions an engine crate wraps with [`reads!`], for a worker that calls
/// its engine directly (`context: ()`): their names, and the slot through which the wrappers find
/// the tape of the loop while the host calls the worker. Handed to the host's
/// `relive::Worker::record_reads`.
pub struct EngineReads {
    names: &'static [&'static str],
    slot: &'static std::thread::LocalKey<std::cell::Cell<*const Tape>>,
    captured: &'static AtomicU8,
}

/// The keyboard reads (`#[input(keyboard)]` in [`reads!`]) are captured.
const KEYBOARD: u8 = 1;
/// The pointer reads (`#[input(pointer)]`) are captured.
const POINTER: u8 = 2;

impl EngineReads {
    /// What [`reads!`] generates.
    #[doc(hidden)]
    pub const fn new(
        names: &'static [&'static str],
        slot: &'static std::thread::LocalKey<std::cell::Cell<*const Tape>>,
        captured: &'static AtomicU8,
    ) -> EngineReads {
        EngineReads {
            names,
            slot,
            captured,
        }
    }

    /// Whether the game's keyboard and pointer reads are held by something drawn over the game
    /// (an inspector panel with the pointer over it, a text field being typed into): while they
    /// are, the wrappers marked `#[input(keyboard)]` or `#[input(pointer)]` return what they
    /// return when nothing is pressed (`Default`), so the game does not also act on that input.
    /// Set each frame, before the worker's `update`.
    pub fn capture(&self, keyboard: bool, pointer: bool) {
        let bits = if keyboard { KEYBOARD } else { 0 } | if pointer { POINTER } else { 0 };
        self.captured.store(bits, Ordering::Relaxed);
    }

    /// Whether reads of the kind `bits` are captured now (see [`EngineReads::capture`]).
    #[doc(hidden)]
    #[inline]
    pub fn is_captured(captured: &AtomicU8, bits: u8) -> bool {
        captured.load(Ordering::Relaxed) & bits != 0
    }

    /// The wrapped functions' names, by index.
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    /// Runs `run` with the wrappers reading from and recording on `tape` (on this thread only).
    pub fn with<R>(&self, tape: &Tape, run: impl FnOnce() -> R) -> R {
        /// Empties the slot again, also if `run` unwinds.
        struct Clear(&'static std::thread::LocalKey<std::cell::Cell<*const Tape>>);
        impl Drop for Clear {
            fn drop(&mut self) {
                self.0.with(|slot| slot.set(std::ptr::null()));
            }
        }
        self.slot.with(|slot| slot.set(tape));
        let _clear = Clear(self.slot);
        run()
    }

    /// Runs `read` with the tape, while [`EngineReads::with`] runs on this thread, or `None`.
    #[doc(hidden)]
    pub fn read<T>(
        slot: &'static std::thread::LocalKey<std::cell::Cell<*const Tape>>,
        read: impl FnOnce(Option<&Tape>) -> T,
    ) -> T {
        let tape = slot.with(std::cell::Cell::get);
        // SAFETY: the slot holds a tape only while `with` runs on this thread, which borrows it
        // for that long; the reference lives within this call, inside that `with`.
        read(unsafe { tape.as_ref() })
    }
}

/// The body of a [`reads!`] wrapper: `live` (the engine's call) while no loop records or plays,
/// `taped` with the tape otherwise. In a ship build (`static`), `live` and nothing else.
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __engine_read {
    (slot: $slot:ident, live: $live:expr, input: $input:expr, taped: |$tape:ident| $taped:block) => {
        $crate::EngineReads::read(&$slot, |tape| {
            let ::core::option::Option::Some($tape) = tape else {
                return $input;
            };
            $taped
        })
    };
}

/// The body of a [`reads!`] wrapper in a ship build: the engine's call.
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __engine_read {
    (slot: $slot:ident, live: $live:expr, input: $input:expr, taped: |$tape:ident| $taped:block) => {
        $live
    };
}

/// Picks, per return type, whether a read can be recorded (the type is `Serialize` and
/// `DeserializeOwned`) or refuses the recording: `(&Probe::<T>::NEW).replayed(..)` resolves to
/// [`ViaSerde`] when the bounds hold and to [`NotSerde`] otherwise.
#[doc(hidden)]
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    #[doc(hidden)]
    pub const NEW: Probe<T> = Probe(PhantomData);
}

/// A read whose value can be recorded.
#[doc(hidden)]
pub trait ViaSerde<T> {
    /// The recorded value, while replaying (`None` while recording, or when the recording has
    /// none left for this frame: the host answers then).
    fn replayed(&self, tape: &Tape, method: u16) -> Option<T>;
    /// Records the host's answer, while recording.
    fn record(&self, tape: &Tape, method: u16, value: &T);
}

impl<T: Serialize + DeserializeOwned> ViaSerde<T> for Probe<T> {
    fn replayed(&self, tape: &Tape, method: u16) -> Option<T> {
        let bytes = tape.next_value(method)?;
        rmp_serde::from_slice(&bytes).ok()
    }

    fn record(&self, tape: &Tape, method: u16, value: &T) {
        tape.push(method, value);
    }
}

/// A read whose type is not `Serialize + DeserializeOwned`.
#[doc(hidden)]
pub trait NotSerde<T> {
    /// Refuses the recording; the host answers.
    fn replayed(&self, tape: &Tape, method: u16) -> Option<T>;
    /// Nothing to record.
    fn record(&self, tape: &Tape, method: u16, value: &T);
}

impl<T> NotSerde<T> for &Probe<T> {
    fn replayed(&self, tape: &Tape, method: u16) -> Option<T> {
        tape.read_unrecordable(
            method,
            &format!(
                "returns `{}`, a type without serde's `Serialize` and `Deserialize`",
                std::any::type_name::<T>()
            ),
        );
        None
    }

    fn record(&self, _tape: &Tape, _method: u16, _value: &T) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["key", "time", "draw"];

    fn read<T: Serialize + DeserializeOwned>(tape: &Tape, method: u16, live: T) -> T {
        let probe = &Probe::<T>::NEW;
        if let Some(v) = probe.replayed(tape, method) {
            return v;
        }
        probe.record(tape, method, &live);
        live
    }

    #[test]
    fn a_replay_answers_each_frame_with_its_own_values_in_order() {
        let tape = Tape::recording(NAMES);
        for frame in 0..3u32 {
            tape.begin_frame();
            read(&tape, 0, Some(frame));
            read(&tape, 1, f64::from(frame) / 10.0);
            read(&tape, 0, Some(frame + 100));
        }
        assert_eq!(tape.finish(), Ok(3));
        for frame in [1usize, 0, 2] {
            tape.seek(frame);
            let f = frame as u32;
            // Live values are ignored while the recording has values.
            assert_eq!(read(&tape, 1, -1.0), f64::from(f) / 10.0);
            assert_eq!(read(&tape, 0, None), Some(f));
            assert_eq!(read(&tape, 0, None), Some(f + 100));
            // One read more than recorded: the host answers, and it is counted.
            assert_eq!(read(&tape, 0, Some(7)), Some(7));
        }
        assert_eq!(tape.take_live_reads(), [("key", 3)]);
        assert!(tape.take_live_reads().is_empty());
    }

    #[test]
    fn a_read_without_serde_refuses_the_recording_with_the_method_name() {
        struct Opaque;
        let tape = Tape::recording(NAMES);
        tape.begin_frame();
        let probe = &Probe::<Opaque>::NEW;
        assert!(probe.replayed(&tape, 1).is_none());
        let why = tape.finish().unwrap_err();
        assert!(why.contains("`time`"), "{why}");
        assert!(why.contains("Opaque"), "{why}");
    }

    #[test]
    fn a_recording_without_frames_is_refused() {
        let tape = Tape::recording(NAMES);
        assert!(tape.finish().unwrap_err().contains("no frame"));
    }
}
