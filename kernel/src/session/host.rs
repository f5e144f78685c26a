//! What the cell process (evcxr's child, which runs this crate's own executable)
//! needs from its host binary: the exported engine runtime and a SIGINT handler
//! that asks the engine to stop.

use std::sync::atomic::{AtomicPtr, Ordering};

born::export_runtime!();

/// The runtime the SIGINT handler signals (set before the handler is installed).
static RUNTIME: AtomicPtr<born::Runtime> = AtomicPtr::new(std::ptr::null_mut());

/// Environment variable evcxr sets in its child process.
const EVCXR_CHILD: &str = "EVCXR_IS_RUNTIME";

/// Prepares the evcxr child process; call it first thing in `main`, before
/// `evcxr::runtime_hook()`. In the child it creates the shared engine runtime
/// (exported as `born_runtime_v1`), installs a SIGINT handler that sets the
/// runtime's interrupt flag, and drops `RUST_BACKTRACE` (evcxr sets it; panics
/// are reported by the session instead). Anywhere else it does nothing.
pub fn child_hook() {
    // Keep the exported symbol alive through the linker's section GC.
    std::hint::black_box(born_runtime_v1 as unsafe extern "C" fn(_) -> _);
    if std::env::var_os(EVCXR_CHILD).is_none() {
        return;
    }
    std::env::remove_var("RUST_BACKTRACE");
    let rt: &'static born::Runtime = born::runtime();
    RUNTIME.store(rt as *const born::Runtime as *mut born::Runtime, Ordering::SeqCst);
    // The handler only loads a pointer and stores one atomic flag.
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
    let rt = RUNTIME.load(Ordering::SeqCst);
    // SAFETY: the pointer is null or the leaked, 'static host runtime.
    if let Some(rt) = unsafe { rt.as_ref() } {
        rt.request_interrupt();
    }
}
