//! The one module that touches the dynamic loader.
//!
//! A [`Library`] is one loaded worker version: the `dlopen` handle, a copy of its
//! [`Exports`](relive_worker::abi::Exports) and the calls into it. Every pointer it holds points
//! into that image, so none of them outlives the `Library`: the raw exports are private, and the
//! state pointer the worker hands out is owned by [`crate::Worker`], which drops it through the
//! same `Library` before closing it.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::path::{Path, PathBuf};

use relive_worker::Interface;
use relive_worker::abi::{
    self, ABI_VERSION, EXPORTS_SYMBOL, Exports, ExportsFn, HostLogger, LevelRepr, PART_LOCATION,
    PART_MESSAGE, PART_STATE, RawStr, STATUS_ABI_MISMATCH, STATUS_OK, STATUS_PANICKED, Sink,
};

use crate::error::Error;

/// What a worker entry point reported when it did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// It panicked.
    Panicked {
        message: String,
        location: Option<String>,
    },
    /// It returned an error (a decode failure, an I/O error).
    Failed(String),
}

/// Collects what an entry point writes to its sink.
#[derive(Default)]
struct Collected {
    message: Vec<u8>,
    location: Vec<u8>,
    state: Vec<u8>,
}

unsafe extern "C" fn collect(data: *mut c_void, part: u32, ptr: *const u8, len: usize) {
    if len == 0 || ptr.is_null() {
        return;
    }
    // SAFETY: `data` is the `Collected` the host put in this sink for the duration of the call,
    // and the worker passes a readable range of `len` bytes.
    let (collected, bytes) = unsafe {
        (
            &mut *(data as *mut Collected),
            std::slice::from_raw_parts(ptr, len),
        )
    };
    match part {
        PART_MESSAGE => collected.message.extend_from_slice(bytes),
        PART_LOCATION => collected.location.extend_from_slice(bytes),
        PART_STATE => collected.state.extend_from_slice(bytes),
        _ => {}
    }
}

impl Collected {
    fn sink(&mut self) -> Sink {
        Sink {
            data: (self as *mut Collected).cast(),
            write: collect,
        }
    }

    #[cold]
    fn into_error(self, status: u32) -> CallError {
        let message = String::from_utf8_lossy(&self.message).into_owned();
        if status == STATUS_PANICKED {
            let location = (!self.location.is_empty())
                .then(|| String::from_utf8_lossy(&self.location).into_owned());
            // A worker sharing the host's std has no hook of its own: the host's recorded it.
            if location.is_none()
                && let Some((message, location)) = crate::unload::shared_std::take_last()
            {
                return CallError::Panicked {
                    message,
                    location: (!location.is_empty()).then_some(location),
                };
            }
            CallError::Panicked { message, location }
        } else {
            CallError::Failed(message)
        }
    }
}

/// A loaded, checked worker library.
pub(crate) struct Library {
    exports: Exports,
    functions: Vec<(String, abi::CallFn)>,
    state_type: String,
    path: PathBuf,
    /// What the function shims write when a call fails. Boxed so that `call_sink` may point at
    /// it while the `Library` moves; only touched by the thread calling into the library (a
    /// `Library` is not `Sync`) and never during a call.
    call_parts: Box<UnsafeCell<Collected>>,
    /// The sink every [`Library::call`] hands over: built once, nothing to set up per call.
    call_sink: Sink,
    /// Base address of the image (0 if it is not a relive copy), for [`crate::unload::threads`].
    base: usize,
    /// The handle; `None` once closed. Closed last, after everything that points into it, and
    /// only when no thread the worker started still runs its code.
    lib: Option<libloading::Library>,
}

// SAFETY: the exports are plain function pointers and strings into an image that stays mapped
// while the `Library` lives; moving the handle to another thread does not invalidate them. The
// worker functions themselves are only called from the thread that owns the `Worker`.
unsafe impl Send for Library {}

impl Library {
    /// Loads `path` (a fresh versioned copy) and checks it against this host's build.
    pub(crate) fn open<C: ?Sized + Interface>(path: &Path) -> Result<Library, Error> {
        crate::loader::elf::check(path).map_err(|reason| Error::NotALibrary {
            path: path.to_owned(),
            reason,
        })?;
        crate::unload::ensure_linked();
        crate::unload::shared_std::install_hook();
        // RTLD_NOW: an unresolved symbol fails here rather than at a call. RTLD_LOCAL: two
        // versions loaded at once do not see each other's symbols.
        let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL;
        // SAFETY: loading runs the library's initialisers. The file passed the ELF check, lives in
        // relive's own versioned-copy directory, and Rust cdylibs run no user code on load.
        let lib =
            unsafe { libloading::os::unix::Library::open(Some(path), flags) }.map_err(|e| {
                Error::Load {
                    path: path.to_owned(),
                    message: e.to_string(),
                }
            })?;
        let lib: libloading::Library = lib.into();
        // SAFETY: the symbol, when present, is the function `relive_worker::export!` generates,
        // whose signature is `ExportsFn`; the handshake below checks the ABI before any use.
        let exports_fn: ExportsFn = match unsafe { lib.get::<ExportsFn>(EXPORTS_SYMBOL) } {
            Ok(symbol) => *symbol,
            Err(_) => {
                return Err(Error::MissingExports {
                    path: path.to_owned(),
                });
            }
        };
        let mut exports = std::mem::MaybeUninit::<Exports>::uninit();
        // SAFETY: `exports` is writable for `size_of::<Exports>()` bytes, which we pass; the
        // worker writes only when its ABI version and size agree with ours.
        let status = unsafe { exports_fn(ABI_VERSION, size_of::<Exports>(), exports.as_mut_ptr()) };
        if status == STATUS_ABI_MISMATCH {
            return Err(Error::AbiMismatch {
                path: path.to_owned(),
            });
        }
        if status != STATUS_OK {
            return Err(Error::Load {
                path: path.to_owned(),
                message: "the worker's export function failed".to_owned(),
            });
        }
        // SAFETY: STATUS_OK means the worker wrote a whole `Exports`.
        let exports = unsafe { exports.assume_init() };
        check_fingerprint::<C>(path, &exports)?;
        let logger = HostLogger {
            max_level: log::max_level() as LevelRepr,
            enabled: host_log_enabled,
            log: host_log,
        };
        // SAFETY: the fingerprint matched, so `set_logger` has the signature the ABI gives it; it
        // copies the logger, whose functions live in this executable.
        unsafe { (exports.set_logger)(&logger) };
        let functions = (0..exports.function_count)
            .map(|i| {
                // SAFETY: `functions` points at `function_count` entries in the worker's image,
                // which is loaded; each name is a static string there.
                unsafe {
                    let f = *exports.functions.add(i);
                    (f.name.to_string_lossy(), f.call)
                }
            })
            .collect();
        // SAFETY: a static string in the loaded image.
        let state_type = unsafe { exports.state_type.to_string_lossy() };
        // SAFETY: `dladdr` only reads the loader's tables for an address of the loaded image.
        let base = unsafe { crate::unload::symbols::worker_image(exports_fn as *const c_void) }
            .unwrap_or(0);
        let call_parts = Box::new(UnsafeCell::new(Collected::default()));
        let call_sink = Sink {
            data: call_parts.get().cast(),
            write: collect,
        };
        Ok(Library {
            exports,
            functions,
            state_type,
            path: path.to_owned(),
            call_parts,
            call_sink,
            base,
            lib: Some(lib),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn state_version(&self) -> u32 {
        self.exports.state_version
    }

    pub(crate) fn state_type(&self) -> &str {
        &self.state_type
    }

    /// The shim of the function called `name`.
    pub(crate) fn function(&self, name: &str) -> Option<abi::CallFn> {
        self.functions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| *f)
    }

    /// Creates a default state.
    pub(crate) fn create(&self) -> Result<*mut c_void, CallError> {
        let mut out = std::ptr::null_mut();
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: `out` and `sink` live across the call.
        let status = unsafe { (self.exports.create)(&mut out, &sink) };
        if status == STATUS_OK && !out.is_null() {
            Ok(out)
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Decodes `bytes` (saved by a worker declaring `from_version`) into a new state.
    pub(crate) fn load(&self, bytes: &[u8], from_version: u32) -> Result<*mut c_void, CallError> {
        let mut out = std::ptr::null_mut();
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: `bytes`, `out` and `sink` live across the call.
        let status = unsafe {
            (self.exports.load)(bytes.as_ptr(), bytes.len(), from_version, &mut out, &sink)
        };
        if status == STATUS_OK && !out.is_null() {
            Ok(out)
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Encodes the state.
    ///
    /// # Safety
    ///
    /// `state` must be a live state created by this library.
    pub(crate) unsafe fn save(&self, state: *mut c_void) -> Result<Vec<u8>, CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: the caller guarantees the state belongs to this library; `sink` lives across
        // the call.
        let status = unsafe { (self.exports.save)(state, &sink) };
        if status == STATUS_OK {
            Ok(collected.state)
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Runs the worker's `before_save` hook on the state (before a reload's save), with the
    /// host's context when the reload happens in a frame.
    ///
    /// # Safety
    ///
    /// `state` must be a live state created by this library; `ctx` must be the context type the
    /// library was checked against.
    pub(crate) unsafe fn before_save<C: ?Sized>(
        &self,
        ctx: Option<&mut C>,
        state: *mut c_void,
    ) -> Result<(), CallError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hook(self.exports.before_save, ctx, state) }
    }

    /// Runs the worker's `after_load` hook on the state (after a reload's load).
    ///
    /// # Safety
    ///
    /// As [`Library::before_save`].
    pub(crate) unsafe fn after_load<C: ?Sized>(
        &self,
        ctx: Option<&mut C>,
        state: *mut c_void,
    ) -> Result<(), CallError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hook(self.exports.after_load, ctx, state) }
    }

    /// # Safety
    ///
    /// `hook` must be one of this library's hook shims, `state` a live state it created, and `ctx`
    /// of the context type it was checked against.
    unsafe fn hook<C: ?Sized>(
        &self,
        hook: unsafe extern "C" fn(*mut c_void, *mut c_void, *const abi::Sink) -> u32,
        ctx: Option<&mut C>,
        state: *mut c_void,
    ) -> Result<(), CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        let mut ctx = ctx;
        let ctx_ptr = match &mut ctx {
            Some(ctx) => (ctx as *mut &mut C).cast::<c_void>(),
            None => std::ptr::null_mut(),
        };
        // SAFETY: the caller guarantees the hook and the state belong to this library and the
        // context's type; the context reference and `sink` live across the call.
        let status = unsafe { hook(ctx_ptr, state, &sink) };
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Drops the state.
    ///
    /// # Safety
    ///
    /// `state` must be a live state created by this library; it is gone after the call, even when
    /// its `Drop` panicked.
    pub(crate) unsafe fn drop_state(&self, state: *mut c_void) -> Result<(), CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: the caller gives up a state this library created.
        let status = unsafe { (self.exports.drop_state)(state, &sink) };
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Calls a function shim of this library.
    ///
    /// # Safety
    ///
    /// `f` must come from [`Library::function`] of this library and `state` must be a live state
    /// created by it.
    #[inline]
    pub(crate) unsafe fn call<C: ?Sized>(
        &self,
        f: abi::CallFn,
        ctx: &mut C,
        state: *mut c_void,
    ) -> Result<(), CallError> {
        let mut ctx: &mut C = ctx;
        // SAFETY: the context reference lives across the call and matches the worker's context
        // type (checked at load); the caller guarantees `f` and `state` belong to this library;
        // `call_sink` points at `call_parts`, which this `Library` owns.
        let status = unsafe { f((&mut ctx as *mut &mut C).cast(), state, &self.call_sink) };
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(self.take_call_error(status))
        }
    }

    #[cold]
    fn take_call_error(&self, status: u32) -> CallError {
        // SAFETY: no call into the library is running (the shim returned) and no other thread
        // can reach `call_parts` (`Library` is not `Sync`), so this is the only reference.
        let collected = std::mem::take(unsafe { &mut *self.call_parts.get() });
        collected.into_error(status)
    }

    /// Sets one tweakable literal.
    pub(crate) fn tweak(
        &self,
        target: &abi::TweakTarget,
        value: &abi::TweakValue,
    ) -> Result<(), CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: `target`, `value` (and the strings they borrow) and `sink` live across the call.
        let status = unsafe { (self.exports.tweak)(target, value, &sink) };
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(collected.into_error(status))
        }
    }

    /// The tweakable literals, as the worker lists them (MessagePack).
    pub(crate) fn tweaks(&self) -> Result<Vec<u8>, CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: `sink` lives across the call.
        let status = unsafe { (self.exports.tweaks)(&sink) };
        if status == STATUS_OK {
            Ok(collected.state)
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Lets the worker flush its output before the library is closed.
    pub(crate) fn before_unload(&self) -> Result<(), CallError> {
        let mut collected = Collected::default();
        let sink = collected.sink();
        // SAFETY: `sink` lives across the call.
        let status = unsafe { (self.exports.before_unload)(&sink) };
        if status == STATUS_OK {
            Ok(())
        } else {
            Err(collected.into_error(status))
        }
    }

    /// Closes the library, unless threads it started still run its code: then it stays mapped
    /// until a later close finds them ended ([`crate::unload::threads`]).
    pub(crate) fn close(mut self) -> Result<(), Error> {
        self.release().map_err(|e| Error::Load {
            path: self.path.clone(),
            message: format!("dlclose failed: {e}"),
        })
    }

    fn release(&mut self) -> Result<(), libloading::Error> {
        match self.lib.take() {
            Some(lib) => crate::unload::threads::close(self.base, lib),
            None => Ok(()),
        }
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            log::warn!("dlclose of {} failed: {e}", self.path.display());
        }
    }
}

fn level_of(repr: LevelRepr) -> Option<log::Level> {
    Some(match repr {
        1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        5 => log::Level::Trace,
        _ => return None,
    })
}

/// The worker asks whether the host's logger wants a record.
unsafe extern "C" fn host_log_enabled(level: LevelRepr, target: RawStr) -> bool {
    let Some(level) = level_of(level) else {
        return false;
    };
    // The host's level as it is now (a logger's `enabled` need not check it).
    if level > log::max_level() {
        return false;
    }
    // SAFETY: the worker passes a string that lives for the call.
    let target = unsafe { target.to_string_lossy() };
    log::logger().enabled(
        &log::Metadata::builder()
            .level(level)
            .target(&target)
            .build(),
    )
}

/// The worker hands the host's logger a record.
unsafe extern "C" fn host_log(
    level: LevelRepr,
    target: RawStr,
    message: RawStr,
    file: RawStr,
    line: u32,
) {
    let Some(level) = level_of(level) else { return };
    // SAFETY: the worker passes strings that live for the call.
    let (target, message, file) = unsafe {
        (
            target.to_string_lossy(),
            message.to_string_lossy(),
            file.to_string_lossy(),
        )
    };
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(&target)
            .args(format_args!("{message}"))
            .file((!file.is_empty()).then_some(file.as_str()))
            .line((line != 0).then_some(line))
            .build(),
    );
}

/// Compares the worker's build facts with this host's.
fn check_fingerprint<C: ?Sized + Interface>(path: &Path, exports: &Exports) -> Result<(), Error> {
    // SAFETY: each string points into the loaded image, which stays mapped during this call.
    let worker = unsafe {
        [
            exports.rustc.to_string_lossy(),
            exports.target.to_string_lossy(),
            exports.flags.to_string_lossy(),
            exports.panic_strategy.to_string_lossy(),
            exports.relive_version.to_string_lossy(),
            exports.context_type.to_string_lossy(),
            format!("{:016x}", exports.interface_fingerprint),
        ]
    };
    crate::loader::fingerprint::compare(
        path,
        &worker,
        &crate::loader::fingerprint::host_facts::<C>(),
    )
}
