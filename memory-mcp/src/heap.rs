//! How glibc's allocator keeps the heap of a long-lived server small (elsewhere, both calls do nothing).
//!
//! Left to itself, glibc raises the threshold from which an allocation gets pages of its own to the size of each
//! large block freed (up to 32 MiB), so later blocks below it come from the heap, which keeps what is freed; and
//! it gives back the free top of a heap from 128 KiB, so a buffer that a search allocates and frees there is
//! faulted in again by the next search. [`tune`] fixes both thresholds; [`release`] gives back, once, the pages
//! a load left free inside the heap (at 100K episodes and 100K memories, about 14 MiB of decoded snapshots).

/// Blocks from this size on get pages of their own, given back when freed. Below it stay the buffers a search
/// allocates (4 bytes per document of a collection).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 4 << 20;

/// Free memory at the top of a heap is given back from this size on.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 64 << 20;

/// Sets the thresholds; call before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    // SAFETY: `mallopt` only sets parameters of the allocator, which glibc guards with its own lock.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Gives the free pages of every heap back to the system (after a load whose buffers are dropped).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release() {
    // SAFETY: `malloc_trim` walks the allocator's own free lists under its locks; it frees nothing in use.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release() {}
