//! Fuzz target: see `relive::fuzzing::elf_header`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| relive::fuzzing::elf_header(data));
