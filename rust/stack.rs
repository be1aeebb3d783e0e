//! C-stack guard for re-entrant calls.
//!
//! An action may run the executor again (nested). Python 3.11 counts only Python
//! frames against the recursion limit, so a runaway recursion through the core could
//! exhaust the C stack (a segfault) before a RecursionError. Each entry point checks
//! the remaining stack first and raises RecursionError while there is room to do so.

use std::cell::Cell;

use pyo3::exceptions::PyRecursionError;
use pyo3::PyResult;

/// Headroom kept for Python to raise, unwind and format the error: a quarter of the
/// stack, at most 256 KiB.
const MAX_HEADROOM: usize = 256 * 1024;

thread_local! {
    /// Lowest address this thread's stack may grow to before we refuse (0: unknown).
    static LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn stack_floor() -> usize {
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is destroyed
    // after reading the stack bounds.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return 0;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if !ok {
            return 0;
        }
        addr as usize + (size / 4).min(MAX_HEADROOM)
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn stack_floor() -> usize {
    0
}

/// Raises RecursionError when the C stack is nearly exhausted.
#[inline]
pub fn check() -> PyResult<()> {
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    let floor = LIMIT.with(|limit| match limit.get() {
        Some(floor) => floor,
        None => {
            let floor = stack_floor();
            limit.set(Some(floor));
            floor
        }
    });
    if here < floor {
        return Err(PyRecursionError::new_err("maximum recursion depth exceeded while running actions"));
    }
    Ok(())
}
