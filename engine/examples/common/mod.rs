//! What `mnist_mlp` and `mnist_cnn` share: command-line options, the dataset choice,
//! and the training loop (same recipe as `../shared/bench/train_fashion.py`: f32 in
//! `[0, 1]`, batch 64, Adam 1e-3, a seeded reshuffle every epoch, last partial batch kept).

use born::data::datasets;
use born::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Options common to the training examples.
pub struct Options {
    /// `fashion-mnist`, `mnist` or `mnist-test-split`.
    pub dataset: String,
    /// Training epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights and the shuffles.
    pub seed: u64,
    /// Print one JSON line with every epoch at the end (for the benchmark script).
    pub json: bool,
    /// Directory of the real MNIST test digits (for `mnist-test-split`).
    pub digits_dir: PathBuf,
    /// Parameters to start from (safetensors, PyTorch's names: `0.weight`, ...).
    pub load: Option<PathBuf>,
    /// Where to save the trained parameters (safetensors).
    pub save: Option<PathBuf>,
    /// Where the model trains (`cpu`, `gpu`, `gpu:N`).
    pub device: Device,
}

const USAGE: &str = "options: --dataset fashion-mnist|mnist|mnist-test-split  --epochs N  --batch N  \
--lr X  --seed N  --digits-dir DIR  --load FILE.safetensors  --save FILE.safetensors  --json
--device cpu|gpu|gpu:N
(--epochs 0 with --load: only the test accuracy of the loaded parameters)";

impl Options {
    /// Parses `std::env::args`, with the given default epoch count.
    pub fn from_args(default_epochs: usize) -> Options {
        let mut o = Options {
            dataset: "fashion-mnist".into(),
            epochs: default_epochs,
            batch: 64,
            lr: 1e-3,
            seed: 0,
            json: false,
            digits_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"),
            load: None,
            save: None,
            device: Device::Cpu,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = || args.next().unwrap_or_else(|| fail(&format!("{a} needs a value")));
            match a.as_str() {
                "--dataset" => o.dataset = value(),
                "--epochs" => o.epochs = parse(&a, &value()),
                "--batch" => o.batch = parse(&a, &value()),
                "--lr" => o.lr = parse(&a, &value()),
                "--seed" => o.seed = parse(&a, &value()),
                "--digits-dir" => o.digits_dir = PathBuf::from(value()),
                "--json" => o.json = true,
                "--load" => o.load = Some(PathBuf::from(value())),
                "--save" => o.save = Some(PathBuf::from(value())),
                "--device" => {
                    let v = value();
                    o.device = Device::parse(&v).unwrap_or_else(|| fail(&format!("--device: unknown device {v:?}")))
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0)
                }
                _ => fail(&format!("unknown option {a}")),
            }
        }
        o
    }

    /// Loads the chosen dataset.
    pub fn load(&self) -> Mnist {
        let r = match self.dataset.as_str() {
            "fashion-mnist" => datasets::fashion_mnist(),
            "mnist" => datasets::mnist(),
            "mnist-test-split" => datasets::mnist_test_split(&self.digits_dir),
            other => fail(&format!("unknown dataset {other:?}")),
        };
        r.unwrap_or_else(|e| fail(&e.to_string()))
    }
}

fn parse<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| fail(&format!("{flag}: cannot read {v:?}")))
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}\n{USAGE}");
    std::process::exit(2)
}

/// One epoch's numbers.
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Accuracy on the test set after the epoch.
    pub test_acc: f64,
    /// Seconds spent training (excluding evaluation).
    pub train_s: f64,
    /// Seconds spent evaluating.
    pub eval_s: f64,
    /// Host buffers allocated during the epoch's full-size steps (after the first step
    /// for epoch 1).
    pub new_buffers: u64,
    /// Host buffers allocated by a smaller last batch (its shapes are new once).
    pub last_batch_buffers: u64,
}

/// Fraction of test images the model classifies correctly (eval mode, no grad, batches of 1000).
pub fn evaluate(model: &mut dyn Module, images: &Tensor, labels: &Tensor, shape: &[usize], device: Device) -> f64 {
    model.eval();
    let n = labels.shape()[0];
    let mut correct = 0i64;
    no_grad(|| {
        for lo in (0..n).step_by(1000) {
            let hi = (lo + 1000).min(n);
            let mut dims = vec![hi - lo];
            dims.extend_from_slice(shape);
            let x = images.narrow(0, lo, hi - lo).reshape(dims).to_device(device);
            let pred = model.forward(&x).argmax(-1, false);
            correct += pred
                .eq(&labels.narrow(0, lo, hi - lo).to_device(device))
                .to_dtype(DType::I64)
                .sum_all()
                .item::<i64>();
        }
    });
    model.train(true);
    correct as f64 / n as f64
}

/// Trains `model` on `data` with Adam and cross-entropy, printing a line per epoch.
/// `shape` is one example's input shape (`[784]` for an MLP, `[1, 28, 28]` for a CNN).
pub fn train(name: &str, model: &mut dyn Module, data: &Mnist, shape: &[usize], o: &Options) -> Vec<Epoch> {
    let train_x = data.train_images_f32().realize();
    let test_x = data.test_images_f32().realize();
    let mut loader = DataLoader::new(&train_x, &data.train_labels, o.batch)
        .shuffle(true)
        .seed(o.seed);
    if let Some(path) = &o.load {
        nn::load(model, path).unwrap_or_else(|e| fail(&e.to_string()));
        println!("loaded parameters from {}", path.display());
    }
    model.try_to_device(o.device).unwrap_or_else(|e| fail(&e.to_string()));
    let mut opt = optim::Adam::new(model.parameters(), o.lr);
    let params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    println!(
        "{name}: {params} parameters; {} training / {} test images; batch {}, Adam lr {}; on {}",
        data.train_len(),
        data.test_len(),
        o.batch,
        o.lr,
        o.device
    );
    let mut epochs = Vec::new();
    for epoch in 1..=o.epochs {
        model.train(true);
        let t0 = Instant::now();
        let (mut total, mut batches) = (0.0f64, 0usize);
        // Host buffers, and GPU buffers when training there.
        let allocated =
            || born::runtime().stats().buffers_allocated + born::gpu_stats(o.device).map_or(0, |s| s.buffers_allocated);
        let mut buffers_at_start = allocated();
        let mut last_batch_buffers = 0;
        for (step, (x, y)) in loader.iter().enumerate() {
            let before_step = allocated();
            let mut dims = vec![x.shape()[0]];
            dims.extend_from_slice(shape);
            let (x, y) = (x.to_device(o.device), y.to_device(o.device));
            let logits = model.forward(&x.reshape(dims));
            let loss =
                nn::loss::cross_entropy(&logits, &y).unwrap_or_else(|e| panic!("epoch {epoch} step {step}: {e}"));
            opt.zero_grad();
            loss.backward();
            opt.step().unwrap_or_else(|e| panic!("epoch {epoch} step {step}: {e}"));
            let l = loss.item::<f32>() as f64;
            if !l.is_finite() {
                panic!("epoch {epoch} step {step}: the loss is {l}; lower the learning rate (--lr)");
            }
            total += l;
            batches += 1;
            if epoch == 1 && step == 0 {
                // The first step allocates the optimizer state and the pool's buffers.
                buffers_at_start = allocated();
            } else if x.shape()[0] < o.batch {
                last_batch_buffers += allocated() - before_step;
            }
        }
        let train_s = t0.elapsed().as_secs_f64();
        let new_buffers = allocated() - buffers_at_start - last_batch_buffers;
        let t1 = Instant::now();
        let test_acc = evaluate(model, &test_x, &data.test_labels, shape, o.device);
        let eval_s = t1.elapsed().as_secs_f64();
        let e = Epoch {
            epoch,
            train_loss: total / batches as f64,
            test_acc,
            train_s,
            eval_s,
            new_buffers,
            last_batch_buffers,
        };
        println!(
            "epoch {epoch}: loss {:.4}  test acc {:.2}%  train {:.2} s  eval {:.2} s  new buffers {}{}{}",
            e.train_loss,
            100.0 * e.test_acc,
            e.train_s,
            e.eval_s,
            e.new_buffers,
            if epoch == 1 { " (after step 1)" } else { "" },
            match e.last_batch_buffers {
                0 => String::new(),
                n => format!(", {n} for the smaller last batch"),
            }
        );
        epochs.push(e);
    }
    if o.epochs == 0 {
        model.train(false);
        println!(
            "test acc {:.2}%",
            100.0 * evaluate(model, &test_x, &data.test_labels, shape, o.device)
        );
    }
    if let Some(path) = &o.save {
        nn::save(model, path).unwrap_or_else(|e| fail(&e.to_string()));
        println!("saved parameters to {}", path.display());
    }
    if o.json {
        let rows: Vec<String> = epochs
            .iter()
            .map(|e| {
                format!(
                    r#"{{"epoch":{},"train_loss":{:.5},"test_acc":{:.4},"train_s":{:.3},"eval_s":{:.3},"new_buffers":{},"last_batch_buffers":{}}}"#,
                    e.epoch,
                    e.train_loss,
                    e.test_acc,
                    e.train_s,
                    e.eval_s,
                    e.new_buffers,
                    e.last_batch_buffers
                )
            })
            .collect();
        println!(
            r#"{{"model":"{name}","dataset":"{}","epochs":[{}]}}"#,
            o.dataset,
            rows.join(",")
        );
    }
    epochs
}
