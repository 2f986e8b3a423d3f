//! Fuzz target: see `cargo_relive::protocol::fuzz` (the control socket's first line and commands).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_relive::protocol::fuzz(data));
