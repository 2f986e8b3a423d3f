//! Fuzz target: see `relive::fuzzing::snapshot`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| relive::fuzzing::snapshot(data));
