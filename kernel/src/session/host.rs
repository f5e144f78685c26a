//! What the cell process (evcxr's child, which runs this crate's own executable)
//! needs from its host binary: an exported interrupt flag and a SIGINT handler that
//! sets it. The kernel does not link the engine: cells load it (`kernel/cells`, one
//! shared library), and its runtime polls this flag, found by name with `dlsym`.

use std::sync::atomic::{AtomicBool, Ordering};

/// The interrupt flag the engine's runtime in this process polls (the engine looks it
/// up as `born::runtime::HOST_INTERRUPT_SYMBOL`; the binaries link `-rdynamic`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static born_interrupt_v1: AtomicBool = AtomicBool::new(false);

/// Environment variable evcxr sets in its child process.
const EVCXR_CHILD: &str = "EVCXR_IS_RUNTIME";

/// Prepares the evcxr child process; call it first thing in `main`, before
/// `evcxr::runtime_hook()`. In the child it installs a SIGINT handler that sets
/// [`born_interrupt_v1`], and drops `RUST_BACKTRACE` (evcxr sets it; panics are
/// reported by the session instead). Anywhere else it does nothing.
pub fn child_hook() {
    // Keep the exported flag alive through the linker's section GC.
    std::hint::black_box(&born_interrupt_v1);
    if std::env::var_os(EVCXR_CHILD).is_none() {
        return;
    }
    std::env::remove_var("RUST_BACKTRACE");
    // The handler only stores one atomic flag.
    on_sigint_call(on_sigint);
}

/// Installs `handler` for SIGINT with SA_RESTART (so blocking reads, such as evcxr's pipe
/// reads, go on). `handler` must be async-signal-safe: atomic stores and loads only.
pub fn on_sigint_call(handler: extern "C" fn(libc::c_int)) {
    // SAFETY: sigaction(2) with a zeroed, filled-in struct; the handler's safety is the
    // caller's contract above.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

extern "C" fn on_sigint(_: libc::c_int) {
    born_interrupt_v1.store(true, Ordering::SeqCst);
}
