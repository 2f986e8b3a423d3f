//! The loader lookups every interposer needs: which relive worker copy an address lies in
//! (`dladdr`), and the definitions of a symbol after this executable's and for libraries (`dlsym`).
//!
//! The bottom of `unload`: it uses nothing of the crate, and every interposer uses it.

use std::ffi::{CStr, c_int, c_void};

/// Marker in the path of every versioned copy relive loads (see `loader::copies`).
pub(crate) const COPY_DIR_MARKER: &str = "/.relive/";

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
