//! What a worker version leaves in threads that are not its own, cleaned up before it is closed.
//!
//! Code of a worker that runs on a host thread (the frame thread, or any thread the host calls the
//! worker from) can leave two kinds of per-thread cleanup in that thread, both pointing into the
//! worker's image:
//!
//! - thread-local destructors, registered through `__cxa_thread_atexit_impl` (every
//!   `thread_local!` with a destructor; `tls` interposes it and hands them here);
//! - `pthread_key_create` destructors: the worker's own copy of std creates such a key the first
//!   time its code asks for `std::thread::current()` (channels, `park`, scoped threads do), to
//!   drop that thread's handle when the thread exits.
//!
//! If glibc ran either after the version was closed, the thread would jump into unmapped code at
//! its exit (SIGSEGV). So the host records both: the thread-local destructors of worker objects
//! per thread (instead of handing them to glibc), the keys per image. Before an image is closed,
//! the closing thread runs its own recorded destructors of that image, in the old code that is
//! still mapped (so a 1 MiB thread-local buffer is freed at every reload instead of leaking), and
//! every key of the image is deleted, so that glibc never calls its destructor. Values of other
//! threads are left as they are: leaked, never run after the image is gone.

use std::cell::RefCell;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::unload::symbols::{next_definition, worker_image};

/// A destructor, as glibc takes it for thread-locals and keys.
pub(crate) type Dtor = unsafe extern "C" fn(*mut c_void);

type KeyCreateFn = unsafe extern "C" fn(key: *mut c_uint, dtor: Option<Dtor>) -> c_int;
type KeyDeleteFn = unsafe extern "C" fn(key: c_uint) -> c_int;

unsafe extern "C" {
    fn pthread_getspecific(key: c_uint) -> *mut c_void;
    fn pthread_setspecific(key: c_uint, value: *const c_void) -> c_int;
}

/// `EAGAIN`: what `pthread_key_create` answers when it cannot create a key.
const EAGAIN: c_int = 11;

static REAL_CREATE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());
static REAL_DELETE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Keys with a destructor in a worker image: (image base, key, destructor).
static KEYS: Mutex<Vec<(usize, c_uint, Dtor)>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's thread-local destructors of worker objects: (image base, destructor, object).
    static TLS_DTORS: RefCell<Vec<(usize, Dtor, usize)>> = const { RefCell::new(Vec::new()) };
}

fn keys() -> std::sync::MutexGuard<'static, Vec<(usize, c_uint, Dtor)>> {
    KEYS.lock().unwrap_or_else(|e| e.into_inner())
}

fn real<F>(cache: &AtomicPtr<c_void>, name: &std::ffi::CStr) -> Option<F> {
    let mut ptr = cache.load(Ordering::Acquire);
    if ptr.is_null() {
        ptr = next_definition(name);
        cache.store(ptr, Ordering::Release);
    }
    // SAFETY: a non-null result of `dlsym` for `name` is glibc's function of that name; `F` is
    // its signature at every call site.
    (!ptr.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, F>(&ptr) })
}

/// Records a thread-local destructor of a worker object (image at `base`) for the calling thread;
/// `false` when this thread can no longer record (it is exiting): then it is skipped (leaked).
pub(crate) fn record_tls_dtor(base: usize, dtor: Dtor, obj: *mut c_void) -> bool {
    TLS_DTORS
        .try_with(|list| {
            list.try_borrow_mut()
                .map(|mut list| list.push((base, dtor, obj as usize)))
                .is_ok()
        })
        .unwrap_or(false)
}

/// Interposes glibc's `pthread_key_create`: a key whose destructor lies in a worker image is
/// recorded for that image (see the module docs); every call is forwarded to glibc.
///
/// # Safety
///
/// Called with the arguments of glibc's function of the same name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_key_create(key: *mut c_uint, dtor: Option<Dtor>) -> c_int {
    let Some(create) = real::<KeyCreateFn>(&REAL_CREATE, c"pthread_key_create") else {
        return EAGAIN;
    };
    // SAFETY: forwarded unchanged.
    let rc = unsafe { create(key, dtor) };
    if rc == 0
        && let Some(dtor) = dtor
    {
        // SAFETY: `dladdr` only reads the loader's tables for the address.
        if let Some(base) = unsafe { worker_image(dtor as *const c_void) } {
            // SAFETY: glibc wrote the new key to `key` (rc == 0).
            keys().push((base, unsafe { *key }, dtor));
        }
    }
    rc
}

/// Interposes glibc's `pthread_key_delete`: a recorded key the worker deletes itself is forgotten.
///
/// # Safety
///
/// Called with the arguments of glibc's function of the same name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_key_delete(key: c_uint) -> c_int {
    keys().retain(|(_, k, _)| *k != key);
    let Some(delete) = real::<KeyDeleteFn>(&REAL_DELETE, c"pthread_key_delete") else {
        return 0;
    };
    // SAFETY: forwarded unchanged.
    unsafe { delete(key) }
}

/// Before the image at `base` is closed: runs the calling thread's recorded thread-local
/// destructors of it and its keys' destructors for this thread's values, in its still-mapped
/// code, then deletes its keys so that no thread runs them later. How many destructors ran.
pub(crate) fn before_close(base: usize) -> usize {
    let mut ran = 0;
    // Thread-locals first, newest first, as glibc runs them at a thread's exit; a destructor may
    // register another, so the list is taken again until it has none of this image left.
    loop {
        let mine: Vec<(usize, Dtor, usize)> = TLS_DTORS
            .try_with(|list| {
                let mut list = list.borrow_mut();
                let (mine, rest): (Vec<_>, Vec<_>) = list.drain(..).partition(|e| e.0 == base);
                *list = rest;
                mine
            })
            .unwrap_or_default();
        if mine.is_empty() {
            break;
        }
        for (_, dtor, obj) in mine.into_iter().rev() {
            // SAFETY: the destructor and object the worker's std registered for this thread; the
            // image is still mapped and this thread never runs this version's code again.
            unsafe { dtor(obj as *mut c_void) };
            ran += 1;
        }
    }
    let image_keys: Vec<(c_uint, Dtor)> = {
        let mut all = keys();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|e| e.0 == base);
        *all = rest;
        mine.into_iter().map(|(_, k, d)| (k, d)).collect()
    };
    for (key, dtor) in image_keys {
        // As glibc would at this thread's exit: a non-null value is cleared, then destroyed; a
        // destructor may set a value again, so up to four rounds.
        for _ in 0..4 {
            // SAFETY: a key created by this image and not deleted yet.
            let value = unsafe { pthread_getspecific(key) };
            if value.is_null() {
                break;
            }
            // SAFETY: as above; clearing before the call, as glibc does.
            unsafe { pthread_setspecific(key, std::ptr::null()) };
            // SAFETY: the key's destructor, in the still-mapped image, with this thread's value.
            unsafe { dtor(value) };
            ran += 1;
        }
        if let Some(delete) = real::<KeyDeleteFn>(&REAL_DELETE, c"pthread_key_delete") {
            // SAFETY: deleting a key this image created; other threads' values are left (leaked).
            unsafe { delete(key) };
        }
    }
    ran
}

/// This interposer's address, for the check in `unload::ensure_linked`.
pub(crate) fn interposer() -> *mut c_void {
    std::hint::black_box(pthread_key_create as KeyCreateFn) as *mut c_void
}
