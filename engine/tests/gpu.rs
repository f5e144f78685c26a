//! The wgpu backend end to end (on llvmpipe in CI): devices, moving data, training on the
//! GPU against the CPU, one submit per step, nothing compiled or allocated after the first
//! step, the checked kernels against the unchecked ones, and the errors.
//! Every op against NumPy on the GPU is `golden_values_on_the_gpu` in golden.rs.

use born::prelude::*;
use born::{gpu_stats, runtime};

/// Tests take turns, so the GPU counters one test reads are its own.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The GPU to test on, or `None` (skipping, said on stderr) where wgpu sees none and
/// `BORN_REQUIRE_GPU=1` is not set.
fn gpu() -> Option<Device> {
    if born::devices().iter().any(|d| d.device.is_gpu()) {
        return Some(Device::gpu(0));
    }
    assert!(
        std::env::var("BORN_REQUIRE_GPU").as_deref() != Ok("1"),
        "BORN_REQUIRE_GPU=1 but wgpu sees no GPU adapter (install mesa-vulkan-drivers)"
    );
    eprintln!("no GPU adapter: GPU tests skipped");
    None
}

#[test]
fn devices_lists_the_cpu_first_and_then_the_gpus() {
    let list = born::devices();
    assert_eq!(list[0].device, Device::Cpu);
    if gpu().is_some() {
        assert_eq!(list[1].device, Device::gpu(0));
        assert!(!list[1].name.is_empty(), "{}", list[1]);
    }
}

#[test]
fn data_moves_to_the_gpu_and_back_unchanged() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let f = Tensor::from_vec(vec![1.5f32, -2.0, f32::NAN, 7.0, 0.0, -0.0], [2, 3]);
    let i = Tensor::from_vec(vec![-3i64, 0, 1 << 20, 5], [4]);
    let b = Tensor::from_vec(vec![true, false, true], [3]);
    let u = Tensor::from_vec(vec![0u8, 200, 255], [3]);
    let on = f.to_device(g);
    assert_eq!(on.device(), g);
    let back: Vec<f32> = on.to_device(Device::Cpu).to_vec();
    let want: Vec<f32> = f.to_vec();
    assert_eq!(
        back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(i.to_device(g).to_vec::<i64>(), vec![-3, 0, 1 << 20, 5]);
    assert_eq!(b.to_device(g).to_vec::<bool>(), vec![true, false, true]);
    assert_eq!(u.to_device(g).to_vec::<u8>(), vec![0, 200, 255]);
    // f16 and bf16: a word per element on the GPU, computed as f32 and rounded on store.
    use born::half::{bf16, f16};
    let h = Tensor::from_vec(vec![f16::from_f32(1.5), f16::from_f32(-0.1), f16::NAN], [3]);
    let hb: Vec<u16> = h.to_device(g).to_vec::<f16>().iter().map(|x| x.to_bits()).collect();
    assert_eq!(hb, h.to_vec::<f16>().iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    let bf = Tensor::from_vec(vec![bf16::from_f32(3.25), bf16::from_f32(-1e-3)], [2]);
    let doubled = (&bf.to_device(g) * 3.0).to_vec::<bf16>();
    assert_eq!(doubled, (&bf * 3.0).to_vec::<bf16>(), "bf16 rounds as on the CPU");
    // A strided view is made contiguous on the GPU before it is read back.
    let t = on.t();
    assert_eq!(t.to_vec::<f32>()[..2], [1.5, 7.0]);
    // Display reads the values back like any read.
    let text = format!("{t}");
    assert!(text.contains("1.5") && text.contains("device=gpu:0"), "{text}");
    let bundle = born::display::Render::mime_bundle(&t);
    let html = bundle.get("text/html").unwrap_or_default();
    assert!(html.contains("device=gpu:0") && html.contains("7"), "{html}");
}

fn mlp() -> nn::Sequential {
    manual_seed(0);
    nn::Sequential::new()
        .add(nn::Linear::new(20, 32))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(32, 5))
}

/// Losses of `steps` Adam steps on fixed random data, with the model and data on `device`.
fn train(device: Device, steps: usize, mut after_step: impl FnMut(usize)) -> Vec<f32> {
    let model = mlp();
    model.to_device(device);
    manual_seed(1);
    let x = Tensor::randn([16, 20], DType::F32).to_device(device);
    let y = Tensor::from_vec((0..16).map(|i| (i * 7 % 5) as i64).collect::<Vec<_>>(), [16]).to_device(device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-2);
    let mut losses = Vec::new();
    for step in 0..steps {
        let loss = nn::loss::cross_entropy(&model.forward(&x), &y).unwrap();
        opt.zero_grad();
        loss.backward();
        opt.step().unwrap();
        losses.push(loss.item::<f32>());
        after_step(step);
    }
    losses
}

#[test]
fn an_mlp_trains_on_the_gpu_as_on_the_cpu_with_one_submit_a_step() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let cpu = train(Device::Cpu, 6, |_| {});
    let mut seen = Vec::new();
    let on_gpu = train(g, 6, |_| seen.push(gpu_stats(g).unwrap()));
    for (a, b) in cpu.iter().zip(&on_gpu) {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "cpu {cpu:?}\ngpu {on_gpu:?}");
    }
    assert!(on_gpu[5] < on_gpu[0], "the loss falls: {on_gpu:?}");
    // After the first step: the whole step (forward, backward, Adam) is one submit and one
    // read-back (`item` reads the loss; cross_entropy's label check reads the host copy
    // the upload kept); nothing compiled, nothing allocated.
    for w in seen.windows(2).skip(1) {
        let (a, b) = (w[0], w[1]);
        assert_eq!(
            (b.submits - a.submits, b.downloads - a.downloads),
            (1, 1),
            "{a:?} -> {b:?}"
        );
        assert!(b.dispatches > a.dispatches);
    }
    let (second, last) = (seen[1], seen[5]);
    assert_eq!(
        last.pipelines_compiled, second.pipelines_compiled,
        "compiled after step 2"
    );
    assert_eq!(
        last.buffers_allocated, second.buffers_allocated,
        "allocated after step 2"
    );
}

#[test]
fn a_settled_training_loop_creates_no_bind_groups() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let mut seen = Vec::new();
    train(g, 12, |_| seen.push(gpu_stats(g).unwrap().bind_groups_created));
    // The pool hands the same buffers to the same launches once their order has settled
    // (a few steps: freed buffers come back in a different order than they were taken).
    assert_eq!(seen[11], seen[7], "bind groups created by steps: {seen:?}");
    assert!(seen[0] > 0);
}

#[test]
fn kernels_with_runtime_checks_give_the_same_results_as_trusted_ones() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let run = || {
        manual_seed(3);
        let a = Tensor::randn([33, 70], DType::F32).to_device(g);
        let b = Tensor::randn([70, 19], DType::F32).to_device(g);
        let c = a.matmul(&b).relu().softmax(-1).sum(0, false);
        let idx = a.argmax(1, false);
        (c.to_vec::<f32>(), idx.to_vec::<i64>())
    };
    let gpu = runtime().gpu(0).unwrap();
    let trusted = run();
    gpu.set_checked(true);
    let checked = run();
    gpu.set_checked(false);
    assert_eq!(trusted, checked);
}

#[test]
fn operands_on_different_devices_are_an_error_naming_both() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let a = Tensor::ones([2, 2], DType::F32).contiguous().to_device(g);
    let b = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
    let e = a.try_add(&b).unwrap_err().to_string();
    assert!(
        e.contains("gpu:0") && e.contains("cpu") && e.contains("to_device"),
        "{e}"
    );
    // A scalar is no second device: it travels with the kernel.
    assert_eq!((&a * 3.0).to_vec::<f32>(), vec![3.0; 4]);
}

#[test]
fn f64_on_the_gpu_is_an_error_that_says_what_to_do() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let e = Tensor::from_vec(vec![1.0f64], [1])
        .try_to_device(g)
        .unwrap_err()
        .to_string();
    assert!(e.contains("f64") && e.contains("cast"), "{e}");
    let a = Tensor::from_vec(vec![1.0f32], [1]).to_device(g);
    let e = a.try_to_dtype(DType::F64).unwrap_err().to_string();
    assert!(e.contains("f64"), "{e}");
    // Reading values out as f64 converts on the host.
    assert_eq!(a.to_vec_f64(), vec![1.0]);
}

fn assert_close(what: &str, cpu: &Tensor, gpu: &Tensor, tol: f32) {
    let (a, b) = (cpu.to_vec::<f32>(), gpu.to_vec::<f32>());
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= tol * x.abs().max(1.0),
            "{what}: element {i}: cpu {x}, gpu {y}"
        );
    }
}

/// Sizes past the small golden cases: matmuls over several 64x64 tiles with ragged
/// edges and a batch, reductions long enough for the workgroup-per-output kernel, and a
/// convolution (its implicit-GEMM window views) with its gradients.
#[test]
fn larger_kernels_match_the_cpu() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    manual_seed(5);
    let a = Tensor::randn([3, 70, 130], DType::F32);
    let b = Tensor::randn([3, 130, 66], DType::F32);
    let (ga, gb) = (a.to_device(g), b.to_device(g));
    assert_close("batched matmul", &a.matmul(&b), &ga.matmul(&gb), 1e-4);
    assert_close(
        "matmul of a transpose",
        &a.transpose(1, 2).matmul(&a),
        &ga.transpose(1, 2).matmul(&ga),
        1e-4,
    );
    // One output tile, K long: split along K into parts summed by a second kernel.
    let (p, q) = (
        Tensor::randn([40, 3000], DType::F32),
        Tensor::randn([3000, 30], DType::F32),
    );
    assert_close(
        "split-K matmul",
        &p.matmul(&q),
        &p.to_device(g).matmul(&q.to_device(g)),
        1e-4,
    );
    // Aligned and large enough for the wide (128x128-tile, vec4) kernel: a batch of 130
    // tiles, and an operand read at an offset (a row slice) of its buffer.
    let (w1, w2) = (
        Tensor::randn([130, 128, 48], DType::F32),
        Tensor::randn([130, 48, 128], DType::F32),
    );
    let (gw1, gw2) = (w1.to_device(g), w2.to_device(g));
    assert_close("wide matmul", &w1.matmul(&w2), &gw1.matmul(&gw2), 1e-4);
    let tall = Tensor::randn([4 + 128 * 128, 32], DType::F32);
    let (s1, s2) = (
        tall.try_narrow(0, 4, 128 * 128).unwrap(),
        Tensor::randn([32, 256], DType::F32),
    );
    let (gs1, gs2) = (tall.to_device(g).try_narrow(0, 4, 128 * 128).unwrap(), s2.to_device(g));
    assert_close("wide matmul at an offset", &s1.matmul(&s2), &gs1.matmul(&gs2), 1e-4);
    let long = Tensor::randn([7, 5000], DType::F32);
    let gl = long.to_device(g);
    assert_close("long sums", &long.sum(1, false), &gl.sum(1, false), 1e-4);
    assert_close("long max", &long.max(1, false), &gl.max(1, false), 0.0);
    assert_close("long softmax", &long.softmax(-1), &gl.softmax(-1), 1e-4);
    assert_close("sum over rows", &long.sum(0, false), &gl.sum(0, false), 1e-4);

    let conv = |device: Device| {
        manual_seed(9);
        let x = Tensor::randn([2, 3, 11, 9], DType::F32)
            .to_device(device)
            .requires_grad();
        let w = Tensor::randn([4, 3, 3, 3], DType::F32)
            .to_device(device)
            .requires_grad();
        let y = x.conv2d(&w, None, 2, 1, 1, 1).relu().max_pool2d(2, 2, 0);
        y.sum_all().backward();
        (y, x.grad().unwrap(), w.grad().unwrap())
    };
    let (cy, cx, cw) = conv(Device::Cpu);
    let (gy, gx, gw) = conv(g);
    assert_close("conv2d + pool", &cy, &gy, 1e-4);
    assert_close("conv2d input gradient", &cx, &gx, 1e-4);
    assert_close("conv2d weight gradient", &cw, &gw, 1e-4);
}

/// An index past its axis cannot stop a GPU kernel: the kernel records it, and the next
/// read-back returns the error (naming the op, the index and the size) and clears it.
#[test]
fn an_out_of_range_index_on_the_gpu_is_an_error_at_the_next_read() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]).to_device(g);
    let bad = Tensor::from_vec(vec![0i64, 5], [2]).to_device(g);
    let e = x.gather(0, &bad).try_to_vec::<f32>().unwrap_err().to_string();
    assert!(
        e.contains("gather") && e.contains("index 5") && e.contains("size 3"),
        "{e}"
    );
    let good = Tensor::from_vec(vec![2i64, 0], [2]).to_device(g);
    assert_eq!(
        x.gather(0, &good).to_vec::<f32>(),
        vec![3.0, 1.0],
        "the error was cleared"
    );
    let e = x
        .scatter_add(0, &Tensor::from_vec(vec![-1i64], [1]).to_device(g), &x.narrow(0, 0, 1))
        .try_to_vec::<f32>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("scatter") && e.contains("index -1"), "{e}");
    assert_eq!(x.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
}

/// Runs `make()` forward and backward on `device` from seeded state: the output, then
/// every parameter's gradient, on the host.
fn forward_backward<M: Module>(device: Device, make: &dyn Fn() -> M, input: &dyn Fn() -> Tensor) -> Vec<Tensor> {
    manual_seed(0);
    let m = make();
    m.to_device(device);
    let x = input().to_device(device);
    let x = if x.dtype().is_float() { x.requires_grad() } else { x };
    manual_seed(7);
    let y = m.forward(&x);
    (&y * &y).mean_all().backward();
    let mut out = vec![y.to_device(Device::Cpu)];
    for p in m.parameters() {
        out.push(p.grad().expect("a gradient").to_device(Device::Cpu));
    }
    for (_, b) in m.named_buffers() {
        out.push(b.to_device(Device::Cpu));
    }
    out
}

fn same_on_both<M: Module>(what: &str, g: Device, make: &dyn Fn() -> M, input: &dyn Fn() -> Tensor) {
    let cpu = forward_backward(Device::Cpu, make, input);
    let gpu = forward_backward(g, make, input);
    for (i, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        assert_close(&format!("{what}, tensor {i}"), a, b, 1e-4);
    }
}

/// The layers beyond Linear and Conv2d, trained on the GPU as on the CPU: outputs,
/// parameter gradients and running statistics.
#[test]
fn layers_run_on_the_gpu_as_on_the_cpu() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let x3 = || {
        manual_seed(3);
        Tensor::randn([4, 6, 8], DType::F32)
    };
    same_on_both("LayerNorm", g, &|| nn::LayerNorm::new(&[8]), &x3);
    same_on_both("BatchNorm1d", g, &|| nn::BatchNorm1d::new(6), &x3);
    same_on_both("BatchNorm2d", g, &|| nn::BatchNorm2d::new(6), &|| {
        x3().reshape([4, 6, 2, 4])
    });
    same_on_both("Dropout", g, &|| nn::Dropout::new(0.3), &x3);
    same_on_both("GELU", g, &nn::GELU::new, &x3);
    same_on_both("MultiHeadAttention", g, &|| nn::MultiHeadAttention::new(8, 2), &x3);
    same_on_both("Embedding", g, &|| nn::Embedding::new(11, 5), &|| {
        Tensor::from_vec(vec![0i64, 3, 10, 3, 7, 1], [2, 3])
    });
}

#[test]
fn a_tensor_too_large_for_the_gpu_is_an_error_and_the_gpu_keeps_working() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let kept = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]);
    let x = Tensor::from_vec(vec![2.0f32], [1]).to_device(g);
    // 2^34 f32 values: 64 GiB, over any GPU's largest storage buffer.
    let huge = &x.try_broadcast_to(&[1 << 34]).unwrap() * 3.0;
    let err = huge.try_realize().unwrap_err();
    assert!(matches!(err, born::Error::OutOfMemory { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("realize: out of memory on gpu:0: a buffer of 64.0 GiB"),
        "{msg}"
    );
    // The device, its pool and other tensors are untouched.
    assert_eq!((&x * 3.0).to_vec::<f32>(), [6.0]);
    assert_eq!(kept.to_vec::<f32>(), [1.0, 2.0, 3.0]);
}

/// Every reduction op over rows long enough for the workgroup-per-output kernel, in f32
/// (with a NaN row and an infinity), i32, u8 (wrapping) and bool, against the CPU.
fn long_reductions_match_the_cpu_on(g: Device) {
    manual_seed(11);
    let mut f = Tensor::randn([5, 3000], DType::F32).to_vec::<f32>();
    f[3000 + 17] = f32::NAN;
    f[2 * 3000 + 2999] = f32::INFINITY;
    let f = Tensor::from_vec(f, [5, 3000]);
    let near_one = &(Tensor::rand([5, 3000], DType::F32) * 0.002) + 0.999;
    let i = (Tensor::randn([5, 3000], DType::F32) * 1000.0).to_dtype(DType::I32);
    let u = (Tensor::rand([5, 3000], DType::F32) * 255.0).to_dtype(DType::U8);
    // Rare trues (any: some rows) and rare falses (all: some rows). Regression: with bools
    // in workgroup memory, `any` over 3000 elements was false on every row on an H200.
    let b = Tensor::rand([5, 3000], DType::F32).gt(&Tensor::scalar(0.9997f32));
    let mostly = Tensor::rand([5, 3000], DType::F32).lt(&Tensor::scalar(0.9999f32));
    let on = |t: &Tensor| t.to_device(g);
    let same_f32 = |what: &str, cpu: Tensor, gpu: Tensor, tol: f32| {
        let (a, b) = (cpu.to_vec::<f32>(), gpu.to_vec::<f32>());
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * x.abs().max(1.0);
            assert!(ok, "{what}: row {k}: cpu {x}, gpu {y}");
        }
    };
    same_f32("sum", f.sum(1, false), on(&f).sum(1, false), 1e-4);
    same_f32("max", f.max(1, false), on(&f).max(1, false), 0.0);
    same_f32("min", f.min(1, false), on(&f).min(1, false), 0.0);
    same_f32("prod", near_one.prod(1, false), on(&near_one).prod(1, false), 1e-4);
    for (what, cpu, gpu) in [
        ("i32 sum", i.sum(1, false), on(&i).sum(1, false)),
        ("i32 max", i.max(1, false), on(&i).max(1, false)),
        ("i32 min", i.min(1, false), on(&i).min(1, false)),
        ("u8 sum", u.sum(1, false), on(&u).sum(1, false)),
        ("u8 max", u.max(1, false), on(&u).max(1, false)),
    ] {
        assert_eq!(cpu.to_vec_f64(), gpu.to_vec_f64(), "{what}");
    }
    assert_eq!(
        b.any(1, false).to_vec::<bool>(),
        on(&b).any(1, false).to_vec::<bool>(),
        "any"
    );
    assert_eq!(
        mostly.all(1, false).to_vec::<bool>(),
        on(&mostly).all(1, false).to_vec::<bool>(),
        "all"
    );
}

/// Runs test `name` of this test binary again in a child process with `var=0` (the
/// device's optional feature `var` names turned off) and checks that it passed.
fn again_without(var: &str, name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1"])
        .env(var, "0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "with {var}=0:\n{text}"
    );
}

/// Whether `g` uses optional feature `name` (as `born::devices()` lists it); on llvmpipe,
/// CI's device, which has them all, each must be in use so that its kernels are tested.
fn uses(g: Device, name: &str, var: &str) -> bool {
    let info = born::devices().into_iter().find(|d| d.device == g).unwrap();
    eprintln!("{info}");
    let on = info.features.iter().any(|f| f == name);
    if std::env::var(var).as_deref() == Ok("0") {
        assert!(!on, "{var}=0 but {info}");
    } else if info.name.starts_with("llvmpipe") {
        assert!(on, "{info}");
    }
    on
}

/// The long reductions with the device's subgroup shuffles where it has them (llvmpipe
/// does), then again in a child process of this test binary with `BORN_GPU_SUBGROUPS=0`:
/// the shared-memory tree that devices without subgroups run.
#[test]
fn long_reductions_match_the_cpu_with_and_without_subgroups() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let var = "BORN_GPU_SUBGROUPS";
    uses(g, "subgroups", var);
    long_reductions_match_the_cpu_on(g);
    if std::env::var(var).as_deref() != Ok("0") {
        again_without(var, "long_reductions_match_the_cpu_with_and_without_subgroups");
    }
}

/// f16 tensors on a device with `shader-f16` (llvmpipe has it) take two bytes an element
/// and compute as on the CPU (in f32, rounded on store); then again in a child process
/// with `BORN_GPU_F16=0`, where each takes a 32-bit word.
#[test]
fn f16_tensors_compute_alike_with_and_without_shader_f16() {
    let _one = one_at_a_time();
    let Some(g) = gpu() else { return };
    let var = "BORN_GPU_F16";
    let native = uses(g, "f16", var);
    use born::half::f16;
    manual_seed(3);
    // An odd length (the last word half used), subnormals, infinities, NaN, the extremes.
    let mut v: Vec<f16> = Tensor::randn([999], DType::F32)
        .to_vec::<f32>()
        .into_iter()
        .map(f16::from_f32)
        .collect();
    v[..6].copy_from_slice(&[
        f16::MIN_POSITIVE_SUBNORMAL,
        f16::INFINITY,
        f16::NEG_INFINITY,
        f16::NAN,
        f16::MAX,
        f16::MIN,
    ]);
    let x = Tensor::from_vec(v.clone(), [999]);
    let before = gpu_stats(g).unwrap().bytes_uploaded;
    let gx = x.to_device(g);
    let sent = gpu_stats(g).unwrap().bytes_uploaded - before;
    assert_eq!(
        sent,
        if native { 2000 } else { 3996 },
        "bytes uploaded for 999 f16 values"
    );
    // The same bits as the CPU, any NaN for a NaN; the first differences are reported.
    let same_bits = |what: &str, cpu: &Tensor, gpu: &Tensor| {
        let (a, b) = (cpu.to_vec::<f16>(), gpu.to_vec::<f16>());
        let diff: Vec<String> = (a.iter().zip(&b).enumerate())
            .filter(|(_, (p, q))| p.to_bits() != q.to_bits() && !(p.is_nan() && q.is_nan()))
            .map(|(k, (p, q))| format!("[{k}] cpu {p} ({:#06x}), gpu {q} ({:#06x})", p.to_bits(), q.to_bits()))
            .take(6)
            .collect();
        assert!(diff.is_empty(), "{what}: {}", diff.join("; "));
    };
    same_bits("a round trip", &x, &gx);
    // Elementwise (computed in f32, rounded to f16 on store: overflow to infinity), a cast
    // from f32, a reduction and a matmul: the same bits as the CPU where rounding decides.
    let y = ((&x * 1.5) + 0.25).abs();
    let gy = ((&gx * 1.5) + 0.25).abs();
    same_bits("elementwise", &y, &gy);
    let f = Tensor::randn([999], DType::F32) * 1000.0;
    same_bits("cast", &f.to_dtype(DType::F16), &f.to_device(g).to_dtype(DType::F16));
    let m = Tensor::randn([33, 70], DType::F32).to_dtype(DType::F16);
    let n = Tensor::randn([70, 17], DType::F32).to_dtype(DType::F16);
    let close = |what: &str, cpu: Tensor, gpu: Tensor| {
        assert_close(what, &cpu.to_dtype(DType::F32), &gpu.to_dtype(DType::F32), 2e-3)
    };
    close("matmul", m.matmul(&n), m.to_device(g).matmul(&n.to_device(g)));
    close("sum", m.sum(1, false), m.to_device(g).sum(1, false));
    close("softmax", m.softmax(-1), m.to_device(g).softmax(-1));
    if std::env::var(var).as_deref() != Ok("0") {
        again_without(var, "f16_tensors_compute_alike_with_and_without_shader_f16");
    }
}
