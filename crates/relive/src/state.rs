//! The worker's state as relive keeps it outside the worker: snapshot files, the rewind ring and
//! loop states, and what a refused decode says (where the misfit is, the decoder's message in
//! words).

pub(crate) mod decode_message;
pub(crate) mod history;
#[cfg(not(feature = "static"))]
pub(crate) mod misfit;
pub(crate) mod snapshot;
