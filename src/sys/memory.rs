//! Giving freed memory back to the kernel. glibc's allocator keeps what a burst of large
//! allocations freed (its mmap threshold rises after such frees, so later ones come from a heap
//! it rarely trims): a worker that buffered many request bodies at once would keep that
//! resident for good. `malloc_trim` returns the free pages.
#![allow(unsafe_code)]

/// Returns free heap memory to the kernel (glibc's `malloc_trim(0)`); elsewhere, nothing.
pub fn trim_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes its arenas'
    // locks and touches no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
