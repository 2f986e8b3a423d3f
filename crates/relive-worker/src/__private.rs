//! Runtime behind the macros: the `extern "C"` shims of [`crate::abi::Exports`]. Not a public API.
//!
//! Every shim runs the user's code inside `catch_unwind`, so no panic unwinds into the host. The
//! panic hook this module installs records the message and location in a plain `static` (no
//! `thread_local!`, whose destructor would pin the library in memory).

use std::ffi::c_void;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use crate::abi::{
    self, Exports as RawExports, Function, PART_LOCATION, PART_MESSAGE, PART_STATE, RawStr,
    STATUS_ABI_MISMATCH, STATUS_FAILED, STATUS_OK, STATUS_PANICKED, Sink,
};
use crate::{Exports, Interface, OldState};

/// FNV-1a offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `hash`; usable in constants.
pub const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// One user function, as a type, so that a generic `extern "C"` shim can call it.
pub trait Entry {
    /// The worker's exports.
    type Worker: Exports;
    /// The function.
    const FUNCTION: crate::WorkerFn<
        <Self::Worker as Exports>::Context,
        <Self::Worker as Exports>::State,
    >;
}

/// The panic of the current entry point: message and location.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn install_panic_hook() {
    // With one std for the whole process (`-C prefer-dynamic`), the hook is the process's: a
    // closure here would outlive this version's code, and would take the host's place. The host
    // records a worker's panics itself then.
    if std_is_shared() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let message = payload_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let mut last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some((message, location));
    }));
}

/// `std::panic::set_hook`'s type: a non-generic std function, whose address says which object
/// holds std's code.
type SetHook = fn(Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>);

/// Whether std is the process's shared `libstd-*.so` (`-C prefer-dynamic`) rather than this
/// image's own copy: a non-generic std function's code lies in another object than this
/// function's. The worker asks before it would set a panic hook; the host asks too.
pub fn std_is_shared() -> bool {
    #[repr(C)]
    struct DlInfo {
        fname: *const std::ffi::c_char,
        fbase: *mut c_void,
        sname: *const std::ffi::c_char,
        saddr: *mut c_void,
    }
    unsafe extern "C" {
        fn dladdr(addr: *const c_void, info: *mut DlInfo) -> std::ffi::c_int;
    }
    let base = |addr: *const c_void| {
        let mut info = DlInfo {
            fname: std::ptr::null(),
            fbase: std::ptr::null_mut(),
            sname: std::ptr::null(),
            saddr: std::ptr::null_mut(),
        };
        // SAFETY: `info` is writable and `dladdr` does not dereference `addr`.
        (unsafe { dladdr(addr, &mut info) } != 0).then_some(info.fbase)
    };
    let set_hook: SetHook = std::panic::set_hook;
    let own: fn() -> bool = std_is_shared;
    base(set_hook as *const c_void) != base(own as *const c_void)
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned())
}

/// Writes `bytes` to part `part` of `sink`.
///
/// # Safety
///
/// `sink` must be the valid sink handed to the running entry point.
unsafe fn write(sink: *const Sink, part: u32, bytes: &[u8]) {
    // SAFETY: the caller passes the sink the host handed to this entry point; it is valid for the
    // whole call and its `write` accepts any byte range.
    unsafe { ((*sink).write)((*sink).data, part, bytes.as_ptr(), bytes.len()) }
}

/// How an entry point ended: `Err((status, message, location))` when it did not succeed.
type Outcome = Result<(), (u32, String, String)>;

/// Runs `f`, turning a panic or an error into an [`Outcome`].
fn guard(f: impl FnOnce() -> Result<(), String>) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err((STATUS_FAILED, message, String::new())),
        Err(payload) => Err(caught(payload)),
    }
}

/// Turns a caught panic into `(STATUS_PANICKED, message, location)`. Out of line: the hot path
/// of a call is the one that did not panic.
#[cold]
#[inline(never)]
fn caught(payload: Box<dyn std::any::Any + Send>) -> (u32, String, String) {
    let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
    let (message, location) =
        recorded.unwrap_or_else(|| (payload_message(&*payload), String::new()));
    // A payload whose own Drop panics must not escape either.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    (STATUS_PANICKED, message, location)
}

/// Writes an [`Outcome`] to `sink` and returns its status.
///
/// # Safety
///
/// `sink` must be the valid sink handed to the running entry point.
unsafe fn report(sink: *const Sink, outcome: Outcome) -> u32 {
    match outcome {
        Ok(()) => STATUS_OK,
        Err((status, message, location)) => {
            // SAFETY: forwarded from the caller.
            unsafe {
                write(sink, PART_MESSAGE, message.as_bytes());
                if !location.is_empty() {
                    write(sink, PART_LOCATION, location.as_bytes());
                }
            }
            status
        }
    }
}

/// Shim for one user function.
///
/// # Safety
///
/// `ctx` must point at a live `&mut W::Context`, `state` at a live `W::State` created by this
/// library, and `sink` must be valid for the call.
pub unsafe extern "C" fn call<E: Entry>(
    ctx: *mut c_void,
    state: *mut c_void,
    sink: *const Sink,
) -> u32 {
    // Not `guard`: a user function cannot fail without panicking, so the path that did not panic
    // is a plain return and everything else is out of line (this shim is the per-call cost).
    let ran = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes a pointer to a `&mut Context` that lives for this call and a
        // state pointer this library created; no other reference to either exists meanwhile.
        let (ctx, state) = unsafe {
            (
                &mut **(ctx as *mut &mut <E::Worker as Exports>::Context),
                &mut *(state as *mut <E::Worker as Exports>::State),
            )
        };
        (E::FUNCTION)(ctx, state);
    }));
    match ran {
        Ok(()) => STATUS_OK,
        // SAFETY: forwarded from the caller.
        Err(payload) => unsafe { report(sink, Err(caught(payload))) },
    }
}

/// # Safety
///
/// `out` must be writable and `sink` valid for the call.
unsafe extern "C" fn create<W: Exports>(out: *mut *mut c_void, sink: *const Sink) -> u32 {
    let outcome = guard(|| {
        let state = Box::into_raw(Box::new(W::State::default()));
        // SAFETY: the caller guarantees `out` is writable.
        unsafe { *out = state.cast() };
        Ok(())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// # Safety
///
/// `state` must have been created by this library and not dropped yet.
unsafe extern "C" fn drop_state<W: Exports>(state: *mut c_void, sink: *const Sink) -> u32 {
    let outcome = guard(|| {
        // SAFETY: the state was boxed by `create` or `load` of this library and the host
        // gives up its pointer with this call.
        drop(unsafe { Box::from_raw(state as *mut W::State) });
        Ok(())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// Forwards encoded bytes to the host's sink in large chunks.
struct SinkWriter(*const Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: a SinkWriter only lives inside `save`, whose sink is valid for the call.
        unsafe { write(self.0, PART_STATE, buf) };
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// # Safety
///
/// `state` must be a live state created by this library and `sink` valid for the call.
unsafe extern "C" fn save<W: Exports>(state: *const c_void, sink: *const Sink) -> u32 {
    let outcome = guard(|| {
        // SAFETY: the caller guarantees the state is live and not mutated during the call.
        let state = unsafe { &*(state as *const W::State) };
        if W::OWN_CODEC {
            let bytes = W::encode_state(state).map_err(|e| e.to_string())?;
            // SAFETY: forwarded from the caller.
            unsafe { write(sink, PART_STATE, &bytes) };
            return Ok(());
        }
        // relive's codec, streamed to the host in 64 KiB blocks.
        let mut writer = std::io::BufWriter::with_capacity(64 * 1024, SinkWriter(sink));
        crate::codec::encode_into(&mut writer, state).map_err(|e| e.to_string())?;
        writer.flush().map_err(|e| e.to_string())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// # Safety
///
/// `bytes..bytes+len` must be readable, `out` writable and `sink` valid for the call.
unsafe extern "C" fn load<W: Exports>(
    bytes: *const u8,
    len: usize,
    from_version: u32,
    out: *mut *mut c_void,
    sink: *const Sink,
) -> u32 {
    let outcome = guard(|| {
        let bytes = if len == 0 {
            &[][..]
        } else {
            // SAFETY: the caller guarantees the range is readable for the call.
            unsafe { std::slice::from_raw_parts(bytes, len) }
        };
        let state = W::restore(OldState::new(bytes, from_version)).map_err(|e| e.to_string())?;
        // SAFETY: the caller guarantees `out` is writable.
        unsafe { *out = Box::into_raw(Box::new(state)).cast() };
        Ok(())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// # Safety
///
/// `sink` must be valid for the call.
unsafe extern "C" fn before_unload(sink: *const Sink) -> u32 {
    let outcome = guard(|| std::io::stdout().flush().map_err(|e| e.to_string()));
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// # Safety
///
/// `ctx` is null or points at a `&mut W::Context` live for the call; `state` is a live state
/// created by this library, not used elsewhere during the call; `sink` is valid for the call.
unsafe extern "C" fn before_save<W: Exports>(
    ctx: *mut c_void,
    state: *mut c_void,
    sink: *const Sink,
) -> u32 {
    // SAFETY: forwarded from the caller.
    unsafe { run_hook::<W>(W::before_save, ctx, state, sink) }
}

/// # Safety
///
/// As [`before_save`].
unsafe extern "C" fn after_load<W: Exports>(
    ctx: *mut c_void,
    state: *mut c_void,
    sink: *const Sink,
) -> u32 {
    // SAFETY: forwarded from the caller.
    unsafe { run_hook::<W>(W::after_load, ctx, state, sink) }
}

/// Runs `hook` with the context (absent when null) and the state, its panic caught and reported.
///
/// # Safety
///
/// As [`before_save`].
unsafe fn run_hook<W: Exports>(
    hook: fn(Option<&mut W::Context>, &mut W::State),
    ctx: *mut c_void,
    state: *mut c_void,
    sink: *const Sink,
) -> u32 {
    let outcome = guard(|| {
        // SAFETY: a non-null `ctx` points at the host's `&mut W::Context`, live for the call; the
        // state is live and exclusively the hook's for the call.
        let (ctx, state) = unsafe {
            (
                (ctx as *mut &mut W::Context).as_mut().map(|c| &mut **c),
                &mut *(state as *mut W::State),
            )
        };
        hook(ctx, state);
        Ok(())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// The body of the exported [`abi::EXPORTS_SYMBOL`] function.
///
/// # Safety
///
/// `out` must be writable for one [`RawExports`] of `exports_size` bytes.
pub unsafe fn exports<W: Exports>(
    abi_version: u32,
    exports_size: usize,
    out: *mut RawExports,
    functions: &'static [Function],
) -> u32 {
    if abi_version != abi::ABI_VERSION || exports_size != size_of::<RawExports>() {
        return STATUS_ABI_MISMATCH;
    }
    let filled = catch_unwind(|| {
        install_panic_hook();
        RawExports {
            rustc: RawStr::new(crate::build::RUSTC),
            target: RawStr::new(crate::build::TARGET),
            flags: RawStr::new(crate::build::FLAGS),
            panic_strategy: RawStr::new(if cfg!(panic = "unwind") {
                "unwind"
            } else {
                "abort"
            }),
            relive_version: RawStr::new(crate::build::RELIVE_VERSION),
            context_type: RawStr::new(std::any::type_name::<W::Context>()),
            interface_fingerprint: <W::Context as Interface>::FINGERPRINT,
            state_type: RawStr::new(std::any::type_name::<W::State>()),
            state_version: W::STATE_VERSION,
            create: create::<W>,
            drop_state: drop_state::<W>,
            save: save::<W>,
            load: load::<W>,
            before_unload,
            before_save: before_save::<W>,
            after_load: after_load::<W>,
            set_logger: crate::logging::set_logger,
            tweak,
            tweaks,
            functions: functions.as_ptr(),
            function_count: functions.len(),
        }
    });
    match filled {
        Ok(exports) => {
            // SAFETY: the caller guarantees `out` is writable, and the sizes agree.
            unsafe { out.write(exports) };
            STATUS_OK
        }
        Err(_) => STATUS_FAILED,
    }
}

/// A [`Function`] entry for the macro's table.
pub const fn function<E: Entry>(name: &'static str) -> Function {
    Function {
        name: RawStr::new(name),
        call: call::<E>,
    }
}

/// Shim of [`RawExports::tweak`].
///
/// # Safety
///
/// `target` and `value` must point at valid values whose strings are readable; `sink` must be
/// valid for the call.
unsafe extern "C" fn tweak(
    target: *const abi::TweakTarget,
    value: *const abi::TweakValue,
    sink: *const Sink,
) -> u32 {
    let outcome = guard(|| {
        // SAFETY: the caller guarantees both point at valid values.
        let (target, value) = unsafe { (&*target, &*value) };
        // SAFETY: the caller guarantees the strings are readable.
        let (krate, file, item, text) = unsafe {
            (
                target.krate.to_string_lossy(),
                target.file.to_string_lossy(),
                target.item.to_string_lossy(),
                value.text.to_string_lossy(),
            )
        };
        use crate::__tweak::Value;
        let value = match value.kind {
            abi::TWEAK_INT => {
                Value::Int((u128::from(value.hi) << 64 | u128::from(value.lo)) as i128)
            }
            abi::TWEAK_FLOAT => Value::Float(f64::from_bits(value.lo)),
            abi::TWEAK_BOOL => Value::Bool(value.lo != 0),
            abi::TWEAK_CHAR => Value::Char(
                char::from_u32(value.lo as u32).ok_or("not a char: the host sent a bad value")?,
            ),
            abi::TWEAK_STR => Value::Str(text),
            other => return Err(format!("unknown tweak kind {other}")),
        };
        crate::__tweak::set(&krate, &file, &item, target.index as usize, &value)
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}

/// Shim of [`RawExports::tweaks`].
///
/// # Safety
///
/// `sink` must be valid for the call.
unsafe extern "C" fn tweaks(sink: *const Sink) -> u32 {
    let outcome = guard(|| {
        let bytes = rmp_serde::to_vec(&crate::__tweak::list()).map_err(|e| e.to_string())?;
        // SAFETY: forwarded from the caller.
        unsafe { write(sink, PART_STATE, &bytes) };
        Ok(())
    });
    // SAFETY: forwarded from the caller.
    unsafe { report(sink, outcome) }
}
