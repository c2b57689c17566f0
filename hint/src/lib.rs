//! Invocation boundary hints for scx_alps.
//!
//! A function runtime that serves many requests in one long-lived process
//! (a warm worker: OpenWhisk's action loop, a Lambda runtime, a Knative
//! server) calls [`begin`] when a thread starts serving a request of a
//! function and [`end`] when it is done. scx_alps, started with
//! `--hint-binary <this program>`, places uprobes on the two exported
//! symbols and counts each begin-end span on that thread as one invocation
//! of the named function: accounting, learning and demotion per request
//! instead of per process lifetime.
//!
//! The caller needs no privilege and no scx_alps: without the uprobes a pair
//! is two calls of empty functions (a few ns). With them each call takes a
//! uprobe trap into the kernel (about a microsecond; `alps-bench hintcost`
//! measures it).
//!
//! A worker calls [`ready`] once before its first request, so that a worker
//! that exits without serving one (a pool scaled in) is not taken for an
//! invocation of its cgroup's function.
//!
//! The crate has no dependencies. C runtimes use `include/alps_hint.h`, which
//! defines the same two symbols.

use std::ffi::{CStr, c_char};

/// Symbol scx_alps attaches its begin uprobe to.
pub const BEGIN_SYMBOL: &str = "alps_invocation_begin";

/// Symbol scx_alps attaches its end uprobe to.
pub const END_SYMBOL: &str = "alps_invocation_end";

/// Bytes of a function name scx_alps keeps (the rest is cut): names that
/// share their first 15 bytes are one function to it.
pub const NAME_MAX: usize = 15;

/// The begin probe point: the calling thread starts a request of
/// `function` (a NUL-terminated name). Never inlined, so that the symbol
/// exists for the uprobe; the body only keeps its argument alive.
///
/// # Safety
/// `function` must point to a NUL-terminated string (or be null, which
/// scx_alps treats as work of no function).
#[unsafe(no_mangle)]
#[inline(never)]
pub unsafe extern "C" fn alps_invocation_begin(function: *const c_char) {
    std::hint::black_box(function);
}

/// The end probe point: the request the calling thread serves is done.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn alps_invocation_end() {
    std::hint::black_box(());
}

/// Marks the start of a request of `function` on the calling thread.
/// Call [`end`] on the same thread when the request is done; a second
/// `begin` first closes the open request.
pub fn begin(function: &CStr) {
    // SAFETY: a CStr is NUL-terminated.
    unsafe { alps_invocation_begin(function.as_ptr()) }
}

/// Marks the end of the request the calling thread serves.
pub fn end() {
    alps_invocation_end()
}

/// Declares the calling thread a hinting worker before its first request
/// (an [`end`] outside a request): its lifetime is never recorded as an
/// invocation, whether or not it serves one.
pub fn ready() {
    alps_invocation_end()
}

/// Runs `f` as one request of `function`: [`begin`], `f`, [`end`] (also
/// when `f` panics, so that a failed request is still closed).
pub fn invocation<T>(function: &CStr, f: impl FnOnce() -> T) -> T {
    struct End;
    impl Drop for End {
        fn drop(&mut self) {
            end();
        }
    }
    begin(function);
    let _end = End;
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_returns_the_closure_result() {
        assert_eq!(invocation(c"resize", || 41 + 1), 42);
    }
}
