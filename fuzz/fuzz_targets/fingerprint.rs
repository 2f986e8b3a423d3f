//! Fuzz target: see `relive::fuzzing::fingerprint`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| relive::fuzzing::fingerprint(data));
