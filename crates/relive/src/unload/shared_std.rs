//! When host and worker share one std (`-C prefer-dynamic`, the engine-direct layout).
//!
//! With one `libstd-*.so` in the process there is one panic hook. A worker must not set it (its
//! closure would point into code that a reload unmaps, and it would take over the host's hook), so
//! in this layout the host installs one hook, once, that records the message and location of a
//! panic raised while a worker version is on the stack (in worker code, or in host or engine code
//! the worker called) and hands every other panic to the hook that was there before.
//!
//! Whether a worker is on the stack is read from the stack itself ([`stack_in_worker`]) only when
//! something panics or starts a thread, so calls into the worker pay nothing for it.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};

use crate::unload::symbols::worker_image;

/// The message and location of the last panic raised with a worker on the stack, per thread.
type Recorded = Option<(String, String)>;

thread_local! {
    static LAST: RefCell<Recorded> = const { RefCell::new(None) };
}

unsafe extern "C" {
    /// glibc's `backtrace(3)`: the return addresses of the calling thread's frames.
    fn backtrace(buffer: *mut *mut c_void, size: c_int) -> c_int;
}

/// Whether this process's std is the shared `libstd-*.so` (asked once; the same test a worker
/// makes before it would set a panic hook).
pub(crate) fn std_is_shared() -> bool {
    static SHARED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHARED.get_or_init(relive_worker::__private::std_is_shared)
}

/// Whether a relive worker copy has a frame on the calling thread's stack (its first 128
/// frames). Costs a stack walk: only for rare events (a panic, a thread start).
pub(crate) fn stack_in_worker() -> Option<usize> {
    let mut frames = [std::ptr::null_mut::<c_void>(); 128];
    // SAFETY: `frames` has room for the 128 addresses `backtrace` may write.
    let n = unsafe { backtrace(frames.as_mut_ptr(), frames.len() as c_int) };
    frames[..n.max(0) as usize]
        .iter()
        // A return address points just past its call: step back into the calling instruction.
        // SAFETY: `worker_image` only asks the loader which object contains the address.
        .find_map(|&pc| unsafe { worker_image(pc.cast::<u8>().wrapping_sub(1).cast()) })
}

/// Installs the process's panic hook for shared-std workers, once, if this process's std is
/// shared: panics with a worker on the stack are recorded for [`take_last`], all others go to the
/// hook installed before (the host's own, or std's default).
pub(crate) fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if !std_is_shared() {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if stack_in_worker().is_none() {
                return previous(info);
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-string payload".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let _ = LAST.try_with(|last| {
                if let Ok(mut last) = last.try_borrow_mut() {
                    *last = Some((message, location));
                }
            });
        }));
    });
}

/// The panic recorded on this thread since the last call, if any.
pub(crate) fn take_last() -> Recorded {
    LAST.try_with(|last| last.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_binary_links_std_statically_and_runs_no_worker() {
        assert!(!std_is_shared());
        assert_eq!(stack_in_worker(), None);
    }
}
