//! nn layers, losses, optimizers, schedules and safetensors save/load.

use born::nn::{self, loss, Module};
use born::optim::{self, Adam, LrScheduler, Optimizer, SGD};
use born::prelude::*;

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

fn f32s(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape.to_vec())
}

#[test]
fn linear_forward_matches_hand_computation() {
    let l = nn::Linear::new(3, 2);
    assert_eq!(l.weight.shape(), &[2, 3]);
    let bound = 1.0 / 3f64.sqrt();
    assert!(l.weight.to_vec_f64().iter().all(|w| w.abs() <= bound));
    l.weight.assign(&f32s(&[1., 2., 3., -1., 0., 1.], &[2, 3]));
    l.bias.as_ref().unwrap().assign(&f32s(&[0.5, -0.5], &[2]));
    let y = l.forward(&f32s(&[1., 1., 1., 2., 0., -1.], &[2, 3]));
    assert_eq!(y.shape(), &[2, 2]);
    close(&y.to_vec_f64(), &[6.5, -0.5, -0.5, -3.5], 1e-6);
    let names: Vec<String> = l.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
}

#[test]
fn linear_shape_error_names_layer_and_shapes() {
    let l = nn::Linear::new(784, 128);
    let err = l
        .try_forward(&Tensor::zeros([64, 100], DType::F32))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Linear(784 -> 128) got input [64, 100]"), "{err}");
}

#[test]
fn conv2d_small_cases() {
    let x = Tensor::arange(0.0, 9.0, 1.0, DType::F32).reshape([1, 1, 3, 3]);
    let c = nn::Conv2d::new(1, 1, 2);
    c.weight.assign(&f32s(&[1., 0., 0., 1.], &[1, 1, 2, 2]));
    c.bias.as_ref().unwrap().assign(&f32s(&[0.5], &[1]));
    let y = c.forward(&x);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    close(&y.to_vec_f64(), &[4.5, 6.5, 10.5, 12.5], 1e-6);
    let c2 = nn::Conv2d::with_options(1, 1, 2, 2, 1, 1, 1, true);
    c2.weight.assign(&f32s(&[1., 0., 0., 1.], &[1, 1, 2, 2]));
    c2.bias.as_ref().unwrap().assign(&f32s(&[0.5], &[1]));
    close(&c2.forward(&x).to_vec_f64(), &[0.5, 2.5, 6.5, 12.5], 1e-6);
    // Groups and shapes.
    let g = nn::Conv2d::with_options(4, 6, 3, 1, 1, 2, 2, false);
    assert_eq!(g.weight.shape(), &[6, 2, 3, 3]);
    assert_eq!(
        g.forward(&Tensor::rand([2, 4, 8, 8], DType::F32)).shape(),
        &[2, 6, 6, 6]
    );
    let err = g
        .try_forward(&Tensor::rand([2, 3, 8, 8], DType::F32))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Conv2d(4 -> 6") && err.contains("[2, 3, 8, 8]"), "{err}");
}

#[test]
fn pooling_flatten_and_activation_shapes() {
    let x = Tensor::arange(0.0, 16.0, 1.0, DType::F32).reshape([1, 1, 4, 4]);
    close(
        &nn::MaxPool2d::new(2).forward(&x).to_vec_f64(),
        &[5., 7., 13., 15.],
        0.0,
    );
    close(
        &nn::AvgPool2d::new(2).forward(&x).to_vec_f64(),
        &[2.5, 4.5, 10.5, 12.5],
        1e-6,
    );
    assert_eq!(nn::Flatten::new().forward(&x).shape(), &[1, 16]);
    let v = f32s(&[-1., 0.5], &[2]);
    close(&nn::ReLU::new().forward(&v).to_vec_f64(), &[0., 0.5], 0.0);
    close(
        &nn::Tanh::new().forward(&v).to_vec_f64(),
        &[(-1f64).tanh(), 0.5f64.tanh()],
        1e-6,
    );
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    close(
        &nn::Sigmoid::new().forward(&v).to_vec_f64(),
        &[sig(-1.0), sig(0.5)],
        1e-6,
    );
    close(
        &nn::SiLU::new().forward(&v).to_vec_f64(),
        &[-sig(-1.0), 0.5 * sig(0.5)],
        1e-6,
    );
    assert_eq!(nn::GELU::new().forward(&v).shape(), &[2]);
    let e = nn::Embedding::new(10, 4);
    let ids = Tensor::from_vec(vec![1i64, 3, 3], [3]);
    let out = e.forward(&ids);
    assert_eq!(out.shape(), &[3, 4]);
    let w = e.weight.to_vec_f64();
    close(&out.to_vec_f64()[4..8], &w[12..16], 0.0);
}

#[test]
fn gradient_reaches_every_parameter() {
    manual_seed(1);
    let model = nn::Sequential::new()
        .add(nn::Linear::new(4, 8))
        .add(nn::BatchNorm1d::new(8))
        .add(nn::GELU::new())
        .add(nn::LayerNorm::new(&[8]))
        .add(nn::Linear::new(8, 3));
    let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias"]
    );
    let x = Tensor::randn([6, 4], DType::F32);
    let y = Tensor::from_vec(vec![0i64, 1, 2, 0, 1, 2], [6]);
    loss::cross_entropy(&model.forward(&x), &y).unwrap().backward();
    for (n, p) in model.named_parameters() {
        let g = p.grad().unwrap_or_else(|| panic!("{n} has no gradient"));
        assert_eq!(g.shape(), p.shape());
        assert!(g.to_vec_f64().iter().any(|v| *v != 0.0), "{n}: zero gradient");
    }
}

#[test]
fn cross_entropy_and_label_smoothing_match_formulas() {
    let logits = Tensor::from_vec(vec![1.0f64, 2.0, 0.5, -1.0, 0.0, 3.0], [2, 3]);
    let t = Tensor::from_vec(vec![1i64, 2], [2]);
    let rows = [[1.0f64, 2.0, 0.5], [-1.0, 0.0, 3.0]];
    let lsm: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let lse = r.iter().map(|v| v.exp()).sum::<f64>().ln();
            r.iter().map(|v| v - lse).collect()
        })
        .collect();
    let nll = -(lsm[0][1] + lsm[1][2]) / 2.0;
    close(
        &[loss::cross_entropy(&logits, &t).unwrap().item::<f64>()],
        &[nll],
        1e-12,
    );
    close(
        &[loss::nll_loss(&logits.log_softmax(-1), &t).unwrap().item::<f64>()],
        &[nll],
        1e-12,
    );
    let eps = 0.1;
    let smooth = -(lsm[0].iter().sum::<f64>() + lsm[1].iter().sum::<f64>()) / 3.0 / 2.0;
    close(
        &[loss::cross_entropy_with(&logits, &t, eps).unwrap().item::<f64>()],
        &[(1.0 - eps) * nll + eps * smooth],
        1e-12,
    );
}

#[test]
fn bad_label_is_an_error_naming_it() {
    let logits = Tensor::zeros([2, 3], DType::F32);
    let err = loss::cross_entropy(&logits, &Tensor::from_vec(vec![0i64, 5], [2]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 5") && err.contains("3 classes"), "{err}");
    assert!(loss::nll_loss(&logits, &Tensor::from_vec(vec![-1i64, 0], [2])).is_err());
}

#[test]
fn regression_losses() {
    let p = Tensor::from_vec(vec![1.0f64, -2.0, 0.5], [3]);
    let y = Tensor::from_vec(vec![0.0f64, 1.0, 0.5], [3]);
    close(&[loss::mse(&p, &y).unwrap().item::<f64>()], &[10.0 / 3.0], 1e-12);
    close(&[loss::l1(&p, &y).unwrap().item::<f64>()], &[4.0 / 3.0], 1e-12);
    let b = Tensor::from_vec(vec![1.0f64, 0.0, 1.0], [3]);
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    let want = -[(1.0, 1.0), (-2.0, 0.0), (0.5, 1.0)]
        .iter()
        .map(|&(x, t): &(f64, f64)| t * sig(x).ln() + (1.0 - t) * (1.0 - sig(x)).ln())
        .sum::<f64>()
        / 3.0;
    close(
        &[loss::binary_cross_entropy_with_logits(&p, &b).unwrap().item::<f64>()],
        &[want],
        1e-12,
    );
}

/// One parameter `p` with `loss = sum(p * c)`, so the gradient is `c`.
fn quad(p: &Tensor, c: &[f64]) {
    (p * &Tensor::from_vec(c.to_vec(), [c.len()])).sum_all().backward();
}

#[test]
fn sgd_momentum_nesterov_and_weight_decay() {
    let p = Tensor::from_vec(vec![1.0f64, -2.0], [2]).requires_grad();
    let mut opt = SGD::new(vec![p.clone()], 0.1)
        .momentum(0.9)
        .nesterov(true)
        .weight_decay(0.01);
    let c = [0.5, -3.0];
    let mut want = [1.0f64, -2.0];
    let mut buf = [0.0f64; 2];
    for step in 0..2 {
        opt.zero_grad();
        quad(&p, &c);
        opt.step().unwrap();
        for i in 0..2 {
            let g = c[i] + 0.01 * want[i];
            buf[i] = if step == 0 { g } else { 0.9 * buf[i] + g };
            want[i] -= 0.1 * (g + 0.9 * buf[i]);
        }
        close(&p.to_vec_f64(), &want, 1e-12);
    }
    let q = Tensor::from_vec(vec![1.0f64], [1]).requires_grad();
    let mut plain = SGD::new(vec![q.clone()], 0.5);
    quad(&q, &[2.0]);
    plain.step().unwrap();
    close(&q.to_vec_f64(), &[0.0], 1e-12);
}

#[test]
fn adam_and_adamw_match_pytorch_formulas() {
    for decoupled in [false, true] {
        let p = Tensor::from_vec(vec![1.0f64, -2.0], [2]).requires_grad();
        let (lr, wd) = (0.01, 0.1);
        let mut opt: Box<dyn Optimizer> = if decoupled {
            Box::new(optim::AdamW::new(vec![p.clone()], lr).weight_decay(wd))
        } else {
            Box::new(Adam::new(vec![p.clone()], lr).weight_decay(wd))
        };
        let c = [0.5, -3.0];
        let (mut want, mut m, mut v) = ([1.0f64, -2.0], [0.0f64; 2], [0.0f64; 2]);
        for t in 1..=3 {
            opt.zero_grad();
            quad(&p, &c);
            opt.step().unwrap();
            for i in 0..2 {
                let mut g = c[i];
                if decoupled {
                    want[i] *= 1.0 - lr * wd;
                } else {
                    g += wd * want[i];
                }
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let (bc1, bc2) = (1.0 - 0.9f64.powi(t), 1.0 - 0.999f64.powi(t));
                want[i] -= lr / bc1 * m[i] / (v[i].sqrt() / bc2.sqrt() + 1e-8);
            }
            close(&p.to_vec_f64(), &want, 1e-12);
        }
    }
    // First Adam step without decay: -lr * sign(g) (up to eps).
    let p = Tensor::from_vec(vec![1.0f64, -2.0], [2]).requires_grad();
    let mut opt = Adam::new(vec![p.clone()], 0.1);
    quad(&p, &[0.5, -3.0]);
    opt.step().unwrap();
    close(&p.to_vec_f64(), &[0.9, -1.9], 1e-6);
}

#[test]
fn clip_grad_norm_scales_gradients() {
    let p = Tensor::from_vec(vec![0.0f64, 0.0], [2]).requires_grad();
    quad(&p, &[3.0, 4.0]);
    let n = optim::clip_grad_norm(std::slice::from_ref(&p), 1.0).unwrap();
    close(&[n], &[5.0], 1e-12);
    close(&p.grad().unwrap().to_vec_f64(), &[0.6, 0.8], 1e-6);
}

#[test]
fn lr_schedules() {
    let p = Tensor::from_vec(vec![0.0f64], [1]).requires_grad();
    let mut opt = SGD::new(vec![p], 1.0);
    let mut s = optim::StepLR::new(&opt, 2, 0.5);
    let lrs: Vec<f64> = (0..4)
        .map(|_| {
            s.step(&mut opt);
            opt.lr()
        })
        .collect();
    close(&lrs, &[1.0, 0.5, 0.5, 0.25], 1e-12);
    opt.set_lr(1.0);
    let mut c = optim::CosineAnnealingLR::new(&opt, 2, 0.0);
    c.step(&mut opt);
    close(&[opt.lr()], &[0.5], 1e-12);
    c.step(&mut opt);
    close(&[opt.lr()], &[0.0], 1e-12);
    opt.set_lr(1.0);
    let mut w = optim::LinearWarmup::new(&mut opt, 4, 0.2);
    close(&[opt.lr()], &[0.2], 1e-12);
    w.step(&mut opt);
    close(&[opt.lr()], &[0.4], 1e-12);
    for _ in 0..5 {
        w.step(&mut opt);
    }
    close(&[opt.lr()], &[1.0], 1e-12);
}

#[test]
fn mlp_learns_two_classes() {
    manual_seed(0);
    let n = 256;
    let x = Tensor::rand([n, 2], DType::F32) * 2.0 - 1.0;
    let xv = x.to_vec_f64();
    let labels: Vec<i64> = (0..n)
        .map(|i| (xv[2 * i] * xv[2 * i] + xv[2 * i + 1] * xv[2 * i + 1] < 0.45) as i64)
        .collect();
    let y = Tensor::from_vec(labels.clone(), [n]);
    let model = nn::Sequential::new()
        .add(nn::Linear::new(2, 32))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(32, 32))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(32, 2));
    let mut opt = Adam::new(model.parameters(), 0.02);
    for _ in 0..300 {
        opt.zero_grad();
        loss::cross_entropy(&model.forward(&x), &y).unwrap().backward();
        opt.step().unwrap();
    }
    let pred: Vec<i64> = no_grad(|| model.forward(&x).argmax(1, false).to_vec());
    let acc = pred.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / n as f64;
    assert!(acc > 0.95, "accuracy {acc}");
}

#[test]
fn save_load_round_trip() {
    let dir = std::env::temp_dir().join(format!("born-nn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let make = || {
        nn::Sequential::new()
            .add(nn::Linear::new(3, 5))
            .add(nn::BatchNorm1d::new(5))
            .add(nn::Tanh::new())
            .add(nn::Linear::new(5, 2))
    };
    let mut a = make();
    a.forward(&Tensor::randn([4, 3], DType::F32)).realize(); // moves the running stats
    a.eval();
    nn::save(&a, &path).unwrap();
    let mut b = make();
    b.eval();
    let x = Tensor::randn([4, 3], DType::F32);
    assert_ne!(a.forward(&x).to_vec::<f32>(), b.forward(&x).to_vec::<f32>());
    nn::load(&b, &path).unwrap();
    assert_eq!(a.forward(&x).to_vec::<f32>(), b.forward(&x).to_vec::<f32>());

    let err = nn::load(&nn::Linear::new(4, 5), &path).unwrap_err().to_string();
    assert!(err.contains("\"weight\"") && err.contains("missing"), "{err}");
    let small = nn::Linear::new(3, 5);
    nn::save(&small, &path).unwrap();
    let err = nn::load(&nn::Linear::new(4, 5), &path).unwrap_err().to_string();
    assert!(
        err.contains("\"weight\"") && err.contains("[5, 3]") && err.contains("[5, 4]"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn batchnorm_train_and_eval_differ() {
    let mut bn = nn::BatchNorm1d::new(2);
    let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 20.0, 5.0, 30.0, 7.0, 40.0], [4, 2]);
    let y = bn.forward(&x).to_vec_f64();
    // Column 0: mean 4, biased var 5.
    let want0: Vec<f64> = [1.0, 3.0, 5.0, 7.0]
        .iter()
        .map(|v| (v - 4.0) / (5.0f64 + 1e-5).sqrt())
        .collect();
    close(&[y[0], y[2], y[4], y[6]], &want0, 1e-5);
    close(&bn.running_mean().to_vec_f64(), &[0.4, 2.5], 1e-6);
    // Unbiased var of column 0 is 20/3.
    close(&bn.running_var().to_vec_f64()[..1], &[0.9 + 0.1 * 20.0 / 3.0], 1e-6);
    bn.eval();
    assert!(!bn.is_training());
    let e = bn.forward(&x).to_vec_f64();
    let rv0 = 0.9 + 0.1 * 20.0 / 3.0;
    close(&[e[0]], &[(1.0 - 0.4) / (rv0 + 1e-5f64).sqrt()], 1e-5);
    assert_ne!(e, y);
    assert_eq!(bn.running_mean().to_vec_f64(), vec![0.4f32 as f64, 2.5]);
    let mut bn2 = nn::BatchNorm2d::new(3);
    assert_eq!(
        bn2.forward(&Tensor::randn([2, 3, 4, 4], DType::F32)).shape(),
        &[2, 3, 4, 4]
    );
    bn2.eval();
    assert!(bn2.try_forward(&Tensor::randn([2, 4, 4, 4], DType::F32)).is_err());
}

#[test]
fn batchnorm_statistics_update_in_the_optimizer_steps_schedule() {
    manual_seed(3);
    let lin = nn::Linear::new(4, 3);
    let bn = nn::BatchNorm1d::new(3);
    let x = Tensor::randn([8, 4], DType::F32);
    let h = lin.forward(&x);
    let batch_mean = h.detach().mean(0, false).to_vec_f64();
    let before = born::runtime::realizes_on_this_thread();
    let y = bn.forward(&h);
    let loss = (&y * &y).sum_all();
    let mut params = lin.parameters();
    params.extend(bn.parameters());
    let mut opt = SGD::new(params, 0.1);
    opt.zero_grad();
    loss.backward();
    opt.step().unwrap();
    assert_eq!(
        born::runtime::realizes_on_this_thread(),
        before + 1,
        "forward, running statistics, backward and update realize as one schedule"
    );
    let want: Vec<f64> = batch_mean.iter().map(|m| 0.1 * m).collect();
    close(&bn.running_mean().to_vec_f64(), &want, 1e-5);
    // Two forwards before a step: both updates apply, in order.
    let _ = bn.forward(&h.detach());
    let _ = bn.forward(&h.detach());
    let twice: Vec<f64> = want.iter().zip(&batch_mean).map(|(r, m)| 0.81 * r + 0.19 * m).collect();
    close(&bn.running_mean().to_vec_f64(), &twice, 1e-5);
}

#[test]
fn dropout_eval_is_identity_and_train_scales() {
    manual_seed(3);
    let mut d = nn::Dropout::new(0.5);
    let x = Tensor::ones([1000], DType::F32);
    let y = d.forward(&x).to_vec_f64();
    assert!(y.iter().all(|v| *v == 0.0 || (*v - 2.0).abs() < 1e-6));
    let kept = y.iter().filter(|v| **v != 0.0).count();
    assert!((400..600).contains(&kept), "{kept}");
    d.eval();
    assert_eq!(d.forward(&x).to_vec_f64(), x.to_vec_f64());
    let mut s = nn::Sequential::new().add(nn::Dropout::new(0.9));
    s.eval();
    assert_eq!(s.forward(&x).to_vec_f64(), x.to_vec_f64());
}

#[test]
fn multi_head_attention_matches_hand_computation() {
    let e = 2;
    let mha = nn::MultiHeadAttention::new(e, 1);
    let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    );
    // Identity projections: out = softmax(x xᵀ / sqrt(E)) x.
    let eye3 = f32s(&[1., 0., 0., 1., 1., 0., 0., 1., 1., 0., 0., 1.], &[6, 2]);
    mha.in_proj_weight.assign(&eye3);
    mha.out_proj_weight.assign(&f32s(&[1., 0., 0., 1.], &[2, 2]));
    let xs = [[1.0f64, 0.0], [0.0, 2.0], [1.0, 1.0]];
    let x = f32s(&[1., 0., 0., 2., 1., 1.], &[1, 3, 2]);
    let (out, w) = mha.try_attend(&x, &x, &x, None).unwrap();
    assert_eq!(out.shape(), &[1, 3, 2]);
    assert_eq!(w.shape(), &[1, 3, 3]);
    let mut want_out = Vec::new();
    let mut want_w = Vec::new();
    for a in &xs {
        let s: Vec<f64> = xs.iter().map(|b| (a[0] * b[0] + a[1] * b[1]) / 2f64.sqrt()).collect();
        let z: f64 = s.iter().map(|v| v.exp()).sum();
        let p: Vec<f64> = s.iter().map(|v| v.exp() / z).collect();
        want_out.push(
            (0..2)
                .map(|j| (0..3).map(|i| p[i] * xs[i][j]).sum::<f64>())
                .collect::<Vec<_>>(),
        );
        want_w.extend(p);
    }
    close(&w.to_vec_f64(), &want_w, 1e-5);
    close(&out.to_vec_f64(), &want_out.concat(), 1e-5);
    // A causal mask: the first query sees only the first key.
    let causal = Tensor::from_vec(vec![false, true, true, false, false, true, false, false, false], [3, 3]);
    let (_, w) = mha.try_attend(&x, &x, &x, Some(&causal)).unwrap();
    close(&w.to_vec_f64()[..3], &[1.0, 0.0, 0.0], 1e-6);
    // Several heads: shapes, and gradients reach every parameter.
    let mha4 = nn::MultiHeadAttention::new(8, 4);
    let y = mha4.forward(&Tensor::randn([2, 5, 8], DType::F32));
    assert_eq!(y.shape(), &[2, 5, 8]);
    (&y * &y).sum_all().backward();
    for (n, p) in mha4.named_parameters() {
        assert!(p.grad().is_some(), "{n}");
    }
    let err = mha4
        .try_forward(&Tensor::zeros([2, 5, 6], DType::F32))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 5, 6]"), "{err}");
}

/// Regression: `loss.item()` after `opt.step()` used to recompute the loss lazily from the
/// updated parameters (and rerun the forward pass); it must read the loss of the step.
#[test]
fn loss_read_after_step_is_the_loss_before_the_update() {
    let w = f32s(&[1.0, -2.0], &[2]).requires_grad();
    let x = f32s(&[3.0, 4.0], &[2]);
    let mut opt = SGD::new(vec![w.clone()], 0.1);
    let s = (&w * &x).sum_all();
    let loss = &s * &s;
    opt.zero_grad();
    loss.backward();
    let before = born::runtime::realizes_on_this_thread();
    opt.step().unwrap();
    assert!(loss.is_realized(), "the step realizes the loss it was computed from");
    assert_eq!(
        born::runtime::realizes_on_this_thread(),
        before + 1,
        "one schedule for loss, gradient and update"
    );
    // (1*3 - 2*4)^2 = 25 with the old weights; the new weights would give a different value.
    assert_eq!(loss.item::<f32>(), 25.0);
    close(
        &w.to_vec_f64(),
        &[1.0 - 0.1 * 2.0 * -5.0 * 3.0, -2.0 - 0.1 * 2.0 * -5.0 * 4.0],
        1e-6,
    );
}
