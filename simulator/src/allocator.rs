//! The process allocator: mimalloc, entered through its plain `malloc` family whenever that already aligns enough.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// Every block mimalloc's plain `mi_malloc` returns is aligned to the smaller of 16 bytes and its size rounded up to
/// a word (the same guarantee `malloc` gives, which std's `System` allocator relies on in the same way).
const PLAIN_ALIGN: usize = 16;

/// mimalloc, entered through `mi_malloc`/`mi_realloc`/`mi_zalloc` when the layout's alignment is one they already
/// give, and through the aligned entry points otherwise.
///
/// The `mimalloc` crate's allocator calls `mi_malloc_aligned` for every allocation; its alignment checks cost about
/// 35 instructions a call, which at the simulator's rate of allocation (some 600,000 a canonical seed) was 6% of a
/// seed's instructions.
pub struct Allocator;

fn plain(layout: &Layout) -> bool {
    layout.align() <= PLAIN_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every path returns mimalloc blocks of at least `layout.size()` bytes aligned to `layout.align()` (the plain
// entry points when `plain` proves their alignment suffices), or null on failure; `dealloc` hands blocks back to the
// allocator that made them.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: a plain FFI call with a size (and alignment) taken from a valid layout.
        unsafe {
            if plain(&layout) {
                libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(&layout) {
                libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract), so from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from mimalloc with `layout`; the new block keeps `layout.align()` (checked by `plain`
        // against the new size, or asked of the aligned entry point).
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(&new) {
                libmimalloc_sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_every_layout_come_back_aligned_and_keep_their_bytes_through_realloc() {
        let a = Allocator;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 7, 8, 12, 15, 16, 24, 31, 100, 4000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every block is freed with the layout it was made with.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align), "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xa5, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert!(!q.is_null() && (q as usize).is_multiple_of(align), "realloc of size {size} align {align}");
                    assert!(
                        (0..size).all(|i| *q.add(i) == 0xa5),
                        "realloc kept the bytes of size {size} align {align}"
                    );
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null() && (z as usize).is_multiple_of(align) && (0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
