//! relive's integration tests: real fixture crates built with cargo, loaded, edited, rebuilt and
//! reloaded by a real `relive::Worker` in this process.

mod bad_library;
mod panics;
mod reload;
mod schema;
mod snapshot;
mod soak;
mod static_mode;
mod support;
