//! A lost GPU (here given up with `Gpu::destroy`, as a driver reset would lose it): every
//! later use is an error naming the op and the device, and CPU work goes on. Its own test
//! binary, because the device stays lost for the rest of the process.

use born::prelude::*;

#[test]
fn a_lost_gpu_is_an_error_naming_the_op_and_cpu_tensors_are_untouched() {
    if !born::devices().iter().any(|d| d.device.is_gpu()) {
        assert!(
            std::env::var("BORN_REQUIRE_GPU").as_deref() != Ok("1"),
            "BORN_REQUIRE_GPU=1 but wgpu sees no GPU adapter"
        );
        return;
    }
    let g = Device::gpu(0);
    let on_cpu = Tensor::from_vec(vec![1.0f32, 2.0], [2]);
    let on_gpu = on_cpu.to_device(g);
    assert_eq!((&on_gpu * 2.0).to_vec::<f32>(), [2.0, 4.0]);

    born::runtime().gpu(0).unwrap().destroy();

    let err = (&on_gpu * 2.0).try_to_vec::<f32>().unwrap_err();
    assert!(matches!(err, born::Error::DeviceLost { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("realize: gpu:0 was lost (destroyed)"),
        "{err}"
    );
    let err = on_gpu.try_to_vec::<f32>().unwrap_err();
    assert!(err.to_string().starts_with("to_vec: gpu:0 was lost"), "{err}");
    let err = on_cpu.try_to_device(g).unwrap_err();
    assert!(err.to_string().starts_with("to_device: gpu:0 was lost"), "{err}");

    assert_eq!((&on_cpu * 3.0).to_vec::<f32>(), [3.0, 6.0]);
}
