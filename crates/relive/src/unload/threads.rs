//! Keeps a worker version mapped while threads it started still run.
//!
//! A thread the worker started runs the worker's code. If the version it belongs to were closed
//! while the thread still runs (a detached thread, a pool the state's `Drop` did not join), the
//! next instruction it fetches would be gone and the whole process would die of SIGSEGV. So the
//! host executable defines `pthread_create`, which (like the thread-local interposer in
//! `tls`) is the definition every library loaded after it calls: a thread whose start
//! routine lies in a relive worker copy is counted for that image until its start routine
//! returns. Closing a version with threads still counted leaves its image mapped (reported as
//! [`crate::Event::StaleMapping`], with a warning naming the threads), and the next close of any
//! version retries it. Threads of everything else are created as before, through glibc.

use std::collections::HashMap;
use std::ffi::{c_int, c_ulong, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::unload::symbols::{next_definition, worker_image};
use crate::unload::{shared_std, thread_exit};

/// A thread's start routine, as `pthread_create` takes it.
type StartFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

type CreateFn = unsafe extern "C" fn(
    thread: *mut c_ulong,
    attr: *const c_void,
    start: StartFn,
    arg: *mut c_void,
) -> c_int;

/// `EAGAIN`: what `pthread_create` answers when it cannot create a thread.
const EAGAIN: c_int = 11;

static REAL: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Threads running per worker image (by base address).
static RUNNING: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

/// Closed versions kept mapped because threads of theirs still ran.
static PARKED: Mutex<Vec<(usize, libloading::Library)>> = Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Option<HashMap<usize, usize>>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many threads started by the worker image at `base` are still running its code.
pub(crate) fn running_in(base: usize) -> usize {
    running()
        .as_ref()
        .and_then(|m| m.get(&base).copied())
        .unwrap_or(0)
}

fn enter(base: usize) {
    *running()
        .get_or_insert_with(HashMap::new)
        .entry(base)
        .or_insert(0) += 1;
}

fn leave(base: usize) {
    let mut guard = running();
    let Some(m) = guard.as_mut() else {
        return;
    };
    if let Some(n) = m.get_mut(&base) {
        *n -= 1;
        if *n == 0 {
            m.remove(&base);
        }
    }
}

/// Closes `lib` (the image at `base`), or keeps it mapped while threads of it run; also closes
/// the versions kept earlier whose threads have ended since.
pub(crate) fn close(base: usize, lib: libloading::Library) -> Result<(), libloading::Error> {
    let finished: Vec<(usize, libloading::Library)> = {
        let mut parked = PARKED.lock().unwrap_or_else(|e| e.into_inner());
        let (done, still): (Vec<_>, Vec<_>) =
            parked.drain(..).partition(|(b, _)| running_in(*b) == 0);
        *parked = still;
        done
    };
    for (old_base, old) in finished {
        thread_exit::before_close(old_base);
        if let Err(e) = old.close() {
            log::warn!("closing a worker version whose threads ended: {e}");
        }
    }
    let threads = running_in(base);
    if threads > 0 {
        log::warn!(
            "{threads} thread(s) started by this worker version still run its code: its image stays \
             mapped (closed at a later reload once they end). Stop and join them in the state's Drop"
        );
        PARKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((base, lib));
        return Ok(());
    }
    thread_exit::before_close(base);
    lib.close()
}

/// What the trampoline needs: the real start routine, its argument and its image.
struct Start {
    start: StartFn,
    arg: *mut c_void,
    base: usize,
}

/// Runs a worker thread's start routine, counted for its image while it runs.
///
/// # Safety
///
/// `start` is the `Box<Start>` that [`pthread_create`] leaked for this thread.
unsafe extern "C-unwind" fn trampoline(start: *mut c_void) -> *mut c_void {
    // SAFETY: the caller passes the box `pthread_create` made for this thread, once.
    let Start { start, arg, base } = *unsafe { Box::from_raw(start.cast::<Start>()) };
    /// Uncounts the thread however its start routine ends (also `pthread_exit`'s unwinding).
    struct Leave(usize);
    impl Drop for Leave {
        fn drop(&mut self) {
            leave(self.0);
        }
    }
    let _leave = Leave(base);
    // SAFETY: the start routine and argument the worker gave `pthread_create`.
    unsafe { start(arg) }
}

/// Interposes glibc's `pthread_create`: threads started by worker code are counted (see the
/// module docs); every call is forwarded to glibc.
///
/// # Safety
///
/// Called with the arguments of glibc's function of the same name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut c_ulong,
    attr: *const c_void,
    start: StartFn,
    arg: *mut c_void,
) -> c_int {
    let mut real = REAL.load(Ordering::Acquire);
    if real.is_null() {
        real = next_definition(c"pthread_create");
        REAL.store(real, Ordering::Release);
    }
    if real.is_null() {
        return EAGAIN;
    }
    // SAFETY: `real` is glibc's `pthread_create`, whose signature is `CreateFn`.
    let real = unsafe { std::mem::transmute::<*mut c_void, CreateFn>(real) };
    // The start routine's object, or, with a shared std (whose own start routine runs the
    // closure), the worker code on the stack that asked for the thread.
    // SAFETY: `dladdr` only reads the loader's tables for the address.
    let image = unsafe { worker_image(start as *const c_void) }.or_else(|| {
        shared_std::std_is_shared()
            .then(shared_std::stack_in_worker)
            .flatten()
    });
    let Some(base) = image else {
        // SAFETY: forwarded unchanged.
        return unsafe { real(thread, attr, start, arg) };
    };
    enter(base);
    let boxed = Box::into_raw(Box::new(Start { start, arg, base })).cast::<c_void>();
    // SAFETY: the trampoline has the start routine's ABI and takes the box it is given, once.
    let trampoline: StartFn = unsafe {
        std::mem::transmute::<unsafe extern "C-unwind" fn(*mut c_void) -> *mut c_void, StartFn>(
            trampoline,
        )
    };
    // SAFETY: the caller's thread and attributes, our trampoline and its box.
    let rc = unsafe { real(thread, attr, trampoline, boxed) };
    if rc != 0 {
        // No thread took the box: take it back.
        // SAFETY: made above and not handed to any thread.
        drop(unsafe { Box::from_raw(boxed.cast::<Start>()) });
        leave(base);
    }
    rc
}

/// This interposer's address, for the check in `unload::ensure_linked`.
pub(crate) fn interposer() -> *mut c_void {
    std::hint::black_box(pthread_create as CreateFn) as *mut c_void
}
