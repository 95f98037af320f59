//! The global allocator of kre's binaries: mimalloc, set to keep freed memory.
//!
//! burn's CPU backends allocate a fresh buffer for every tensor op (tens of MB per op in a roberta-base training
//! step) and free it soon after. With the default allocators those pages go back to the OS and come back
//! zero-filled on the next op: perf showed 12–15 % of a training step in the kernel's `clear_page`. Keeping freed
//! pages in the process (mimalloc `purge_delay = -1`) removes that; peak memory is unchanged.
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: re_train::alloc::MiMalloc = re_train::alloc::MiMalloc;
//! fn main() {
//!     re_train::alloc::retain_freed_memory();
//! }
//! ```
pub use mimalloc::MiMalloc;

// The C library is linked by the `mimalloc` crate; only its option setter is declared here (the `extended` feature
// of libmimalloc-sys would pull in another crate for this one call).
extern "C" {
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// `mi_option_purge_delay` in `mimalloc.h` (v2 and v3): the delay in ms before freed memory is returned to the OS.
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;

/// Never return freed memory to the OS. Only useful when [`MiMalloc`] is the global allocator; harmless otherwise.
pub fn retain_freed_memory() {
    // SAFETY: mi_option_set only stores an integer option; any value is valid for purge_delay (-1 = never).
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}
