//! The host interrupt flag: this test binary plays the Born kernel's cell process, which
//! does not link the engine's runtime but exports a flag its SIGINT handler sets.

use std::sync::atomic::{AtomicBool, Ordering};

/// The host's flag, under the name the engine looks up (`HOST_INTERRUPT_SYMBOL`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static born_interrupt_v1: AtomicBool = AtomicBool::new(false);

#[test]
fn the_runtime_polls_the_interrupt_flag_the_host_exports() {
    assert_eq!(
        born::runtime::HOST_INTERRUPT_SYMBOL.to_str().unwrap(),
        "born_interrupt_v1"
    );
    let rt = born::runtime();
    assert!(
        std::ptr::eq(rt.interrupt_flag(), &born_interrupt_v1),
        "the runtime must use the host's flag"
    );
    // What the kernel's SIGINT handler does: a store into its own static.
    born_interrupt_v1.store(true, Ordering::SeqCst);
    assert!(matches!(born::check_interrupt(), Err(born::Error::Interrupted)));
    assert!(
        !born_interrupt_v1.load(Ordering::SeqCst),
        "taking the interrupt clears the host's flag"
    );
    assert!(born::check_interrupt().is_ok());
}
