//! Loading one worker build: finding its library, checking it (complete ELF file, the host's
//! fingerprint, the shared `dylib`s it needs), copying it to a fresh path and opening it.
//!
//! Uses [`crate::unload`] (a [`library::Library`] closes through it) and [`crate::error`]; nothing
//! here knows about sessions, states or the `Worker`.

pub(crate) mod copies;
pub(crate) mod elf;
pub(crate) mod fingerprint;
pub(crate) mod library;
pub mod locate;
pub mod shared_libs;
