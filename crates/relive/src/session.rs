//! What the host reports and hears while it runs: its events and the status board behind
//! `Worker::status`, the loader thread that notices and prepares new builds, the supervisor's
//! side of `cargo relive run`, and the atomic word that tells the frame thread about all of it.
//!
//! Uses `state`, `loader`, `unload` and [`crate::error`]; nothing of `hot`. Inside, one way:
//! [`event`] (the events, nothing else) at the bottom, [`status`] (the board) on it, `bus` (where
//! events go: the board, the log, the subscribers) on both, and `watch` and `supervise` on `bus`.

#[cfg(not(feature = "static"))]
pub(crate) mod attention;
#[cfg(not(feature = "static"))]
pub(crate) mod bus;
pub(crate) mod event;
pub(crate) mod status;
#[cfg(not(feature = "static"))]
pub mod supervise;
#[cfg(not(feature = "static"))]
pub(crate) mod watch;
