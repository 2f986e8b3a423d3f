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

use std::ffi::{CStr, c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Marker in the path of every versioned copy relive loads (see [`crate::loader::copies`]).
pub(crate) const COPY_DIR_MARKER: &str = "/.relive/";

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
        crate::unload::thread_exit::record_tls_dtor(base, dtor, obj);
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

const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;

#[repr(C)]
struct DlInfo {
    dli_fname: *const std::ffi::c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const std::ffi::c_char,
    dli_saddr: *mut c_void,
}

unsafe extern "C" {
    #[link_name = "dlsym"]
    fn libc_dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
}

fn object_and_base(addr: *const c_void) -> Option<(&'static CStr, usize)> {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: `info` is writable; dladdr tolerates any address.
    if unsafe { dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr returned a NUL-terminated path owned by the loader, valid while the object
    // is loaded; callers use it while code of the object runs or is about to run.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some((name, info.dli_fbase as usize))
}

/// The base address of the relive worker copy `addr` lies in, if it lies in one.
///
/// # Safety
///
/// Any address may be passed; `dladdr` does not dereference it.
pub(crate) unsafe fn worker_image(addr: *const c_void) -> Option<usize> {
    let (name, base) = object_and_base(addr)?;
    name.to_str()
        .is_ok_and(|n| n.contains(COPY_DIR_MARKER))
        .then_some(base)
}

/// The next definition of `name` after this executable's (glibc's), or null.
pub(crate) fn next_definition(name: &CStr) -> *mut c_void {
    // SAFETY: RTLD_NEXT finds the next definition after this executable; `name` is
    // NUL-terminated.
    unsafe { libc_dlsym(RTLD_NEXT, name.as_ptr()) }
}

/// The definition of `name` the loader resolves for libraries (RTLD_DEFAULT), or null.
pub(crate) fn resolved_definition(name: &CStr) -> *mut c_void {
    // SAFETY: RTLD_DEFAULT (null) looks the name up in the global scope; `name` is NUL-terminated.
    unsafe { libc_dlsym(std::ptr::null_mut(), name.as_ptr()) }
}

/// Warns once for each interposer (this one and [`crate::unload::threads`]'s `pthread_create`) that is not
/// the definition the loader resolves for libraries, saying what breaks and how to link the host.
pub(crate) fn ensure_linked() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let interposers = [
            (
                c"__cxa_thread_atexit_impl",
                std::hint::black_box(__cxa_thread_atexit_impl as AtexitFn) as *mut c_void,
                "a worker using thread_local! with a destructor will stay mapped after each reload",
            ),
            (
                c"pthread_create",
                crate::unload::threads::interposer(),
                "a version closed while a thread it started still runs will crash the process",
            ),
            (
                c"pthread_key_create",
                crate::unload::thread_exit::interposer(),
                "a host thread that called the worker may crash when it exits after the version was closed",
            ),
        ];
        for (name, ours, consequence) in interposers {
            let found = resolved_definition(name);
            if found != ours {
                let name = name.to_string_lossy();
                log::warn!(
                    "relive's {name} is not the one the loader sees (it found {found:p}, ours is \
                     {ours:p}): {consequence}. Link the host with \
                     `-C link-arg=-Wl,--export-dynamic-symbol={name}`"
                );
            }
        }
    });
}

/// Whether the interposer is the definition the dynamic loader resolves.
pub fn interposer_active() -> bool {
    resolved_definition(c"__cxa_thread_atexit_impl")
        == __cxa_thread_atexit_impl as AtexitFn as *mut c_void
}
