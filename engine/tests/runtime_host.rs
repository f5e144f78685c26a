//! The host-runtime handshake: this test binary plays the kernel executable,
//! exporting one runtime that the engine finds through `dlsym`.

use std::ffi::CString;

born::export_runtime!();

#[test]
fn the_engine_uses_the_runtime_the_host_exports() {
    let tag = CString::new(born::runtime::abi_tag()).unwrap();
    // SAFETY: a NUL-terminated tag.
    let exported = unsafe { born_runtime_v1(tag.as_ptr()) } as *const born::Runtime;
    assert!(!exported.is_null());
    assert!(
        std::ptr::eq(born::runtime(), exported),
        "the engine must share the host's runtime"
    );
    // And work on it.
    let t = born::Tensor::arange(0.0, 10.0, 1.0, born::DType::F32);
    assert_eq!(t.sum_all().item::<f32>(), 45.0);
}

#[test]
fn a_mismatched_abi_tag_gets_no_runtime() {
    let tag = CString::new("born 0.0.0 runtime 1").unwrap();
    // SAFETY: a NUL-terminated tag.
    assert!(unsafe { born_runtime_v1(tag.as_ptr()) }.is_null());
}
