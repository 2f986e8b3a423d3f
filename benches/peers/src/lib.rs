//! Benchmarks of relive against the reloaders a user would use instead: see `benches/peers.rs`
//! and BENCHMARKS.md. This library is empty; the crate exists to hold those peers as dependencies.
