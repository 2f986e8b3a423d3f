//! Forwards the worker's `log` records to the host's logger.
//!
//! Each worker image has its own copy of the `log` crate and so its own global logger. The host
//! hands each version a [`HostLogger`] (two functions in the host's image); this module installs a
//! `log::Log` that calls them. Nothing of the worker is kept by the host, so unloading a version
//! leaves no dangling logger behind.

use std::sync::OnceLock;

use crate::abi::{HostLogger, LevelRepr, RawStr};

static HOST: OnceLock<HostLogger> = OnceLock::new();

struct Forward;

static FORWARD: Forward = Forward;

fn level_repr(level: log::Level) -> LevelRepr {
    level as LevelRepr
}

impl log::Log for Forward {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let Some(host) = HOST.get() else { return false };
        // SAFETY: `enabled` is a function of the host, which outlives this image; the target
        // string lives for the call.
        unsafe { (host.enabled)(level_repr(metadata.level()), RawStr::new(metadata.target())) }
    }

    fn log(&self, record: &log::Record<'_>) {
        let Some(host) = HOST.get() else { return };
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        // SAFETY: as in `enabled`; every string lives for the call.
        unsafe {
            (host.log)(
                level_repr(record.level()),
                RawStr::new(record.target()),
                RawStr::new(&message),
                RawStr::new(record.file().unwrap_or("")),
                record.line().unwrap_or(0),
            )
        }
    }

    fn flush(&self) {}
}

/// The `set_logger` entry point.
///
/// # Safety
///
/// `logger` must point at a valid [`HostLogger`] whose functions outlive this library.
pub(crate) unsafe extern "C" fn set_logger(logger: *const HostLogger) {
    if logger.is_null() {
        return;
    }
    // SAFETY: the caller passes a valid logger; it is copied.
    let host = unsafe { *logger };
    let _ = std::panic::catch_unwind(|| {
        let _ = HOST.set(host);
        if log::set_logger(&FORWARD).is_ok() {
            // Every record goes to the host's `enabled`, which asks the host's logger and level
            // as they are now: a logger installed after this version loaded, or a level changed
            // at run time, applies at once (one call into the host per log statement).
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}
