//! Memory accounting for the interpreter's two memory limits: a counting global allocator
//! (live heap bytes per thread), and the checks `Interp` makes before every allocation a
//! script can size (`Limits::max_alloc_bytes`) and as it runs (`Limits::max_memory_bytes`).
//!
//! Why a counting allocator: a script's memory is spread over cons cells, strings, imbl
//! nodes and closures; charging each by hand would miss some. The allocator sees them all,
//! at the cost of one thread-local add per allocation. Why a per-allocation check as well:
//! one huge request (`(make-list 100000000000 0)`) aborts the process inside the allocator
//! before any periodic check could run, so sized allocations are checked *before* they are
//! made, from the size the script asked for (which is also deterministic, unlike the live
//! count, whose exact value depends on what else the thread has allocated).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Wraps the system allocator, counting the bytes live on each thread.
pub struct CountingAllocator;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread (frees of memory allocated on
    /// another thread make it drift low, which only makes the limit more lenient).
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

#[inline]
fn record(delta: isize) {
    // `try_with` fails only while the thread is being torn down; nothing to count then.
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get().wrapping_add(delta)));
}

// SAFETY: every method forwards to `System` with the caller's layout unchanged; the only
// addition is bookkeeping in a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with this layout.
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` came from `System` with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap bytes currently live on this thread (allocated here and not yet freed).
pub fn live_bytes() -> usize {
    LIVE_BYTES.try_with(Cell::get).unwrap_or(0).max(0) as usize
}

/// Approximate heap cost of one element of each kind of collection, used to turn a
/// script's requested length into bytes before allocating (a cons cell is an `Rc` of two
/// values; a vector slot one value; strings and bytes one byte per byte).
pub const PAIR_BYTES: u64 =
    (std::mem::size_of::<super::value::Cons>() + 2 * std::mem::size_of::<usize>()) as u64;
pub const SLOT_BYTES: u64 = std::mem::size_of::<super::value::Value>() as u64;

thread_local! {
    /// The lowest stack address recursive walks over data (printing, comparing, dropping,
    /// converting to syntax) may reach on this thread; 0 until an interpreter sets it.
    static STACK_FLOOR: Cell<usize> = const { Cell::new(0) };
    /// Values whose drop was postponed because the stack was nearly used up (a deeply
    /// nested structure being freed); `drain_deferred_drops` frees them from a shallow frame.
    static DEFERRED: std::cell::RefCell<Vec<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

/// Stack kept free below the floor for unwinding and error reporting.
const DROP_MARGIN: usize = 64 * 1024;
/// Floor used on a thread no interpreter has configured: this much below the first check.
const DEFAULT_STACK_ALLOWANCE: usize = 1 << 20;

fn stack_here() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// Sets the stack floor from the address where the outermost evaluation starts and the
/// stack it may use. The floor only ever rises (a nested interpreter never lowers it below
/// what the thread's outer interpreter allowed).
pub fn set_stack_floor(base: usize, allowance: usize) {
    let floor = base.saturating_sub(allowance);
    STACK_FLOOR.with(|f| {
        if f.get() < floor {
            f.set(floor);
        }
    });
}

fn floor() -> usize {
    STACK_FLOOR.with(|f| {
        if f.get() == 0 {
            f.set(stack_here().saturating_sub(DEFAULT_STACK_ALLOWANCE));
        }
        f.get()
    })
}

/// True when the current frame is below the floor: a recursive walk must stop here.
pub fn stack_low() -> bool {
    stack_here() < floor()
}

/// The unwind payload of a walk over data nested too deeply for the stack; `Interp`
/// turns it into error E006 at its entry points.
pub struct DataTooDeep;

/// Called at each level of a recursive walk over data: unwinds with `DataTooDeep` when
/// the stack is nearly used up (`resume_unwind` runs no panic hook: nothing is printed).
#[inline]
pub fn guard_deep_data() {
    if stack_low() {
        std::panic::resume_unwind(Box::new(DataTooDeep));
    }
}

/// For `Drop` impls of containers: true when dropping children here could exhaust the
/// stack, so they should go to `defer_drop` instead.
#[inline]
pub fn should_defer_drop() -> bool {
    stack_here() < floor().saturating_add(DROP_MARGIN)
}

/// Postpones dropping `v` (see `should_defer_drop`). Values that own nothing are dropped
/// at once; while the thread is being torn down, `v` is dropped in place.
pub fn defer_drop<T: 'static>(v: T) {
    let boxed: Box<dyn std::any::Any> = Box::new(v);
    // If the queue is unavailable (thread teardown, or borrowed by an outer push) the
    // closure, and with it the value, is simply dropped here.
    let _ = DEFERRED.try_with(move |d| {
        if let Ok(mut queue) = d.try_borrow_mut() {
            queue.push(boxed);
        }
    });
}

/// Frees postponed values; each may postpone more, which are freed in turn.
pub fn drain_deferred_drops() {
    if DRAINING.with(Cell::get) {
        return;
    }
    DRAINING.with(|d| d.set(true));
    loop {
        let next = DEFERRED.with(|d| d.borrow_mut().pop());
        match next {
            Some(v) => drop(v),
            None => break,
        }
    }
    DRAINING.with(|d| d.set(false));
}

/// True when drops are waiting (checked between steps).
pub fn has_deferred_drops() -> bool {
    DEFERRED.with(|d| !d.borrow().is_empty())
}
