//! Two settings of glibc's allocator, where the server runs on it: what large blocks are, and giving back what
//! the index load freed.

/// Fixes glibc's threshold from which an allocation gets pages of its own at 4 MiB. Left to itself, glibc raises
/// the threshold to the size of each large block freed (up to 32 MiB), and blocks allocated later below it come
/// from the heap, which keeps what is freed: loading the index (buffers of several MiB read, decoded and dropped)
/// left 31 MiB more resident at 100K episodes and 100K memories. Below 4 MiB stay the buffers a search allocates
/// (4 bytes per document of a collection), which pages of their own would fault in on every query.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn fix_mmap_threshold() {
    // SAFETY: `mallopt` only sets a parameter of the allocator, which glibc guards with its own lock; it is
    // called before any other thread starts.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn fix_mmap_threshold() {}

/// Gives the operating system back the free memory in the allocator's heaps: after the index is loaded, what its
/// decoding freed between blocks still in use. Idle after building 100K episodes and 100K memories from libSQL,
/// the server held 144 MiB instead of 167-200; after loading their snapshots the difference is within the
/// 97-110 MiB that starts vary by.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn give_back_free_memory() {
    // SAFETY: `malloc_trim` only returns free pages of the heaps to the kernel, under the allocator's locks; any
    // thread may call it at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back_free_memory() {}
