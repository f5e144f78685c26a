//! CPU benchmark: f32 matmul GFLOP/s beside NumPy's in the same run, and an
//! 8-op elementwise chain fused vs one op at a time.
//!
//! Run: `cargo bench -p born --bench cpu` (NumPy from `.venv`, the baseline
//! script from `$BORN_BASELINES` or `../shared/bench`). Options after `--`:
//! `--quick` (fewer sizes and samples), `--no-numpy`, `--chain-only`.

use born::prelude::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Median seconds of `f` over `samples` timed runs after one warm-up.
fn median_secs(samples: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..samples)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}

fn born_matmul_gflops(n: usize, samples: usize) -> f64 {
    let a = Tensor::randn([n, n], DType::F32).realize();
    let b = Tensor::randn([n, n], DType::F32).realize();
    // Repeat small sizes so each sample lasts long enough to time.
    let reps = (2usize << 30) / (2 * n * n * n) + 1;
    let secs = median_secs(samples, || {
        for _ in 0..reps {
            a.matmul(&b).realize();
        }
    });
    2.0 * (n as f64).powi(3) * reps as f64 / secs / 1e9
}

/// NumPy's GFLOP/s per size from the committed baseline script, with the
/// OpenBLAS variables unset for that command alone (its AVX-512 kernels).
fn numpy_gflops(sizes: &[usize], samples: usize) -> Option<Vec<(usize, f64)>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = std::env::var_os("BORN_BASELINES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/bench"))
        .join("matmul.py");
    let python = root.join(".venv/bin/python");
    if !script.exists() || !python.exists() {
        eprintln!(
            "NumPy baseline unavailable ({} or {} missing)",
            script.display(),
            python.display()
        );
        return None;
    }
    let sizes_arg: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--single",
            "--sizes",
            &sizes_arg.join(","),
            "--samples",
            &samples.to_string(),
        ])
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    sizes
        .iter()
        .map(|&n| Some((n, json["all_threads"][n.to_string()]["gflops_median"].as_f64()?)))
        .collect()
}

/// The chain: 8 elementwise ops on `x` (the kind of arithmetic an optimizer step or an activation does).
fn chain(x: &Tensor, step: &dyn Fn(Tensor) -> Tensor) -> Tensor {
    let y = step(x * 1.5);
    let y = step(y + 0.25);
    let y = step(y.relu());
    let y = step(&y * &y);
    let y = step(y - 1.0);
    let y = step(y.abs());
    let y = step(y.sqrt());
    step(y.exp())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let no_numpy = args.iter().any(|a| a == "--no-numpy");
    let chain_only = args.iter().any(|a| a == "--chain-only");
    let sizes: &[usize] = if quick { &[256, 1024] } else { &[256, 512, 1024, 2048] };
    let samples = if quick { 3 } else { 7 };
    let threads = born::backend::Parallel::threads(born::runtime());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Born CPU benchmark: {threads} threads, load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );

    let numpy = if no_numpy || chain_only {
        None
    } else {
        numpy_gflops(sizes, samples)
    };
    let sizes: &[usize] = if chain_only { &[] } else { sizes };
    println!("\nf32 matmul, GFLOP/s (median of {samples})");
    println!("{:>6} | {:>10} | {:>10} | {:>8}", "n", "Born", "NumPy", "ratio");
    println!("{:-<6}-+-{:-<10}-+-{:-<10}-+-{:-<8}", "", "", "", "");
    for &n in sizes {
        let born = born_matmul_gflops(n, samples);
        let np = numpy
            .as_ref()
            .and_then(|v| v.iter().find(|(s, _)| *s == n))
            .map(|(_, g)| *g);
        match np {
            Some(g) => println!("{n:>6} | {born:>10.1} | {g:>10.1} | {:>7.2}x", born / g),
            None => println!("{n:>6} | {born:>10.1} | {:>10} | {:>8}", "-", "-"),
        }
    }

    let n = 16 << 20;
    let x = Tensor::rand([n], DType::F32).realize();
    let fused = median_secs(samples, || {
        chain(&x, &|t| t).realize();
    });
    let unfused = median_secs(samples, || {
        chain(&x, &|t| t.realize());
    });
    let kernels = chain(&x, &|t| t).schedule().kernel_count();
    println!("\n8-op elementwise chain on {n} f32 elements (median of {samples})");
    println!("{:>10} | {:>8} | {:>10} | {:>8}", "mode", "kernels", "ms", "GB/s");
    println!("{:-<10}-+-{:-<8}-+-{:-<10}-+-{:-<8}", "", "", "", "");
    let gbs = |s: f64, passes: f64| passes * 8.0 * n as f64 / s / 1e9;
    println!(
        "{:>10} | {:>8} | {:>10.1} | {:>8.1}",
        "fused",
        kernels,
        fused * 1e3,
        gbs(fused, 1.0)
    );
    println!(
        "{:>10} | {:>8} | {:>10.1} | {:>8.1}",
        "unfused",
        8,
        unfused * 1e3,
        gbs(unfused, 8.0)
    );
    println!("fused is {:.2}x faster", unfused / fused);
}
