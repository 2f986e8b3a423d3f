//! What lets a worker version leave the process: the interposers that keep its thread-local
//! destructors, `pthread_key_create` destructors and threads from pinning or outliving its image,
//! the panic hook of a shared std, the allocator check, and the reading of `/proc/self/maps`.

pub(crate) mod allocator;
pub(crate) mod maps;
pub(crate) mod shared_std;
pub(crate) mod thread_exit;
pub(crate) mod threads;
pub(crate) mod tls;
