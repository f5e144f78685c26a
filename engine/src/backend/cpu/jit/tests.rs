//! Compiled kernels against the interpreter, bit for bit.

use super::*;
use crate::backend::cpu::eval::Program;
use crate::backend::cpu::vals::Vals;
use crate::backend::Serial;
use crate::dtype::DType;
use crate::ops::{BinaryOp, UnaryOp, View};

fn load(slot: usize, shape: &[usize], strides: &[isize], offset: isize, dtype: DType) -> Expr {
    Expr::Load {
        slot,
        view: View {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset,
        },
        dtype,
    }
}

fn bin(op: BinaryOp, x: Expr, y: Expr) -> Expr {
    let dt = if op.is_comparison() { DType::Bool } else { x.dtype() };
    Expr::Binary(op, Box::new(x), Box::new(y), dt)
}

/// Values with the awkward cases (signed zeros, NaN, infinities, ties) among ordinary ones.
fn floats(n: usize, seed: u32) -> Vec<f32> {
    const SPECIAL: [f32; 9] = [
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.5,
        -2.5,
        1.0,
        3.0,
    ];
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if i % 7 == 3 {
                SPECIAL[(s % 9) as usize]
            } else {
                (s % 2001) as f32 / 250.0 - 4.0
            }
        })
        .collect()
}

/// Runs `e` compiled (it must be covered) and interpreted; asserts the same bits.
fn check(e: &Expr, bufs: &[HostBuffer], out: DType, threads: &dyn Parallel) {
    let refs: Vec<&HostBuffer> = bufs.iter().collect();
    let n = first_numel(e);
    let mut compiled = HostBuffer::zeros(out, n);
    assert!(run(e, &refs, &mut compiled, threads), "not compiled: {e:?}");
    let want = Program::compile(e).run(&refs, 0, n);
    let want = crate::backend::cpu::vals::cast(want, out);
    match (&compiled, &want) {
        (HostBuffer::F32(a), Vals::F32(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "element {i}: {x} vs {y} in {e:?}"
                );
            }
        }
        (HostBuffer::Bool(a), Vals::Bool(b)) => assert_eq!(a, b, "{e:?}"),
        other => panic!("unexpected pair {other:?}"),
    }
}

fn first_numel(e: &Expr) -> usize {
    match e {
        Expr::Load { view, .. } => view.numel(),
        Expr::PadLoad { view, pads, .. } => view.shape.iter().zip(pads).map(|(&n, &(a, b))| n + a + b).product(),
        Expr::Unary(_, x) | Expr::Cast(x, _) => first_numel(x),
        Expr::Binary(_, x, ..) => first_numel(x),
        Expr::Where(c, ..) => first_numel(c),
    }
}

/// A pool of two threads for the tests that split work.
struct Two;
impl Parallel for Two {
    fn threads(&self) -> usize {
        2
    }
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        std::thread::scope(|s| {
            let f = &f;
            let a = s.spawn(move || (0..n).step_by(2).for_each(f));
            (1..n).step_by(2).for_each(f);
            a.join().expect("worker");
        })
    }
}

#[test]
fn every_unary_op_matches_the_interpreter() {
    let x = HostBuffer::F32(floats(5000, 1));
    use UnaryOp::*;
    for op in [
        Neg, Abs, Sign, Floor, Ceil, Round, Exp, Log, Log1p, Sqrt, Recip, Sin, Cos, Tanh, Erf,
    ] {
        let e = Expr::Unary(op, Box::new(load(0, &[5000], &[1], 0, DType::F32)));
        check(&e, std::slice::from_ref(&x), DType::F32, &Serial);
    }
}

#[test]
fn every_binary_op_matches_the_interpreter_with_nans_and_signed_zeros() {
    let bufs = [HostBuffer::F32(floats(4800, 2)), HostBuffer::F32(floats(4800, 3))];
    use BinaryOp::*;
    for op in [Add, Sub, Mul, Div, Rem, Pow, Max, Min] {
        let e = bin(
            op,
            load(0, &[4800], &[1], 0, DType::F32),
            load(1, &[4800], &[1], 0, DType::F32),
        );
        check(&e, &bufs, DType::F32, &Serial);
    }
    for op in [Eq, Ne, Lt, Le] {
        let e = bin(
            op,
            load(0, &[4800], &[1], 0, DType::F32),
            load(1, &[4800], &[1], 0, DType::F32),
        );
        check(&e, &bufs, DType::Bool, &Serial);
    }
}

#[test]
fn bool_ops_selects_and_casts_match_the_interpreter() {
    let n = 6000;
    let bools = |k: usize| HostBuffer::Bool((0..n).map(|i| (i * k + i / 3) % 5 < 2).collect());
    let bufs = [bools(3), bools(7), HostBuffer::F32(floats(n, 4))];
    let b = |s| load(s, &[n], &[1], 0, DType::Bool);
    let f = || load(2, &[n], &[1], 0, DType::F32);
    use BinaryOp::*;
    for op in [And, Or, Xor, Min, Max, Mul, Add, Eq, Ne, Lt, Le] {
        let e = Expr::Binary(op, Box::new(b(0)), Box::new(b(1)), DType::Bool);
        check(&e, &bufs, DType::Bool, &Serial);
    }
    let not = Expr::Unary(UnaryOp::Not, Box::new(b(0)));
    check(&not, &bufs, DType::Bool, &Serial);
    // where(a, x, 2x) and the casts both ways, stored as f32 and as bool.
    let twice = bin(Mul, f(), f());
    let sel = Expr::Where(Box::new(b(0)), Box::new(f()), Box::new(twice));
    check(&sel, &bufs, DType::F32, &Serial);
    let as_f = Expr::Cast(Box::new(b(1)), DType::F32);
    check(&bin(Add, as_f, f()), &bufs, DType::F32, &Serial);
    check(&Expr::Cast(Box::new(f()), DType::Bool), &bufs, DType::Bool, &Serial);
    check(&f(), &bufs, DType::Bool, &Serial);
}

#[test]
fn a_pooling_window_over_strided_views_matches_the_interpreter() {
    // max over 2x2 windows of relu(x + bias), x channel-major [c, n, 26, 26] read as [n, c, 13, 13].
    let (n, c) = (8, 6);
    let x = HostBuffer::F32(floats(c * n * 26 * 26, 5));
    let bias = HostBuffer::F32(floats(c, 6));
    let zero = HostBuffer::F32(vec![0.0]);
    let shape = [n, c, 13, 13];
    let win = |off| {
        let v = load(0, &shape, &[676, (n * 676) as isize, 52, 2], off, DType::F32);
        let b = load(1, &shape, &[0, 1, 0, 0], 0, DType::F32);
        bin(
            BinaryOp::Max,
            bin(BinaryOp::Add, v, b),
            load(2, &shape, &[0, 0, 0, 0], 0, DType::F32),
        )
    };
    let e = [1, 26, 27]
        .into_iter()
        .fold(win(0), |m, off| bin(BinaryOp::Max, m, win(off)));
    check(&e, &[x, bias, zero], DType::F32, &Two);
}

#[test]
fn views_of_one_linear_index_through_different_shapes_match_the_interpreter() {
    // The pooling gradient: a [n, c, 13, 2, 13, 2] broadcast of the pooled gradient times a
    // mask read flat, plus the activation read as [n, c, 676] channel-major.
    let (n, c) = (4, 8);
    let total = n * c * 676;
    let g = HostBuffer::F32(floats(n * c * 169, 7));
    let mask = HostBuffer::Bool((0..total).map(|i| i % 3 == 0).collect());
    let x = HostBuffer::F32(floats(total, 8));
    let grad = load(
        0,
        &[n, c, 13, 2, 13, 2],
        &[169, (n * 169) as isize, 13, 0, 1, 0],
        0,
        DType::F32,
    );
    let m = Expr::Cast(Box::new(load(1, &[total], &[1], 0, DType::Bool)), DType::F32);
    let act = load(2, &[n, c, 676], &[676, (n * 676) as isize, 1], 0, DType::F32);
    let positive = Expr::Cast(
        Box::new(bin(BinaryOp::Lt, load(3, &[total], &[0], 0, DType::F32), act)),
        DType::F32,
    );
    let e = bin(BinaryOp::Mul, bin(BinaryOp::Mul, grad, m), positive);
    check(&e, &[g, mask, x, HostBuffer::F32(vec![0.0])], DType::F32, &Two);
}

#[test]
fn kernels_outside_the_compiled_set_are_left_to_the_interpreter() {
    let ints = [HostBuffer::I64((0..5000).collect())];
    let refs: Vec<&HostBuffer> = ints.iter().collect();
    let e = load(0, &[5000], &[1], 0, DType::I64);
    let mut out = HostBuffer::zeros(DType::I64, 5000);
    assert!(!run(&e, &refs, &mut out, &Serial));
}

#[test]
fn one_signature_compiles_once_for_any_offset() {
    let x = [HostBuffer::F32(floats(20000, 9))];
    let refs: Vec<&HostBuffer> = x.iter().collect();
    let at = |off| Expr::Unary(UnaryOp::Neg, Box::new(load(0, &[4099, 3], &[3, 1], off, DType::F32)));
    let a = plan::lower(&at(0), DType::F32).expect("covered");
    let b = plan::lower(&at(5), DType::F32).expect("covered");
    assert_eq!(a.sig, b.sig);
    let mut out = HostBuffer::zeros(DType::F32, 4099 * 3);
    assert!(run(&at(5), &refs, &mut out, &Serial));
    let HostBuffer::F32(o) = out else { unreachable!() };
    let HostBuffer::F32(src) = &x[0] else { unreachable!() };
    assert_eq!(o[0].to_bits(), (-src[5]).to_bits());
}

#[test]
fn a_pooling_mask_stored_as_bool_over_rows_of_two_matches_the_interpreter() {
    // (x == broadcast(max of its window)) for [n, c, 13, 2, 13, 2] windows, stored as bool.
    let (n, c) = (4, 5);
    let x = HostBuffer::F32(floats(n * c * 676, 10).iter().map(|v| v.round()).collect());
    let m = HostBuffer::F32(floats(n * c * 169, 11).iter().map(|v| v.round()).collect());
    let shape = [n, c, 13, 2, 13, 2];
    let xs = load(0, &shape, &[676, (n * 676) as isize, 52, 26, 2, 1], 0, DType::F32);
    let ms = load(1, &shape, &[(c * 169) as isize, 169, 13, 0, 1, 0], 0, DType::F32);
    check(&bin(BinaryOp::Eq, xs, ms), &[x, m], DType::Bool, &Two);
}

fn pad_load(slot: usize, shape: &[usize], strides: &[isize], pads: &[(usize, usize)], fill: f64, dtype: DType) -> Expr {
    Expr::PadLoad {
        slot,
        view: View {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset: 3,
        },
        dtype,
        pads: pads.to_vec(),
        fill: crate::dtype::Scalar::Float(fill),
    }
}

#[test]
fn sums_of_padded_windows_match_the_interpreter() {
    // Shifted windows of [c, n, 11, 11] columns, each zero-padded to 13 x 13, summed
    // (col2im's nine are left to the interpreter's block adds).
    let (c, n) = (3, 16);
    let cols = HostBuffer::F32(floats(9 * c * n * 121 + 3, 12));
    let window = |k: usize| {
        let (di, dj) = (k / 3, k % 3);
        let mut e = pad_load(
            0,
            &[c, n, 11, 11],
            &[(n * 121) as isize, 121, 11, 1],
            &[(0, 0), (0, 0), (di, 2 - di), (dj, 2 - dj)],
            0.0,
            DType::F32,
        );
        if let Expr::PadLoad { view, .. } = &mut e {
            view.offset += (k * c * n * 121) as isize;
        }
        e
    };
    check(&bin(BinaryOp::Add, window(4), window(8)), &[cols], DType::F32, &Two);
    let nine = (1..9).fold(window(0), |acc, k| bin(BinaryOp::Add, acc, window(k)));
    assert!(plan::lower(&nine, DType::F32).is_none());
}

#[test]
fn padded_reads_with_fills_in_rows_of_two_and_bools_match_the_interpreter() {
    let x = HostBuffer::F32(floats(60 * 7 * 9 + 3, 13));
    let b = HostBuffer::Bool((0..60 * 7 * 9 + 3).map(|i| i % 4 == 1).collect());
    // [60, 7, 9] padded to [62, 8, 12]: fill 1.5; then the same padded to rows of two.
    let px = pad_load(0, &[60, 7, 9], &[63, 9, 1], &[(1, 1), (0, 1), (2, 1)], 1.5, DType::F32);
    let pb = pad_load(1, &[60, 7, 9], &[63, 9, 1], &[(1, 1), (0, 1), (2, 1)], 1.0, DType::Bool);
    let e = Expr::Where(
        Box::new(pb),
        Box::new(px.clone()),
        Box::new(Expr::Unary(UnaryOp::Neg, Box::new(px))),
    );
    check(&e, &[x.clone(), b], DType::F32, &Serial);
    let pairs = pad_load(
        0,
        &[60, 7, 9, 1],
        &[63, 9, 1, 0],
        &[(1, 1), (0, 1), (0, 0), (1, 0)],
        -2.0,
        DType::F32,
    );
    check(&Expr::Unary(UnaryOp::Abs, Box::new(pairs)), &[x], DType::F32, &Serial);
}

mod random {
    //! Random expressions over random views, compiled against interpreted.
    use super::*;
    use proptest::prelude::*;

    thread_local! {
        /// Padded reads in the expression being built (compiled kernels take two at most).
        static PADDED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A tiny deterministic generator driven by one proptest seed.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A view of `shape` over a buffer: permuted, broadcast, flipped or offset at random;
    /// returns it and the buffer length it needs.
    fn view(g: &mut Gen, shape: &[usize]) -> (View, usize) {
        let nd = shape.len();
        // Lay the dims out in a random order, some broadcast (stride 0).
        let mut order: Vec<usize> = (0..nd).collect();
        for i in (1..nd).rev() {
            order.swap(i, g.next(i + 1));
        }
        let mut strides = vec![0isize; nd];
        let mut size = 1isize;
        for &d in order.iter().rev() {
            if g.next(4) == 0 {
                continue;
            }
            strides[d] = size;
            size *= shape[d] as isize;
        }
        let mut offset = g.next(3) as isize;
        // Flip one dim now and then: a negative stride from the far end.
        if nd > 0 && g.next(3) == 0 {
            let d = g.next(nd);
            offset += strides[d] * (shape[d] as isize - 1);
            strides[d] = -strides[d];
        }
        let len = (offset + size) as usize + 2;
        (
            View {
                shape: shape.to_vec(),
                strides,
                offset,
            },
            len,
        )
    }

    fn expr(g: &mut Gen, shape: &[usize], bufs: &mut Vec<HostBuffer>, want_bool: bool, depth: usize) -> Expr {
        if depth == 0 || g.next(3) == 0 {
            let (v, len) = view(g, shape);
            let slot = bufs.len();
            return if want_bool {
                bufs.push(HostBuffer::Bool(
                    (0..len).map(|i| (i * 7 + slot).is_multiple_of(3)).collect(),
                ));
                Expr::Load {
                    slot,
                    view: v,
                    dtype: DType::Bool,
                }
            } else {
                let padded = PADDED.with(|p| p.get());
                if padded < 2 && g.next(3) == 0 {
                    // A padded read: a smaller interior, the rest filled.
                    let pads: Vec<(usize, usize)> = shape
                        .iter()
                        .map(|&n| {
                            let a = g.next(n);
                            (a, g.next(n - a))
                        })
                        .collect();
                    let inner: Vec<usize> = shape.iter().zip(&pads).map(|(&n, &(a, b))| n - a - b).collect();
                    let (v, len) = view(g, &inner);
                    bufs.push(HostBuffer::F32(floats(len, slot as u32 + 17)));
                    PADDED.with(|p| p.set(p.get() + 1));
                    let fill = crate::dtype::Scalar::Float([0.0, 1.5, -2.0][g.next(3)]);
                    return Expr::PadLoad {
                        slot,
                        view: v,
                        dtype: DType::F32,
                        pads,
                        fill,
                    };
                }
                bufs.push(HostBuffer::F32(floats(len, slot as u32 + 17)));
                Expr::Load {
                    slot,
                    view: v,
                    dtype: DType::F32,
                }
            };
        }
        let d = depth - 1;
        if want_bool {
            return match g.next(3) {
                0 => {
                    let op = [BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le][g.next(4)];
                    bin(op, expr(g, shape, bufs, false, d), expr(g, shape, bufs, false, d))
                }
                1 => Expr::Unary(UnaryOp::Not, Box::new(expr(g, shape, bufs, true, d))),
                _ => {
                    let op = [BinaryOp::And, BinaryOp::Or, BinaryOp::Xor][g.next(3)];
                    Expr::Binary(
                        op,
                        Box::new(expr(g, shape, bufs, true, d)),
                        Box::new(expr(g, shape, bufs, true, d)),
                        DType::Bool,
                    )
                }
            };
        }
        match g.next(5) {
            0 => {
                use UnaryOp::*;
                let op = [Neg, Abs, Sign, Floor, Sqrt, Exp, Tanh, Recip][g.next(8)];
                Expr::Unary(op, Box::new(expr(g, shape, bufs, false, d)))
            }
            1 => Expr::Where(
                Box::new(expr(g, shape, bufs, true, d)),
                Box::new(expr(g, shape, bufs, false, d)),
                Box::new(expr(g, shape, bufs, false, d)),
            ),
            2 => Expr::Cast(Box::new(expr(g, shape, bufs, true, d)), DType::F32),
            _ => {
                use BinaryOp::*;
                let op = [Add, Sub, Mul, Div, Max, Min][g.next(6)];
                bin(op, expr(g, shape, bufs, false, d), expr(g, shape, bufs, false, d))
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn random_kernels_match_the_interpreter(
            shape in proptest::collection::vec(1usize..7, 1..5),
            seed in 1u64..u64::MAX,
            bool_out in any::<bool>(),
        ) {
            // One element makes an empty loop nest: the interpreter's.
            prop_assume!(shape.iter().product::<usize>() > 1);
            let mut g = Gen(seed);
            let mut bufs = Vec::new();
            PADDED.with(|p| p.set(0));
            let e = expr(&mut g, &shape, &mut bufs, bool_out, 3);
            let refs: Vec<&HostBuffer> = bufs.iter().collect();
            let n: usize = shape.iter().product();
            let out_dtype = if bool_out { DType::Bool } else { DType::F32 };
            let mut compiled = HostBuffer::zeros(out_dtype, n);
            prop_assert!(run_any_size(&e, &refs, &mut compiled, &Serial), "not compiled: {e:?}");
            let want = crate::backend::cpu::vals::cast(Program::compile(&e).run(&refs, 0, n), out_dtype);
            match (&compiled, &want) {
                (HostBuffer::F32(a), Vals::F32(b)) => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "element {i}: {x} vs {y} in {e:?}");
                    }
                }
                (HostBuffer::Bool(a), Vals::Bool(b)) => prop_assert_eq!(a, b),
                other => prop_assert!(false, "unexpected pair {other:?}"),
            }
        }
    }
}
