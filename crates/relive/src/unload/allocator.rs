//! Whether the host's global allocator is the C allocator, which every worker uses.
//!
//! A worker is a `cdylib` with its own copy of std, allocating with `malloc`. A host with its own
//! `#[global_allocator]` (mimalloc, an arena) allocates elsewhere: a heap value that crosses the
//! context by value (a `Context` method returning a `String` the worker then grows or drops)
//! would be freed by the wrong allocator and corrupt the heap. relive cannot make that safe from
//! the outside, so it checks at load and says so, once, naming what to do.

/// Asks glibc how much it has handed out around one 1 MiB allocation through the host's global
/// allocator; `false` when glibc saw nothing of it (in two of three tries: other threads allocate
/// too).
pub(crate) fn host_uses_malloc() -> bool {
    const SIZE: usize = 1 << 20;
    let Ok(layout) = std::alloc::Layout::from_size_align(SIZE, 16) else {
        return true;
    };
    let mut seen = 0;
    for _ in 0..3 {
        let before = in_use();
        // SAFETY: a non-zero-sized layout; the block is freed below with the same layout.
        let block = unsafe { std::alloc::alloc(layout) };
        if block.is_null() {
            return true;
        }
        let after = in_use();
        // SAFETY: allocated above with this layout, not used.
        unsafe { std::alloc::dealloc(block, layout) };
        if after >= before + SIZE {
            seen += 1;
        }
    }
    seen >= 2
}

/// Bytes glibc's malloc has handed out (its heaps and its mmapped blocks).
fn in_use() -> usize {
    // SAFETY: mallinfo2(3) only reads glibc's allocator statistics.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

/// The warning to give, once per process, when the host's global allocator is not the C
/// allocator: only the first call checks (`Some` if it found so); every later call is `None`.
pub(crate) fn check_once() -> Option<String> {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    let mut warning = None;
    CHECKED.call_once(|| {
        if !host_uses_malloc() {
            let mut message: String = "the host's global allocator is not the C allocator the worker uses: a heap \
                          value must not cross the context by value (a `Context` method that returns \
                          a `String`, `Vec` or `Box` the worker then grows or drops would free it with \
                          the wrong allocator and corrupt the heap); pass borrowed data (`&str`, \
                          `&[T]`) and let each side allocate its own"
                    .to_owned();
            if crate::unload::shared_std::std_is_shared() {
                message.push_str(
                    "; or, since host and worker share std here, declare the \
                     `#[global_allocator]` in the engine crate both link as a dylib: then it \
                     serves the worker too (unless that is where it is already)",
                );
            }
            warning = Some(message);
        }
    });
    warning
}
