//! Lets a worker that uses `thread_local!` with a destructor be unloaded.
//!
//! A Rust library registers a thread-local destructor through glibc's
//! `__cxa_thread_atexit_impl`, which also marks the library as "in use" until the thread exits, so
//! `dlclose` never unmaps it: every reload would leave the old image behind. The host executable
//! defines the same symbol, which interposes glibc's for every library loaded after it. For objects
//! in a relive worker copy the destructor is kept by the host instead, and run on the thread that
//! closes the version, before it is closed ([`crate::unload::thread_exit`]); on other threads the value
//! leaks. Every other object's registration is forwarded to glibc unchanged.
//!
//! See rust-lang/rust#59629 and #88737.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::unload::symbols::{next_definition, resolved_definition, worker_image};
use crate::unload::thread_exit;

type AtexitFn = unsafe extern "C" fn(
    dtor: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    dso: *mut c_void,
) -> c_int;

static REAL: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Interposes glibc's registration of thread-local destructors.
///
/// # Safety
///
/// Called by the C runtime with the arguments of glibc's function of the same name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __cxa_thread_atexit_impl(
    dtor: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    dso_symbol: *mut c_void,
) -> c_int {
    // The destructor's object, or the code registering it: with a shared std (`-C
    // prefer-dynamic`) std registers with its own `__dso_handle`, for a destructor in the worker.
    // SAFETY: `dladdr` only reads the loader's tables for the given addresses.
    let image = unsafe { worker_image(dso_symbol).or_else(|| worker_image(dtor as *const c_void)) };
    if let Some(base) = image {
        // Not glibc's to run (it would pin the library, and run after the image is gone): the
        // host runs it on this thread before the version is closed (`thread_exit`), or, on a
        // thread that is exiting anyway, skips it (the value leaks).
        thread_exit::record_tls_dtor(base, dtor, obj);
        return 0;
    }
    let mut real = REAL.load(Ordering::Acquire);
    if real.is_null() {
        real = next_definition(c"__cxa_thread_atexit_impl");
        REAL.store(real, Ordering::Release);
    }
    if real.is_null() {
        // No glibc implementation: the caller falls back to its own list when we fail.
        return -1;
    }
    // SAFETY: `real` is glibc's `__cxa_thread_atexit_impl`, whose signature is `AtexitFn`.
    unsafe {
        let real: AtexitFn = std::mem::transmute::<*mut c_void, AtexitFn>(real);
        real(dtor, obj, dso_symbol)
    }
}

/// Whether the interposer is the definition the dynamic loader resolves.
pub fn interposer_active() -> bool {
    resolved_definition(c"__cxa_thread_atexit_impl")
        == __cxa_thread_atexit_impl as AtexitFn as *mut c_void
}

/// This interposer's address, for the check in `unload::ensure_linked`.
pub(crate) fn interposer() -> *mut c_void {
    std::hint::black_box(__cxa_thread_atexit_impl as AtexitFn) as *mut c_void
}
