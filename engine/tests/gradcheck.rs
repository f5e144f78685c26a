//! Autograd: every differentiable op against central finite differences in f64, and the
//! behaviour around it (accumulation, zero_grad, no_grad, detach, assign, training, errors,
//! and the schedule of a training step).

use born::prelude::*;
use born::schedule::KernelOp;
use DType::F64;

/// Deterministic values in about [-1, 1) (a test's own generator: no shared RNG state).
fn rnd(shape: &[usize], seed: u64) -> Tensor {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape.to_vec())
}

/// Positive values in [0.5, 1.5).
fn pos(shape: &[usize], seed: u64) -> Tensor {
    rnd(shape, seed) * 0.5 + 1.0
}

/// Compares the analytic gradient of `sum(f(inputs) * w)` (fixed weights, so a wrong
/// permutation cannot hide behind a plain sum) with central differences, in f64.
#[track_caller]
fn check_grad(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    let (rtol, atol, h) = (1e-4, 1e-6, 1e-6);
    let data: Vec<Vec<f64>> = inputs.iter().map(|t| t.to_vec_f64()).collect();
    let params: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.to_dtype(F64).detach().contiguous().requires_grad())
        .collect();
    let out = f(&params);
    let w = rnd(out.shape(), 99);
    let loss = (&out * &w).sum_all();
    loss.backward();
    let eval = |vals: &[Vec<f64>]| -> f64 {
        no_grad(|| {
            let ts: Vec<Tensor> = vals
                .iter()
                .zip(inputs)
                .map(|(v, t)| Tensor::from_vec(v.clone(), t.shape().to_vec()))
                .collect();
            (f(&ts) * &w).sum_all().item::<f64>()
        })
    };
    for (i, p) in params.iter().enumerate() {
        let analytic = p.grad().unwrap_or_else(|| p.zeros_like()).to_vec_f64();
        let mut vals = data.clone();
        for j in 0..data[i].len() {
            vals[i][j] = data[i][j] + h;
            let up = eval(&vals);
            vals[i][j] = data[i][j] - h;
            let down = eval(&vals);
            vals[i][j] = data[i][j];
            let numeric = (up - down) / (2.0 * h);
            let a = analytic[j];
            assert!(
                (a - numeric).abs() <= atol + rtol * numeric.abs(),
                "input {i} (shape {:?}) element {j}: analytic {a} vs numeric {numeric}",
                p.shape()
            );
        }
    }
}

#[test]
fn unary_ops() {
    let x = rnd(&[3, 4], 1);
    let p = pos(&[3, 4], 2);
    check_grad(|t| t[0].neg(), std::slice::from_ref(&x));
    check_grad(|t| t[0].abs(), std::slice::from_ref(&x));
    check_grad(|t| t[0].exp(), std::slice::from_ref(&x));
    check_grad(|t| t[0].log(), std::slice::from_ref(&p));
    check_grad(|t| t[0].log1p(), std::slice::from_ref(&p));
    check_grad(|t| t[0].sqrt(), std::slice::from_ref(&p));
    check_grad(|t| t[0].rsqrt(), std::slice::from_ref(&p));
    check_grad(|t| t[0].recip(), std::slice::from_ref(&p));
    check_grad(|t| t[0].sin(), std::slice::from_ref(&x));
    check_grad(|t| t[0].cos(), std::slice::from_ref(&x));
    check_grad(|t| t[0].tanh(), std::slice::from_ref(&x));
    check_grad(|t| t[0].erf(), std::slice::from_ref(&x));
    check_grad(|t| t[0].sigmoid(), std::slice::from_ref(&x));
    check_grad(
        |t| (t[0].floor() + t[0].round() + t[0].sign()) * 1.0 + &t[0],
        std::slice::from_ref(&x),
    );
}

#[test]
fn activations() {
    let x = rnd(&[4, 5], 3);
    check_grad(|t| t[0].relu(), std::slice::from_ref(&x));
    check_grad(|t| t[0].leaky_relu(0.1), std::slice::from_ref(&x));
    check_grad(|t| t[0].gelu(), std::slice::from_ref(&x));
    check_grad(|t| t[0].gelu_tanh(), std::slice::from_ref(&x));
    check_grad(|t| t[0].silu(), std::slice::from_ref(&x));
    check_grad(|t| t[0].clamp(-0.5, 0.5), std::slice::from_ref(&x));
}

#[test]
fn broadcasting_binary_ops() {
    let a = rnd(&[3, 1, 4], 4);
    let b = rnd(&[2, 4], 5);
    let (pa, pb) = (pos(&[3, 1, 4], 6), pos(&[2, 4], 7));
    let ab = [a.clone(), b.clone()];
    check_grad(|t| &t[0] + &t[1], &ab);
    check_grad(|t| &t[0] - &t[1], &ab);
    check_grad(|t| &t[0] * &t[1], &ab);
    check_grad(|t| &t[0] / &t[1], &[a.clone(), pb.clone()]);
    check_grad(|t| t[0].pow(&t[1]), &[pa.clone(), b.clone()]);
    check_grad(
        |t| t[0].powf(3.0) + t[0].powf(2.0) + t[0].powf(0.5),
        std::slice::from_ref(&pa),
    );
    check_grad(|t| t[0].maximum(&t[1]), &ab);
    check_grad(|t| t[0].minimum(&t[1]), &ab);
    check_grad(|t| t[0].rem(&t[1]), &[a.clone(), pb.clone()]);
    check_grad(|t| t[0].gt(&t[1]).where_cond(&t[0], &(&t[1] * 3.0)), &ab);
    check_grad(|t| &t[0] * 2.0 + 1.0 - &t[0] / 4.0, std::slice::from_ref(&a));
}

#[test]
fn max_and_min_split_ties_evenly() {
    let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], [3]).requires_grad();
    let b = Tensor::from_vec(vec![1.0f64, 5.0, 0.0], [3]).requires_grad();
    a.maximum(&b).sum_all().backward();
    assert_eq!(a.grad().unwrap().to_vec_f64(), vec![0.5, 0.0, 1.0]);
    assert_eq!(b.grad().unwrap().to_vec_f64(), vec![0.5, 1.0, 0.0]);
    let x = Tensor::from_vec(vec![2.0f64, 2.0, 1.0, 0.0], [4]).requires_grad();
    x.max_all().backward();
    assert_eq!(x.grad().unwrap().to_vec_f64(), vec![0.5, 0.5, 0.0, 0.0]);
}

#[test]
fn reductions_over_several_axes() {
    let x = rnd(&[2, 3, 4], 8);
    let xs = std::slice::from_ref(&x);
    for keep in [false, true] {
        check_grad(|t| t[0].sum([0, 2], keep), xs);
        check_grad(|t| t[0].mean([-1, 0], keep), xs);
        check_grad(|t| t[0].max([1, 2], keep), xs);
        check_grad(|t| t[0].min([0, 1], keep), xs);
        check_grad(|t| t[0].prod([0, 2], keep), xs);
        check_grad(|t| t[0].var([0, 2], keep), xs);
        check_grad(|t| t[0].std([1], keep), xs);
        check_grad(|t| t[0].logsumexp([1, 2], keep), xs);
    }
    check_grad(|t| t[0].sum_all(), xs);
    check_grad(|t| t[0].max_all(), xs);
    // Products through zeros: one zero in a row, two zeros in another.
    let z = Tensor::from_vec(vec![0.0f64, 2.0, 3.0, 0.5, 0.0, 0.0, 1.5, 2.0], [2, 4]);
    check_grad(|t| t[0].prod([1], false), std::slice::from_ref(&z));
}

#[test]
fn softmax_family_and_cross_entropy() {
    let x = rnd(&[3, 5], 9) * 3.0;
    let xs = std::slice::from_ref(&x);
    check_grad(|t| t[0].softmax(-1), xs);
    check_grad(|t| t[0].softmax(0), xs);
    check_grad(|t| t[0].log_softmax(-1), xs);
    check_grad(|t| t[0].logsumexp(1, false), xs);
    let labels = Tensor::from_vec(vec![1i64, 4, 0], [3]);
    let one_hot = labels.one_hot(5).to_dtype(F64);
    check_grad(|t| -(t[0].log_softmax(-1) * &one_hot).sum_all() / 3.0, xs);
}

#[test]
fn movement_ops() {
    let x = rnd(&[3, 4, 5], 10);
    let xs = std::slice::from_ref(&x);
    check_grad(|t| t[0].reshape([4, 15]), xs);
    check_grad(|t| t[0].permute([2, 0, 1]).reshape([5, 12]), xs); // reshape of a non-contiguous view
    check_grad(|t| t[0].permute([1, 2, 0]), xs);
    check_grad(|t| t[0].transpose(0, 2), xs);
    check_grad(|t| t[0].slice(1, .., -1), xs);
    check_grad(|t| t[0].slice(2, 4.., -2), xs);
    check_grad(|t| t[0].slice(1, 2.., -2).slice(2, 3.., -1), xs);
    check_grad(|t| t[0].slice(2, 1.., 3).slice(0, 0..2, 1), xs);
    check_grad(|t| t[0].flip([0, 2]), xs);
    check_grad(|t| t[0].narrow(1, 1, 2), xs);
    check_grad(|t| t[0].pad(&[(1, 2), (0, 3)], 0.5), xs);
    check_grad(|t| t[0].pad_reflect(&[(1, 1)]), xs);
    check_grad(|t| t[0].repeat(&[2, 1, 2]), xs);
    check_grad(
        |t| t[0].split(2, 1)[1].clone() * 2.0 + t[0].chunk(3, 2)[0].sum_all(),
        xs,
    );
    check_grad(|t| t[0].tril(0).flatten(0, 1), xs);
    let v = rnd(&[3, 1, 5], 11);
    check_grad(|t| t[0].expand([3, 4, 5]), std::slice::from_ref(&v));
    check_grad(|t| t[0].broadcast_to(&[2, 3, 6, 5]), &[rnd(&[3, 1, 5], 12)]);
    check_grad(|t| t[0].unsqueeze(0).squeeze(0).squeeze_all(), std::slice::from_ref(&v));
    let y = rnd(&[3, 2, 5], 13);
    check_grad(|t| Tensor::cat(&[&t[0], &t[1], &t[0]], 1), &[x.clone(), y.clone()]);
    check_grad(|t| Tensor::stack(&[&t[0], &t[0]], 0), std::slice::from_ref(&y));
}

#[test]
fn matmul_variants() {
    let a = rnd(&[2, 3, 4], 14);
    let b = rnd(&[2, 4, 5], 15);
    check_grad(|t| t[0].matmul(&t[1]), &[a.clone(), b.clone()]);
    check_grad(|t| t[0].matmul(&t[1]), &[rnd(&[2, 1, 3, 4], 16), rnd(&[3, 4, 2], 17)]); // broadcast batch
    check_grad(|t| t[0].matmul(&t[1]), &[a.clone(), rnd(&[4, 5], 18)]);
    check_grad(|t| t[0].t().matmul(&t[1].t()), &[rnd(&[4, 3], 19), rnd(&[5, 4], 20)]); // transposed operands
    check_grad(|t| t[0].matmul(&t[1]), &[rnd(&[4], 21), rnd(&[4, 3], 22)]);
    check_grad(|t| t[0].outer(&t[1]), &[rnd(&[3], 23), rnd(&[4], 24)]);
}

#[test]
fn convolution() {
    let x = rnd(&[2, 4, 7, 6], 25);
    let w = rnd(&[6, 2, 3, 2], 26);
    let b = rnd(&[6], 27);
    check_grad(
        |t| t[0].conv2d(&t[1], Some(&t[2]), (2, 1), (1, 2), (2, 1), 2),
        &[x.clone(), w.clone(), b.clone()],
    );
    check_grad(
        |t| t[0].conv2d(&t[1], None, 1, 0, 1, 1),
        &[rnd(&[1, 2, 5, 5], 28), rnd(&[3, 2, 3, 3], 29)],
    );
    check_grad(
        |t| t[0].conv_transpose2d(&t[1], Some(&t[2]), 2, 1, 1, 1, 1),
        &[rnd(&[1, 2, 3, 4], 30), rnd(&[2, 3, 3, 3], 31), rnd(&[3], 32)],
    );
    check_grad(
        |t| t[0].conv1d(&t[1], None, 2, 1, 1, 1),
        &[rnd(&[2, 2, 7], 33), rnd(&[3, 2, 3], 34)],
    );
}

#[test]
fn pooling() {
    let x = rnd(&[2, 3, 7, 6], 35);
    let xs = std::slice::from_ref(&x);
    check_grad(|t| t[0].max_pool2d(3, 2, 1), xs); // overlapping windows accumulate
    check_grad(|t| t[0].max_pool2d(2, 2, 0), xs);
    check_grad(|t| t[0].avg_pool2d(3, 1, 1), xs);
    check_grad(|t| t[0].avg_pool2d((2, 3), (2, 2), 0), xs);
    check_grad(|t| t[0].adaptive_avg_pool2d((3, 4)), xs);
}

#[test]
fn indexing() {
    let x = rnd(&[4, 5], 36);
    let idx = Tensor::from_vec(vec![0i64, 3, 3, 1, 4, 0, 2, 2], [2, 4]);
    check_grad(|t| t[0].gather(1, &idx), std::slice::from_ref(&x));
    let rows = Tensor::from_vec(vec![3i64, 0, 3, 1, 2, 2, 0, 0], [2, 4]);
    check_grad(|t| t[0].gather(0, &rows), std::slice::from_ref(&x));
    let src = rnd(&[2, 4], 37);
    check_grad(|t| t[0].scatter_add(1, &idx, &t[1]), &[x.clone(), src.clone()]);
    let distinct = Tensor::from_vec(vec![0i64, 3, 1, 4, 2, 0, 1, 3], [2, 4]);
    check_grad(|t| t[0].scatter(1, &distinct, &t[1]), &[x.clone(), src.clone()]);
    let ids = Tensor::from_vec(vec![2i64, 0, 2, 3], [4]);
    check_grad(|t| t[0].index_select(0, &ids), std::slice::from_ref(&x));
    check_grad(|t| t[0].index_select(1, &ids), std::slice::from_ref(&x));
    let tokens = Tensor::from_vec(vec![1i64, 3, 3, 0, 2, 1], [2, 3]);
    check_grad(|t| tokens.embedding(&t[0]), std::slice::from_ref(&x));
    check_grad(|t| t[0].cumsum(1) + t[0].cumsum(0), std::slice::from_ref(&x));
    let (vals, _) = x.sort(1, true);
    assert_eq!(vals.shape(), &[4, 5]);
    check_grad(|t| t[0].topk(2, 1, true).0, std::slice::from_ref(&x));
}

#[test]
fn cast_sends_the_gradient_back_in_the_input_dtype() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad();
    let y = x.to_dtype(DType::F32) * 3.0;
    y.to_dtype(F64).sum_all().backward();
    let g = x.grad().unwrap();
    assert_eq!(g.dtype(), F64);
    assert_eq!(g.to_vec_f64(), vec![3.0, 3.0]);
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let w = Tensor::from_vec(vec![1.0f64, -2.0], [2]).requires_grad();
    (&w * &w).sum_all().backward();
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![2.0, -4.0]);
    (&w * 3.0).sum_all().backward();
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![5.0, -1.0]);
    w.zero_grad();
    assert!(w.grad().is_none());
    w.sum_all().backward();
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![1.0, 1.0]);
    // A tensor used twice gets both contributions in one pass.
    let v = Tensor::from_vec(vec![3.0f64], [1]).requires_grad();
    (&v * &v + &v).sum_all().backward();
    assert_eq!(v.grad().unwrap().to_vec_f64(), vec![7.0]);
}

#[test]
fn no_grad_records_nothing() {
    let w = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad();
    assert!(w.requires_grad_flag() && w.is_leaf());
    let y = no_grad(|| {
        assert!(!born::is_grad_enabled());
        let inner = no_grad(|| &w * 2.0);
        assert!(!born::is_grad_enabled(), "scopes nest");
        (&w * 3.0).sum_all() + inner.sum_all()
    });
    assert!(born::is_grad_enabled());
    assert!(!y.requires_grad_flag());
    let err = y.try_backward().unwrap_err().to_string();
    assert!(err.contains("does not require grad"), "{err}");
    // Recording is per thread: another thread is not affected by this one's scope.
    no_grad(|| {
        let t = std::thread::spawn(born::is_grad_enabled).join().unwrap();
        assert!(t);
    });
    assert!((&w * 2.0).requires_grad_flag());
    // Integer and bool results never require grad.
    assert!(!w.argmax(0, false).requires_grad_flag());
    assert!(!w.gt(&w.zeros_like()).requires_grad_flag());
}

#[test]
fn detach_cuts_history() {
    let w = Tensor::from_vec(vec![2.0f64, 3.0], [2]).requires_grad();
    let y = &w * &w;
    let d = y.detach();
    assert!(!d.requires_grad_flag());
    let loss = (&d * &w).sum_all();
    loss.backward();
    // Only the direct use of w counts: d is a constant [4, 9].
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![4.0, 9.0]);
    let r = y.realize().detach();
    assert!(r.is_leaf() && r.node().inputs.is_empty());
    assert_eq!(r.to_vec_f64(), vec![4.0, 9.0]);
}

#[test]
fn assign_keeps_identity_and_the_next_forward_sees_it() {
    let w = Tensor::from_vec(vec![1.0f32, 2.0], [2]).requires_grad();
    let id = w.node().id();
    let handle = w.clone();
    w.assign(&(&w * 10.0));
    assert_eq!(w.node().id(), id);
    assert!(w.is_leaf() && w.requires_grad_flag() && w.node().inputs.is_empty());
    assert_eq!(handle.to_vec_f64(), vec![10.0, 20.0]);
    let y = (&handle * 2.0).sum_all();
    assert_eq!(y.item::<f32>(), 60.0);
    // Wrong shape or dtype: the message names both.
    let e = w.try_assign(&Tensor::zeros([3], DType::F32)).unwrap_err().to_string();
    assert!(e.contains("[2]") && e.contains("[3]"), "{e}");
    let e = w.try_assign(&Tensor::zeros([2], F64)).unwrap_err().to_string();
    assert!(e.contains("f32") && e.contains("f64"), "{e}");
    let e = (&w * 2.0).try_assign(&w).unwrap_err().to_string();
    assert!(e.contains("leaf"), "{e}");
}

#[test]
fn backward_errors_name_the_problem() {
    let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).requires_grad();
    let e = (&w * 2.0).try_backward().unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("one element"), "{e}");
    let e = Tensor::zeros([2], DType::I64)
        .try_requires_grad()
        .unwrap_err()
        .to_string();
    assert!(e.contains("float"), "{e}");
    let e = (&w * 2.0).try_requires_grad().unwrap_err().to_string();
    assert!(e.contains("not a leaf"), "{e}");
    // backward_with seeds a non-scalar output.
    let y = &w * 2.0;
    y.backward_with(&Tensor::ones([2, 3], F64));
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![2.0; 6]);
    // A non-leaf without history becomes a new leaf.
    let p = (Tensor::ones([2], F64) * 2.0).requires_grad();
    assert!(p.is_leaf() && p.requires_grad_flag());
}

/// Nodes reachable from `t`, through realized ones too (what the graph keeps alive).
fn graph_size(t: &Tensor) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![t.node().clone()];
    while let Some(n) = stack.pop() {
        if seen.insert(n.id()) {
            stack.extend(n.inputs.iter().cloned());
        }
    }
    seen.len()
}

#[test]
fn linear_regression_converges_and_the_graph_does_not_grow() {
    // y = 3 x0 - 2 x1 + 0.5, fitted by plain gradient descent with assign.
    let x = rnd(&[64, 2], 40).to_dtype(DType::F32);
    let true_w = Tensor::from_vec(vec![3.0f32, -2.0], [2, 1]);
    let y = x.matmul(&true_w) + 0.5;
    let w = Tensor::zeros([2, 1], DType::F32).requires_grad();
    let b = Tensor::zeros([1], DType::F32).requires_grad();
    let (mut first, mut last, mut sizes) = (0.0f32, 0.0f32, Vec::new());
    for step in 0..200 {
        let pred = x.matmul(&w) + &b;
        let loss = (&pred - &y).powf(2.0).mean_all();
        loss.backward();
        let lr = 0.5;
        let new_w = &w - &(w.grad().unwrap() * lr);
        let new_b = &b - &(b.grad().unwrap() * lr);
        // Forward, backward and update in one schedule; the loss is read from it too.
        realize_all(&[&loss, &new_w, &new_b]).unwrap();
        born::assign_all(&[(&w, &new_w), (&b, &new_b)]).unwrap();
        w.zero_grad();
        b.zero_grad();
        let l = loss.item::<f32>();
        if step == 0 {
            first = l;
        }
        last = l;
        sizes.push(graph_size(&loss));
        assert!(w.is_leaf() && w.node().inputs.is_empty());
    }
    println!("linear regression: loss {first} -> {last}");
    assert!(last * 100.0 < first, "loss {first} -> {last}");
    assert!(sizes.windows(2).all(|p| p[0] == p[1]), "graph grows: {sizes:?}");
    let wv = w.to_vec_f64();
    assert!((wv[0] - 3.0).abs() < 0.05 && (wv[1] + 2.0).abs() < 0.05, "{wv:?}");
}

#[test]
fn mlp_training_step_is_one_schedule_without_recomputation() {
    let (n, d, h, c) = (32, 20, 16, 10);
    // A batch as a data loader gives it: realized f32 data and a realized one-hot target.
    let x = rnd(&[n, d], 50).to_dtype(DType::F32).realize();
    let labels = Tensor::from_vec((0..n as i64).map(|i| i % c as i64).collect::<Vec<_>>(), [n]);
    let one_hot = labels.one_hot(c).to_dtype(DType::F32).realize();
    let w1 = (rnd(&[d, h], 51) * 0.3).to_dtype(DType::F32).requires_grad();
    let b1 = Tensor::zeros([h], DType::F32).requires_grad();
    let w2 = (rnd(&[h, c], 52) * 0.3).to_dtype(DType::F32).requires_grad();
    let b2 = Tensor::zeros([c], DType::F32).requires_grad();
    let params = [&w1, &b1, &w2, &b2];
    let step = || {
        let hid = (x.matmul(&w1) + &b1).relu();
        let logits = hid.matmul(&w2) + &b2;
        let loss = -(logits.log_softmax(-1) * &one_hot).sum_all() / n as f64;
        loss.backward();
        let new: Vec<Tensor> = params.iter().map(|p| *p - &(p.grad().unwrap() * 1.0)).collect();
        (loss, new)
    };
    let (loss, new) = step();
    let mut targets = vec![loss.node().clone()];
    targets.extend(new.iter().map(|t| t.node().clone()));
    let sched = born::schedule::build(&targets).unwrap();
    let matmuls = sched
        .kernels
        .iter()
        .filter(|k| matches!(k.op, KernelOp::MatMul { .. }))
        .count();
    println!(
        "2-layer MLP step (forward + backward + SGD update): {} kernels, {} matmuls\n{sched}",
        sched.kernel_count(),
        matmuls
    );
    // 2 forward, dW1, dW2, dHidden: no matmul computed twice.
    assert_eq!(matmuls, 5, "{sched}");
    // Forward values are computed once (the max and exp of log_softmax included) and read
    // by backward from their materialized buffers; 24 kernels measured when written.
    let maxes = sched
        .kernels
        .iter()
        .filter(|k| {
            matches!(
                k.op,
                KernelOp::Reduce {
                    op: born::ops::ReduceOp::Max,
                    ..
                }
            )
        })
        .count();
    assert_eq!(maxes, 1, "{sched}");
    assert!(sched.kernel_count() <= 24, "{sched}");
    let first = loss.item::<f32>();
    let refs: Vec<&Tensor> = new.iter().collect();
    realize_all(&refs).unwrap();
    born::assign_all(&params.iter().copied().zip(new.iter()).collect::<Vec<_>>()).unwrap();
    params.iter().for_each(|p| p.zero_grad());
    for _ in 0..60 {
        let (_, new) = step();
        born::assign_all(&params.iter().copied().zip(new.iter()).collect::<Vec<_>>()).unwrap();
        params.iter().for_each(|p| p.zero_grad());
    }
    let (loss, _) = step();
    let last = loss.item::<f32>();
    println!("MLP loss {first} -> {last}");
    assert!(last < first * 0.7, "{first} -> {last}");
}
