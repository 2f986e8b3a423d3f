//! Loop inside a `Worker`: record a span of play (the state at its start and every value the
//! worker reads through its context), then play it again and again with the recorded values in
//! place of the host's live ones. A new build waits for the end of the pass being played, so
//! each pass runs one version of the code from the same start.

use relive_worker::Interface;
use relive_worker::abi::CallFn;
use relive_worker::tape::Tape;

use super::Worker;
use crate::error::Error;
use crate::loader::library::CallError;
use crate::session::attention::LOOP;
use crate::session::event::Event;
use crate::state::history::LoopState;
use crate::state::snapshot::Snapshot;

/// The most a recording keeps; longer, it ends on its own and starts playing.
const MAX_TAPE: usize = 256 << 20;

/// Where a loop is.
pub(crate) enum Loop {
    /// Asked for; the recording starts at the next `update`.
    Armed,
    /// Recording since `start`.
    Recording { start: Snapshot, tape: Tape },
    /// Playing the recording.
    Playing {
        start: Snapshot,
        tape: Tape,
        frames: usize,
        /// The next frame to play.
        next: usize,
        /// Passes begun, the first included.
        pass: u64,
    },
    /// The recording was refused (why); live play goes on. `loop_end` answers with it.
    Refused(String),
}

impl<C: ?Sized + Interface + 'static> Worker<C> {
    /// Starts recording a loop at the next `update`: the state then, and every value the worker
    /// reads through its context until [`Worker::loop_end`]. Calling it again starts over (from
    /// the state of that moment; a loop that plays stops, with its `LoopStopped` event).
    ///
    /// Refused when the context's reads cannot be recorded: the trait must be declared with
    /// `#[relive_worker::context]`.
    pub fn loop_start(&mut self) -> Result<(), Error> {
        if C::TAPE.is_none() && self.engine_reads.is_none() {
            let name = std::any::type_name::<C>();
            let reason = if name == "()" {
                "this worker has no context (`context: ()`) and the host named no engine reads: \
                 wrap the engine functions the worker reads with `relive_tape::reads!` in the \
                 engine crate, and call `record_reads(&RELIVE_READS)` in the host"
                    .to_owned()
            } else {
                format!(
                    "the context `{name}` is declared with `relive_worker::interface!`, which \
                     records nothing: put `#[relive_worker::context]` on the trait instead"
                )
            };
            return Err(Error::Loop { reason });
        }
        if let Some(Loop::Playing { pass, .. }) = self.looping {
            self.bus.emit(Event::LoopStopped { passes: pass });
        }
        self.looping = Some(Loop::Armed);
        self.attention.raise(LOOP);
        Ok(())
    }

    /// Ends the recording and starts playing it from its first frame: at each `update` the
    /// recorded frame is played again, and after the last one the state of the start is put back
    /// (decoded by the code running then). How many frames it holds.
    ///
    /// Refused, and the game goes on live, when the worker read something that cannot be
    /// recorded (the message names the method) or no frame was recorded.
    pub fn loop_end(&mut self) -> Result<usize, Error> {
        match self.looping.take() {
            Some(Loop::Recording { start, tape }) => match tape.finish() {
                Ok(frames) => {
                    self.bus.emit(Event::LoopPlaying {
                        frames: frames as u64,
                        bytes: tape.bytes() as u64,
                    });
                    self.looping = Some(Loop::Playing {
                        start,
                        tape,
                        frames,
                        next: frames,
                        pass: 0,
                    });
                    Ok(frames)
                }
                Err(reason) => {
                    self.attention.take(LOOP);
                    Err(Error::Loop { reason })
                }
            },
            Some(Loop::Armed) => {
                self.attention.take(LOOP);
                Err(Error::Loop {
                    reason: "no frame was played since the loop started".to_owned(),
                })
            }
            playing @ Some(Loop::Playing { .. }) => {
                self.looping = playing;
                Err(Error::Loop {
                    reason: "the loop is already playing".to_owned(),
                })
            }
            Some(Loop::Refused(reason)) => Err(Error::Loop { reason }),
            None => Err(Error::Loop {
                reason: "no loop is recording: start one first".to_owned(),
            }),
        }
    }

    /// Stops the loop (recording or playing) and goes back to live play, from the state the loop
    /// is at. How many passes were played.
    pub fn loop_stop(&mut self) -> Result<u64, Error> {
        let Some(looping) = self.looping.take() else {
            return Err(Error::Loop {
                reason: "no loop is recording or playing".to_owned(),
            });
        };
        if let Loop::Refused(_) = looping {
            return Ok(0);
        }
        self.attention.take(LOOP);
        let passes = match looping {
            Loop::Playing { pass, .. } => pass,
            _ => 0,
        };
        self.bus.emit(Event::LoopStopped { passes });
        Ok(passes)
    }

    /// Records the engine functions `reads` wraps (`relive_tape::reads!`) in loops: for a
    /// worker that calls its engine directly (`context: ()`), whose reads do not go through a
    /// context. Then those are recorded and played back in place of the context's.
    pub fn record_reads(&mut self, reads: &'static relive_worker::tape::EngineReads) {
        self.engine_reads = Some(reads);
    }

    /// Where the loop is.
    pub fn loop_state(&self) -> LoopState {
        match &self.looping {
            None | Some(Loop::Refused(_)) => LoopState::Off,
            Some(Loop::Armed) => LoopState::Armed,
            Some(Loop::Recording { tape, .. }) => LoopState::Recording {
                frames: tape.frames(),
            },
            Some(Loop::Playing {
                frames, next, pass, ..
            }) => LoopState::Playing {
                pass: *pass,
                frame: *next,
                frames: *frames,
            },
        }
    }

    /// Whether a new build must wait: a pass is being played.
    pub(super) fn loop_defers_reload(&self) -> bool {
        matches!(self.looping, Some(Loop::Playing { .. }))
    }

    /// Before an `update` while a loop is on: starts the recording, begins a recorded frame, or
    /// seeks the frame to play (at the end of a pass: the new build, then the start state).
    #[cold]
    pub(super) fn loop_before_update(&mut self, ctx: &mut C) {
        let Some(looping) = self.looping.take() else {
            self.attention.take(LOOP);
            return;
        };
        self.looping = match looping {
            refused @ Loop::Refused(_) => {
                self.attention.take(LOOP);
                Some(refused)
            }
            Loop::Armed => match self.snapshot() {
                Ok(start) => {
                    let names = match self.engine_reads {
                        Some(reads) => reads.names(),
                        None => C::TAPE.unwrap_or(&[]),
                    };
                    let tape = Tape::recording(names);
                    tape.begin_frame();
                    self.bus.emit(Event::LoopRecording {
                        version: self.version,
                    });
                    Some(Loop::Recording { start, tape })
                }
                Err(e) => self.loop_refused(e.to_string()),
            },
            Loop::Recording { start, tape } => {
                tape.begin_frame();
                Some(Loop::Recording { start, tape })
            }
            Loop::Playing {
                start,
                tape,
                frames,
                mut next,
                mut pass,
            } => {
                if next >= frames {
                    if pass > 0 {
                        let live = tape.take_live_reads();
                        if !live.is_empty() {
                            self.bus.emit(Event::Warning {
                                message: live_reads_message(pass, &live),
                            });
                        }
                    }
                    if let Some(prepared) = self.loader.take() {
                        // A failure is reported by `swap`; the old version plays on.
                        if self.swap(prepared, Some(&mut *ctx)).is_ok() {
                            self.write_recovery_snapshot(false);
                        }
                    }
                    if let Err(e) = self.restore(&start) {
                        self.attention.take(LOOP);
                        self.bus.emit(Event::LoopStopped { passes: pass });
                        self.bus.emit(Event::Warning {
                            message: format!(
                                "the loop stopped: version {} cannot read the state the loop \
                                 starts from: {e}; live play goes on",
                                self.version
                            ),
                        });
                        return;
                    }
                    next = 0;
                    pass += 1;
                    self.bus.emit(Event::LoopPass {
                        pass,
                        frames: frames as u64,
                        version: self.version,
                    });
                }
                tape.seek(next);
                Some(Loop::Playing {
                    start,
                    tape,
                    frames,
                    next: next + 1,
                    pass,
                })
            }
        };
    }

    /// Calls `shim` with the context wrapped by the loop's tape (recording or playing).
    pub(super) fn call_on_tape(&self, shim: CallFn, ctx: &mut C) -> Result<(), CallError> {
        let tape = match &self.looping {
            Some(Loop::Recording { tape, .. } | Loop::Playing { tape, .. }) => tape,
            // SAFETY: `shim` was resolved in `self.lib`, which created `self.state`.
            _ => return unsafe { self.lib.call(shim, ctx, self.state.as_ptr()) },
        };
        if let Some(reads) = self.engine_reads {
            // SAFETY: as above.
            return reads.with(tape, || unsafe {
                self.lib.call(shim, ctx, self.state.as_ptr())
            });
        }
        let mut result = Ok(());
        C::with_tape(ctx, tape, &mut |ctx| {
            // SAFETY: as above; `ctx` is the host's context wrapped for this call only.
            result = unsafe { self.lib.call(shim, ctx, self.state.as_ptr()) };
        });
        result
    }

    /// After an `update` while recording: refuses the recording at the first read that cannot
    /// be recorded, and ends it when it grew too large.
    #[cold]
    pub(super) fn loop_after_update(&mut self) {
        let Some(Loop::Recording { tape, .. }) = &self.looping else {
            return;
        };
        if let Some(reason) = tape.unrecordable() {
            self.looping = self.loop_refused(reason);
        } else if tape.bytes() > MAX_TAPE {
            self.bus.emit(Event::Warning {
                message: format!(
                    "the loop's recording reached {} MiB: it ends here and plays",
                    MAX_TAPE >> 20
                ),
            });
            let _ = self.loop_end();
        }
    }

    fn loop_refused(&self, reason: String) -> Option<Loop> {
        self.attention.take(LOOP);
        self.bus.emit(Event::LoopRefused {
            reason: reason.clone(),
        });
        Some(Loop::Refused(reason))
    }
}

/// The warning after a pass in which the code read more than the recording holds.
fn live_reads_message(pass: u64, live: &[(&str, u64)]) -> String {
    let reads: Vec<String> = live
        .iter()
        .map(|(name, n)| format!("`{name}` {n} time{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!(
        "loop pass {pass}: the code read {} more than the recording holds; the host answered \
         those live",
        reads.join(", ")
    )
}
