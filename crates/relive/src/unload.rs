//! What lets a worker version leave the process: the interposers that keep its thread-local
//! destructors, `pthread_key_create` destructors and threads from pinning or outliving its image,
//! the panic hook of a shared std, the allocator check, and the reading of `/proc/self/maps`.
//!
//! The layering, one way: [`symbols`] (the loader lookups) at the bottom; [`shared_std`] and
//! [`thread_exit`] on it; [`tls`] on `thread_exit` (it hands it the destructors it keeps),
//! [`threads`] on `thread_exit` and `shared_std`; this module on the three interposers (the check
//! that they are in effect); [`allocator`] on `shared_std`; [`maps`] alone. Nothing here uses the
//! rest of the crate.

pub(crate) mod allocator;
pub(crate) mod maps;
pub(crate) mod shared_std;
pub(crate) mod symbols;
pub(crate) mod thread_exit;
pub(crate) mod threads;
pub(crate) mod tls;

/// Warns once for each interposer ([`tls`]'s `__cxa_thread_atexit_impl`, [`threads`]'
/// `pthread_create`, [`thread_exit`]'s `pthread_key_create`) that is not the definition the
/// loader resolves for libraries, saying what breaks and how to link the host.
pub(crate) fn ensure_linked() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let interposers = [
            (
                c"__cxa_thread_atexit_impl",
                tls::interposer(),
                "a worker using thread_local! with a destructor will stay mapped after each reload",
            ),
            (
                c"pthread_create",
                threads::interposer(),
                "a version closed while a thread it started still runs will crash the process",
            ),
            (
                c"pthread_key_create",
                thread_exit::interposer(),
                "a host thread that called the worker may crash when it exits after the version was closed",
            ),
        ];
        for (name, ours, consequence) in interposers {
            let found = symbols::resolved_definition(name);
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
