//! The gradient rule of every primitive: one match arm per [`OpKind`], beside the shape
//! rules in `ops/`. Each arm gets the node and the gradient of its output and returns one
//! gradient per input (`None` where the input takes none: indices, conditions, inputs
//! that do not require grad). Rules are built from tensor ops, so they stay lazy and fuse.

use crate::dtype::Scalar;
use crate::error::Result;
use crate::graph::NodeRef;
use crate::ops::{BinaryOp, OpKind, ReduceOp, UnaryOp, ViewOp};
use crate::tensor::Tensor;

/// A constant in `t`'s dtype, broadcast where used.
fn k(t: &Tensor, v: f64) -> Tensor {
    t.scalar_operand(Scalar::Float(v))
}

/// True when a window view is the sliding windows `[.., OH, OW, KH, KW]` of a contiguous
/// `[.., H, W]` input that conv and pooling build: leading dims read as they are, positive
/// strides over rows and columns, offset 0.
fn sliding_windows(shape: &[usize], strides: &[isize], offset: isize, in_shape: &[usize]) -> bool {
    let r = in_shape.len();
    if r < 2 || shape.len() != r + 2 || offset != 0 || shape.contains(&0) {
        return false;
    }
    let contiguous = crate::shape::contiguous_strides(in_shape);
    let w = in_shape[r - 1] as isize;
    let leading = (0..r - 2).all(|d| shape[d] == in_shape[d] && strides[d] == contiguous[d]);
    let row_steps = [strides[r - 2], strides[r]].iter().all(|&s| s > 0 && s % w == 0);
    let col_steps = [strides[r - 1], strides[r + 1]].iter().all(|&s| s > 0);
    // Every window stays inside the input (rows and columns separately).
    let (s0, d0) = (strides[r - 2] / w, strides[r] / w);
    let (s1, d1) = (strides[r - 1], strides[r + 1]);
    let fits_rows = (shape[r - 2] as isize - 1) * s0 + (shape[r] as isize - 1) * d0 < in_shape[r - 2] as isize;
    let fits_cols = (shape[r - 1] as isize - 1) * s1 + (shape[r + 1] as isize - 1) * d1 < w;
    leading && row_steps && col_steps && fits_rows && fits_cols
}

/// True for a view that swaps the last two axes and keeps the others (`t()`, `transpose(-1, -2)`).
fn is_matrix_transpose(node: &NodeRef) -> bool {
    let OpKind::View(ViewOp::Permute(p)) = &node.kind else {
        return false;
    };
    let n = p.len();
    n >= 2 && p[n - 2] == n - 1 && p[n - 1] == n - 2 && p[..n - 2].iter().enumerate().all(|(i, &d)| i == d)
}

/// Gradients of `node`'s inputs given the gradient `g` of its output.
pub(super) fn input_grads(node: &NodeRef, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let x = |i: usize| Tensor::from_node(node.inputs[i].clone());
    let want = |i: usize| node.inputs[i].requires_grad();
    let y = Tensor::from_node(node.clone());
    let dt = node.dtype;
    // `when!(i, expr)`: the gradient for input `i` only when it needs one.
    macro_rules! when {
        ($i:expr, $e:expr) => {
            if want($i) {
                Some($e)
            } else {
                None
            }
        };
    }
    Ok(match &node.kind {
        OpKind::Leaf => vec![],
        OpKind::Unary(u) => {
            let a = x(0);
            vec![when!(
                0,
                match u {
                    UnaryOp::Neg => g.try_neg()?,
                    UnaryOp::Abs => g.try_mul(&a.try_sign()?)?,
                    // Piecewise constant: zero gradient (as PyTorch).
                    UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::Not => g.zeros_like(),
                    UnaryOp::Exp => g.try_mul(&y)?,
                    UnaryOp::Log => g.try_div(&a)?,
                    UnaryOp::Log1p => g.try_div(&a.try_add(&k(&a, 1.0))?)?,
                    UnaryOp::Sqrt => g.try_mul(&k(&y, 0.5))?.try_div(&y)?,
                    UnaryOp::Recip => g.try_mul(&y.try_mul(&y)?)?.try_neg()?,
                    UnaryOp::Sin => g.try_mul(&a.try_cos()?)?,
                    UnaryOp::Cos => g.try_mul(&a.try_sin()?)?.try_neg()?,
                    UnaryOp::Tanh => g.try_mul(&k(&y, 1.0).try_sub(&y.try_mul(&y)?)?)?,
                    UnaryOp::Erf => {
                        let c = 2.0 / std::f64::consts::PI.sqrt();
                        g.try_mul(&a.try_mul(&a)?.try_neg()?.try_exp()?.try_mul(&k(&a, c))?)?
                    }
                }
            )]
        }
        OpKind::Binary(op) => {
            let (a, b) = (x(0), x(1));
            match op {
                BinaryOp::Add => vec![when!(0, g.clone()), when!(1, g.clone())],
                BinaryOp::Sub => vec![when!(0, g.clone()), when!(1, g.try_neg()?)],
                BinaryOp::Mul => vec![when!(0, g.try_mul(&b)?), when!(1, g.try_mul(&a)?)],
                BinaryOp::Div => vec![
                    when!(0, g.try_div(&b)?),
                    when!(1, g.try_mul(&y)?.try_div(&b)?.try_neg()?),
                ],
                // a - b * floor(a / b) (the sign of the divisor).
                BinaryOp::Rem => vec![
                    when!(0, g.clone()),
                    when!(1, g.try_mul(&a.try_div(&b)?.try_floor()?)?.try_neg()?),
                ],
                // PyTorch's rules: no gradient to the base where the exponent is 0, none to
                // the exponent where the base is 0 and the exponent >= 0.
                BinaryOp::Pow => vec![
                    when!(0, {
                        let d = g.try_mul(&b)?.try_mul(&a.try_pow(&b.try_sub(&k(&b, 1.0))?)?)?;
                        b.try_eq(&k(&b, 0.0))?.try_where_cond(&k(&d, 0.0), &d)?
                    }),
                    when!(1, {
                        let zero_base = a.try_eq(&k(&a, 0.0))?.try_logical_and(&b.try_ge(&k(&b, 0.0))?)?;
                        let d = y.try_mul(&a.try_log()?)?;
                        g.try_mul(&zero_base.try_where_cond(&k(&d, 0.0), &d)?)?
                    }),
                ],
                // Ties split the gradient in half between the two inputs (torch.maximum/minimum).
                BinaryOp::Max | BinaryOp::Min => {
                    let wins = if *op == BinaryOp::Max {
                        a.try_gt(&b)?
                    } else {
                        a.try_lt(&b)?
                    };
                    let share = wins
                        .try_to_dtype(dt)?
                        .try_add(&a.try_eq(&b)?.try_to_dtype(dt)?.try_mul(&k(g, 0.5))?)?;
                    let ga = g.try_mul(&share)?;
                    let gb = when!(1, g.try_sub(&ga)?);
                    vec![when!(0, ga), gb]
                }
                // Comparisons and logical ops have bool results: nothing flows back.
                BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::And
                | BinaryOp::Or
                | BinaryOp::Xor => {
                    vec![None, None]
                }
            }
        }
        OpKind::Where => {
            let c = x(0);
            let zero = k(g, 0.0);
            vec![
                None,
                when!(1, c.try_where_cond(g, &zero)?),
                when!(2, c.try_where_cond(&zero, g)?),
            ]
        }
        OpKind::Cast(_) => vec![when!(0, g.try_to_dtype(node.inputs[0].dtype)?)],
        OpKind::Reduce(op, axes) => {
            let a = x(0);
            let shape = a.shape().to_vec();
            vec![when!(
                0,
                match op {
                    ReduceOp::Sum => g.try_broadcast_to(&shape)?,
                    // Product of the others: y / x where x != 0; where x == 0, the product
                    // of the non-zero others if it is the only zero, else 0.
                    ReduceOp::Prod => {
                        let zero = a.try_eq(&k(&a, 0.0))?;
                        let nonzero = zero.try_where_cond(&k(&a, 1.0), &a)?;
                        let prod_nz = nonzero.reduce(ReduceOp::Prod, axes, true)?;
                        let zeros = zero.try_to_dtype(dt)?.reduce(ReduceOp::Sum, axes, true)?;
                        let at_zero = zeros.try_eq(&k(&zeros, 1.0))?.try_where_cond(&prod_nz, &k(&a, 0.0))?;
                        let d = zero.try_where_cond(&at_zero, &y.try_div(&nonzero)?)?;
                        g.try_mul(&d)?
                    }
                    // Ties share the gradient evenly (torch.amax / amin).
                    // The mask stays bool until each reader casts it: when it is stored (it
                    // has two readers), a byte an element instead of a float.
                    ReduceOp::Max | ReduceOp::Min => {
                        let hit = a.try_eq(&y)?;
                        let count = hit.try_to_dtype(dt)?.reduce(ReduceOp::Sum, axes, true)?;
                        g.try_div(&count)?.try_mul(&hit.try_to_dtype(dt)?)?
                    }
                }
            )]
        }
        OpKind::ArgReduce { .. } | OpKind::Argsort { .. } => vec![None],
        OpKind::View(v) => vec![when!(0, view_grad(v, g, &node.inputs[0].shape)?)],
        OpKind::Pad { pads, .. } => {
            let n = &node.inputs[0].shape;
            let spec = pads
                .iter()
                .zip(n)
                .map(|(&(before, _), &len)| (before, 1, len))
                .collect();
            vec![when!(0, g.view_op(ViewOp::Slice(spec))?)]
        }
        OpKind::Cat { axis } => {
            let mut start = 0;
            let mut out = Vec::new();
            for (i, input) in node.inputs.iter().enumerate() {
                let len = input.shape[*axis];
                out.push(when!(i, g.try_narrow(*axis as isize, start, len)?));
                start += len;
            }
            out
        }
        OpKind::MatMul => {
            let (a, b) = (x(0), x(1));
            // An input that is a transposed view (`x.matmul(&w.t())`, as in Linear) gets its
            // gradient as the transpose of the swapped product: the transposes cancel in the
            // view's own rule, so the weight's gradient is a contiguous matmul result instead
            // of a strided view that every optimizer read would gather from.
            let ga = if is_matrix_transpose(&node.inputs[0]) {
                b.try_matmul(&g.try_transpose(-1, -2)?)?.try_transpose(-1, -2)?
            } else {
                g.try_matmul(&b.try_transpose(-1, -2)?)?
            };
            let gb = if is_matrix_transpose(&node.inputs[1]) {
                g.try_transpose(-1, -2)?.try_matmul(&a)?.try_transpose(-1, -2)?
            } else {
                a.try_transpose(-1, -2)?.try_matmul(g)?
            };
            vec![when!(0, ga), when!(1, gb)]
        }
        OpKind::Gather { axis } => {
            let zeros = Tensor::zeros(node.inputs[0].shape.as_slice(), dt);
            vec![when!(0, zeros.try_scatter_add(*axis as isize, &x(1), g)?), None]
        }
        // Overwritten positions take no gradient from the input; with repeated indices
        // every src entry aimed at a position gets that position's gradient.
        OpKind::Scatter { axis, add } => {
            let (index, d) = (x(1), *axis as isize);
            vec![
                when!(
                    0,
                    if *add {
                        g.clone()
                    } else {
                        g.try_scatter(d, &index, &Tensor::zeros(index.shape(), dt))?
                    }
                ),
                None,
                when!(2, g.try_gather(d, &index)?),
            ]
        }
        OpKind::Cumsum { axis } => {
            let d = *axis as isize;
            vec![when!(0, g.try_flip(d)?.try_cumsum(d)?.try_flip(d)?)]
        }
    })
}

/// The gradient of a movement: the movement undone, with repeated reads summed.
fn view_grad(v: &ViewOp, g: &Tensor, in_shape: &[usize]) -> Result<Tensor> {
    match v {
        ViewOp::Reshape(_) => g.try_reshape(in_shape.to_vec()),
        ViewOp::Permute(p) => {
            let mut inv = vec![0isize; p.len()];
            for (i, &d) in p.iter().enumerate() {
                inv[d] = i as isize;
            }
            g.try_permute(inv)
        }
        ViewOp::Expand(to) => {
            let axes: Vec<usize> = (0..to.len()).filter(|&i| in_shape[i] != to[i]).collect();
            if axes.is_empty() {
                return Ok(g.clone());
            }
            g.reduce(ReduceOp::Sum, &axes, true)
        }
        ViewOp::Slice(spec) => {
            let mut g = g.clone();
            // The placement of every dim, applied as one pad at the end (one kernel).
            let mut pads = vec![(0, 0); in_shape.len()];
            for (d, (&(start, step, len), &n)) in spec.iter().zip(in_shape).enumerate() {
                if (start, step, len) == (0, 1, n) {
                    continue;
                }
                if len == 0 {
                    return Ok(Tensor::zeros(in_shape, g.dtype()));
                }
                let di = d as isize;
                // A negative step reads backwards from `start`: flip, then it is a forward
                // slice from the lowest index read.
                let (lo, s) = if step < 0 {
                    g = g.try_flip(di)?;
                    (start - (len - 1) * step.unsigned_abs(), step.unsigned_abs())
                } else {
                    (start, step as usize)
                };
                // Spread by the step: zeros between neighbours.
                if s > 1 {
                    let mut split = g.shape().to_vec();
                    split.insert(d + 1, 1);
                    let mut pads = vec![(0, 0); split.len()];
                    pads[d + 1] = (0, s - 1);
                    let mut merged = g.shape().to_vec();
                    merged[d] = len * s;
                    g = g.try_reshape(split)?.try_pad(&pads, 0.0)?.try_reshape(merged)?;
                    g = g.try_narrow(di, 0, (len - 1) * s + 1)?;
                }
                let span = g.shape()[d];
                pads[d] = (lo, n - lo - span);
            }
            if pads.iter().any(|&p| p != (0, 0)) {
                g = g.try_pad(&pads, 0.0)?;
            }
            Ok(g)
        }
        // A window view reads input element `offset + sum(idx * strides)`; windows may
        // overlap (convolution), so the gradient adds every read back into its position.
        // The sliding windows of conv/pool (`[.., OH, OW, KH, KW]` over `[.., H, W]`) are
        // KH*KW strided slices of the input: the gradient is the sum of their gradients,
        // padded copies that fuse into one sum (col2im). Any other window view falls back to
        // a scatter_add at flat positions computed here from the strides.
        ViewOp::AsStrided { shape, strides, offset } if sliding_windows(shape, strides, *offset, in_shape) => {
            let r = in_shape.len();
            let (oh, ow, kh, kw) = (shape[r - 2], shape[r - 1], shape[r], shape[r + 1]);
            let w = in_shape[r - 1] as isize;
            let (s0, s1, d0, d1) = (strides[r - 2] / w, strides[r - 1], strides[r] / w, strides[r + 1]);
            let mut total: Option<Tensor> = None;
            let mut swap01: Vec<usize> = (0..r).collect();
            if r >= 4 {
                swap01.swap(0, 1);
            }
            let swapped: Vec<usize> = swap01.iter().map(|&d| in_shape[d]).collect();
            for i in 0..kh {
                for j in 0..kw {
                    let piece = g
                        .try_narrow(r as isize, i, 1)?
                        .try_narrow(r as isize + 1, j, 1)?
                        .try_reshape(shape[..r].to_vec())?;
                    let mut spec: Vec<(usize, isize, usize)> = in_shape[..r - 2].iter().map(|&n| (0, 1, n)).collect();
                    spec.push((i * d0 as usize, s0, oh));
                    spec.push((j * d1 as usize, s1, ow));
                    // Summed channel-major ([C, N, H, W]) and permuted back: a convolution's
                    // column gradient is laid out channel-major (`conv2d` folds the batch into
                    // the columns), so each window's slice is then read front to back instead
                    // of in pieces one plane long, scattered over the whole buffer.
                    let part = view_grad(&ViewOp::Slice(spec), &piece.try_permute(swap01.clone())?, &swapped)?;
                    total = Some(match total {
                        Some(t) => t.try_add(&part)?,
                        None => part,
                    });
                }
            }
            total.expect("a window has at least one element").try_permute(swap01)
        }
        ViewOp::AsStrided { shape, strides, offset } => {
            let n: usize = in_shape.iter().product();
            let m: usize = shape.iter().product();
            if m == 0 {
                return Ok(Tensor::zeros(in_shape, g.dtype()));
            }
            let mut pos = Vec::with_capacity(m);
            let mut idx = vec![0usize; shape.len()];
            let mut p = *offset;
            for _ in 0..m {
                pos.push(p as i64);
                for d in (0..shape.len()).rev() {
                    idx[d] += 1;
                    p += strides[d];
                    if idx[d] < shape[d] {
                        break;
                    }
                    p -= strides[d] * shape[d] as isize;
                    idx[d] = 0;
                }
            }
            let index = Tensor::from_vec(pos, [m]).try_to_device(g.device())?;
            Tensor::zeros([n], g.dtype())
                .try_scatter_add(0, &index, &g.try_reshape([m])?)?
                .try_reshape(in_shape.to_vec())
        }
    }
}
