//! The worker's state as relive keeps it outside the worker: snapshot files, the rewind ring and
//! loop states, and where the value is that a refused decode could not read.
//!
//! Uses `loader` (`misfit` asks a loaded version to decode) and [`crate::error`]; nothing of
//! `session` or `hot`.

pub(crate) mod history;
#[cfg(not(feature = "static"))]
pub(crate) mod misfit;
pub(crate) mod snapshot;
