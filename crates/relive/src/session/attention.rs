//! One atomic word that tells the frame thread whether anything needs doing at the next call.
//!
//! The loader thread raises [`BUILD_READY`], the supervision timer [`SNAPSHOT_DUE`], a signal
//! handler [`QUIT`]. The frame thread pays one atomic load per call for all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A new version is loaded and checked.
pub(crate) const BUILD_READY: u32 = 1;
/// A crash-recovery snapshot is due.
pub(crate) const SNAPSHOT_DUE: u32 = 2;
/// The supervisor asked the host to save its state and exit.
pub(crate) const QUIT: u32 = 4;
/// A command from the control channel is waiting (read the state, set a value, save, load).
pub(crate) const CONTROL: u32 = 8;
/// Raised for good in a supervised host: every call takes the path that keeps the heartbeat, so
/// an unsupervised call checks nothing else.
pub(crate) const SUPERVISED: u32 = 16;
/// Raised for good while the worker keeps a history (rewind): each `update` takes the attended
/// path, which encodes the state after it.
pub(crate) const HISTORY: u32 = 32;
/// Raised while a loop is asked for, records or plays: each call takes the attended path, which
/// wraps the context with the loop's tape.
pub(crate) const LOOP: u32 = 64;
/// Raised while a paused game's state is kept encoded ([`crate::Worker::update_frozen`]): the
/// next call that is not a paused frame drops it (the state may change from then on).
pub(crate) const FROZEN: u32 = 128;
/// The bits that stay raised and need no attending.
pub(crate) const STANDING: u32 = SUPERVISED | HISTORY | LOOP;

/// The shared attention word.
#[derive(Clone, Default)]
pub(crate) struct Attention(Arc<AtomicU32>);

impl Attention {
    /// The raised bits: one atomic load.
    #[inline(always)]
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }

    /// Raises `bits`. Async-signal-safe.
    pub(crate) fn raise(&self, bits: u32) {
        self.0.fetch_or(bits, Ordering::AcqRel);
    }

    /// Lowers `bits`, returning whether any of them was raised.
    pub(crate) fn take(&self, bits: u32) -> bool {
        self.0.fetch_and(!bits, Ordering::AcqRel) & bits != 0
    }
}
