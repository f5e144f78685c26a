//! GPU backend benchmark: the same work on the CPU backend and on the GPU, side by side,
//! in one run; and the GPU's kernels compiled with wgpu's runtime checks against the
//! trusted (unchecked) kernels the backend runs.
//!
//! `cargo bench -p born --bench gpu` (`BORN_BENCH_QUICK=1` for small sizes). On a machine
//! without a GPU, wgpu's llvmpipe runs it (slowly). `BORN_BENCH_MATMUL=1024,2048` prints
//! only the GPU's matmul GFLOP/s at those sizes as one JSON line (for gpu_vs_pytorch.py).

use born::backend::Parallel;
use born::prelude::*;
use born::{runtime, synchronize};
use std::time::Instant;

/// Median seconds of `f` over at least `reps` runs and 0.3 s (so a GPU's clocks have
/// risen from idle) after one warm-up, waiting for `device` each time.
fn time(device: Device, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    synchronize(device).unwrap();
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < reps || start.elapsed().as_secs_f64() < 0.3 {
        let t0 = Instant::now();
        f();
        synchronize(device).unwrap();
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

/// Products per timed realize in [`matmul_gflops`].
const CHAIN: usize = 8;

/// GFLOP/s of `n` x `n` f32 products, [`CHAIN`] of them chained (`c = c @ b`) and realized
/// at once (one submit), as a training step queues its kernels: the figure is the kernels'
/// throughput, where one product's realize, submit and wait would dominate small sizes.
fn matmul_gflops(device: Device, n: usize, reps: usize) -> f64 {
    manual_seed(0);
    let a = Tensor::randn([n, n], DType::F32).to_device(device);
    // Scaled so the chain's values stay near 1.
    let b = (Tensor::randn([n, n], DType::F32) / (n as f64).sqrt()).to_device(device);
    let s = time(device, reps, || {
        let mut c = a.clone();
        for _ in 0..CHAIN {
            c = c.matmul(&b);
        }
        c.realize();
    });
    (CHAIN as f64) * 2.0 * (n as f64).powi(3) / s / 1e9
}

/// A fused chain over `n` elements: (x * 2 + 1).relu() * y, GB/s moved (2 reads, 1 write).
fn chain_gbs(device: Device, n: usize, reps: usize) -> f64 {
    let x = Tensor::randn([n], DType::F32).to_device(device);
    let y = Tensor::randn([n], DType::F32).to_device(device);
    let s = time(device, reps, || {
        ((&x * 2.0 + 1.0).relu() * &y).realize();
    });
    12.0 * n as f64 / s / 1e9
}

/// Row sums of `[rows, cols]`, GB/s read.
fn rowsum_gbs(device: Device, rows: usize, cols: usize, reps: usize) -> f64 {
    let x = Tensor::randn([rows, cols], DType::F32).to_device(device);
    let s = time(device, reps, || {
        x.sum(1, false).realize();
    });
    4.0 * (rows * cols) as f64 / s / 1e9
}

/// Milliseconds per Adam step of an MLP (784 -> hidden... -> 10) on random data.
fn mlp_step_ms(device: Device, batch: usize, hidden: &[usize], steps: usize) -> f64 {
    manual_seed(0);
    let mut model = nn::Sequential::new();
    let mut prev = 784;
    for &h in hidden {
        model = model.add(nn::Linear::new(prev, h)).add(nn::ReLU::new());
        prev = h;
    }
    let model = model.add(nn::Linear::new(prev, 10));
    step_ms(device, &model, &[batch, 784], steps)
}

/// Milliseconds per Adam step (cross-entropy, random data of `shape`) of `model` on
/// `device`, after two warm-up steps.
fn step_ms(device: Device, model: &dyn Module, shape: &[usize], steps: usize) -> f64 {
    model.to_device(device);
    let batch = shape[0];
    let x = Tensor::randn(shape.to_vec(), DType::F32).to_device(device);
    let y = Tensor::from_vec((0..batch).map(|i| (i % 10) as i64).collect::<Vec<_>>(), [batch]).to_device(device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    let mut step = || {
        let loss = nn::loss::cross_entropy(&model.forward(&x), &y).unwrap();
        opt.zero_grad();
        loss.backward();
        opt.step().unwrap();
    };
    step();
    step();
    synchronize(device).unwrap();
    let t0 = Instant::now();
    for _ in 0..steps {
        step();
    }
    let host = t0.elapsed().as_secs_f64();
    synchronize(device).unwrap();
    let total = t0.elapsed().as_secs_f64();
    if std::env::var("BORN_BENCH_HOST").is_ok_and(|v| v == "1") {
        // The host's share: building, planning and enqueueing the steps, before the wait.
        println!(
            "  {device}: {:.3} ms a step, {:.3} ms of it on the host before the wait",
            total * 1e3 / steps as f64,
            host * 1e3 / steps as f64
        );
    }
    total * 1e3 / steps as f64
}

/// Milliseconds per Adam step of the tutorial CNN (two conv + pool blocks) at `batch`.
fn cnn_step_ms(device: Device, batch: usize, steps: usize) -> f64 {
    manual_seed(0);
    let model = nn::Sequential::new()
        .add(nn::Conv2d::new(1, 32, 3).padding(1))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(32, 64, 3).padding(1))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(nn::Linear::new(64 * 7 * 7, 128))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(128, 10));
    step_ms(device, &model, &[batch, 1, 28, 28], steps)
}

fn row(what: &str, unit: &str, cpu: f64, gpu: f64, higher_is_better: bool) {
    let ratio = if higher_is_better { gpu / cpu } else { cpu / gpu };
    println!("| {what:<44} | {unit:<7} | {cpu:>10.2} | {gpu:>10.2} | {ratio:>7.2}x |");
}

fn main() {
    let quick = std::env::var("BORN_BENCH_QUICK").is_ok_and(|v| v == "1");
    let Some(info) = born::devices().into_iter().find(|d| d.device.is_gpu()) else {
        eprintln!("wgpu sees no GPU adapter: nothing to compare");
        return;
    };
    let g = info.device;
    println!(
        "GPU: {info}; CPU: {} threads{}",
        runtime().threads(),
        if quick { " (quick sizes)" } else { "" }
    );
    if let Ok(sizes) = std::env::var("BORN_BENCH_MATMUL") {
        // One JSON line for engine/benches/gpu_vs_pytorch.py: f32 matmul GFLOP/s by size.
        let rows: Vec<String> = sizes
            .split(',')
            .map(|n| {
                let n: usize = n.trim().parse().expect("BORN_BENCH_MATMUL: sizes like 1024,2048");
                format!("\"{n}\": {:.1}", matmul_gflops(g, n, 5))
            })
            .collect();
        println!("{{\"device\": \"{info}\", \"matmul_gflops\": {{{}}}}}", rows.join(", "));
        return;
    }
    if std::env::var("BORN_GPU_PROFILE").is_ok_and(|v| v == "1") {
        // Where a training step's GPU time goes: kernels one at a time, timed alone.
        let gpu = runtime().gpu(0).unwrap();
        println!("CNN step, batch 64: {:.2} ms (profiled)", cnn_step_ms(g, 64, 5));
        println!("\n{}", gpu.profile_report());
        return;
    }
    println!("\n| work | unit | CPU | GPU | GPU speed-up |\n| --- | --- | ---: | ---: | ---: |");
    let sizes: &[usize] = if quick { &[256] } else { &[1024, 2048, 4096] };
    for &n in sizes {
        let reps = if n >= 4096 { 3 } else { 5 };
        row(
            &format!("matmul {n}x{n} f32"),
            "GFLOP/s",
            matmul_gflops(Device::Cpu, n, reps),
            matmul_gflops(g, n, reps),
            true,
        );
    }
    let n = if quick { 1 << 16 } else { 1 << 26 };
    row(
        &format!("fused (x*2+1).relu()*y, {n} elements"),
        "GB/s",
        chain_gbs(Device::Cpu, n, 5),
        chain_gbs(g, n, 5),
        true,
    );
    let (r, c) = if quick { (256, 256) } else { (8192, 8192) };
    row(
        &format!("row sums of {r}x{c}"),
        "GB/s",
        rowsum_gbs(Device::Cpu, r, c, 5),
        rowsum_gbs(g, r, c, 5),
        true,
    );
    let steps = if quick { 3 } else { 50 };
    row(
        "MLP 784-128-10 step, batch 64",
        "ms",
        mlp_step_ms(Device::Cpu, 64, &[128], steps),
        mlp_step_ms(g, 64, &[128], steps),
        false,
    );
    if !quick {
        row(
            "MLP 784-2048-2048-10 step, batch 1024",
            "ms",
            mlp_step_ms(Device::Cpu, 1024, &[2048, 2048], 10),
            mlp_step_ms(g, 1024, &[2048, 2048], 10),
            false,
        );
    }
    let (b, s) = if quick { (8, 2) } else { (64, 20) };
    row(
        &format!("CNN step (tutorial model), batch {b}"),
        "ms",
        cnn_step_ms(Device::Cpu, b, s),
        cnn_step_ms(g, b, s),
        false,
    );

    // wgpu's runtime checks (bounds checks, loop bounding) on the same kernels.
    let gpu = runtime().gpu(0).unwrap();
    let n = if quick { 256 } else { 2048 };
    let trusted = matmul_gflops(g, n, 5);
    gpu.set_checked(true);
    let checked = matmul_gflops(g, n, 5);
    let chain_checked = chain_gbs(g, if quick { 1 << 16 } else { 1 << 26 }, 5);
    gpu.set_checked(false);
    let chain_trusted = chain_gbs(g, if quick { 1 << 16 } else { 1 << 26 }, 5);
    println!("\n| GPU kernel | unit | runtime checks on | trusted | speed-up |\n| --- | --- | ---: | ---: | ---: |");
    println!(
        "| matmul {n}x{n} | GFLOP/s | {checked:.1} | {trusted:.1} | {:.2}x |",
        trusted / checked
    );
    println!(
        "| fused chain | GB/s | {chain_checked:.1} | {chain_trusted:.1} | {:.2}x |",
        chain_trusted / chain_checked
    );
    println!("\nGPU counters: {:?}", born::gpu_stats(g).unwrap());
}
