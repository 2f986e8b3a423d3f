//! relive's integration tests: real fixture crates built with cargo, loaded, edited, rebuilt and
//! reloaded by a real `relive::Worker` in this process.

#![cfg(not(feature = "static"))]
#![allow(clippy::unwrap_used)]
mod allocator;
mod aside;
mod bad_library;
mod engine_direct;
mod host_threads;
mod inspect;
mod logging;
mod loops;
mod panics;
mod reload;
mod schema;
mod snapshot;
mod soak;
mod static_mode;
mod support;
mod threads;
