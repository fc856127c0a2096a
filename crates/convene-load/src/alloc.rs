//! A global allocator that counts, per thread, the bytes live on the heap, so that the memory
//! one client core keeps (the big-room newcomer's roster) can be measured exactly while other
//! threads of the process allocate too; and, once switched on (the server child of a soak), the
//! bytes live in the whole process, which unlike the resident size does not include what the
//! system allocator keeps after a free.

// `unsafe impl GlobalAlloc` is the only way to count allocations; the workspace forbids unsafe
// code elsewhere.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Forwards to the system allocator and adds or subtracts each block's size on the calling
/// thread's counter. A block freed on another thread than the one that allocated it moves bytes
/// between their counters, so measure allocations and frees made on one thread.
pub struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

static PROCESS_ON: AtomicBool = AtomicBool::new(false);
static PROCESS_LIVE: AtomicI64 = AtomicI64::new(0);

fn add(bytes: i64) {
    // `try_with`: the counter may already be gone while a thread shuts down.
    let _ = LIVE.try_with(|c| c.set(c.get() + bytes));
    if PROCESS_ON.load(Ordering::Relaxed) {
        PROCESS_LIVE.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Starts counting the whole process's live bytes (from zero: only what is allocated and freed
/// from now on is counted, so compare two readings).
pub fn count_process_heap() {
    PROCESS_ON.store(true, Ordering::Relaxed);
}

/// Bytes allocated minus bytes freed in the whole process since [`count_process_heap`].
pub fn process_live_bytes() -> i64 {
    PROCESS_LIVE.load(Ordering::Relaxed)
}

/// Bytes allocated minus bytes freed on this thread so far.
pub fn thread_live_bytes() -> i64 {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

// SAFETY: every method forwards to the system allocator unchanged and only adjusts a
// thread-local counter, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as i64);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as i64));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as i64);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as i64 - layout.size() as i64);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
