//! Sums of many zero-padded reads (col2im: a convolution's input gradient adds, for each
//! kernel tap, the column gradient shifted by that tap). Output rows are short (13
//! elements for a 13x13 map) and each of the nine windows covers a different part of
//! each row, which costs the general paths per-lane checks (compiled) or per-row
//! bookkeeping (interpreted). Here each window's part of a row is one masked 16-lane
//! AVX-512 load, added in the expression's order into a register, and the row is one
//! masked store: the same additions as the interpreter's, so the same bits.

use crate::backend::Parallel;
use crate::dtype::DType;
use crate::ops::BinaryOp;
use crate::schedule::Expr;
use crate::storage::HostBuffer;

/// Fewer windows than this are the compiled kernels' (they handle up to two).
const MIN_TERMS: usize = 3;
/// Output rows per parallel task (whole planes of the last two dims).
const ROWS_PER_TASK: usize = 512;

/// One window: its interior `view` (innermost stride 1), placed at `before` per dim.
struct Term<'a> {
    data: &'a [f32],
    shape: &'a [usize],
    strides: &'a [isize],
    offset: isize,
    before: Vec<usize>,
}

/// The windows of `a + b + c + ...` (a left fold), each an f32 read with zero padding
/// (or none) and a contiguous innermost dim, all of one padded shape (set by the first).
fn terms<'a>(e: &'a Expr, bufs: &[&'a HostBuffer], shape: &mut Vec<usize>, out: &mut Vec<Term<'a>>) -> Option<()> {
    let (slot, view, pads) = match e {
        Expr::Binary(BinaryOp::Add, a, b, DType::F32) => {
            terms(a, bufs, shape, out)?;
            return terms(b, bufs, shape, out);
        }
        Expr::PadLoad {
            slot,
            view,
            dtype: DType::F32,
            pads,
            fill,
        } if fill.as_f64().to_bits() == 0 => (slot, view, Some(pads)),
        Expr::Load {
            slot,
            view,
            dtype: DType::F32,
        } => (slot, view, None),
        _ => return None,
    };
    let HostBuffer::F32(data) = bufs[*slot] else {
        return None;
    };
    let rank = view.shape.len();
    let before: Vec<usize> = match pads {
        Some(p) if p.len() == rank => p.iter().map(|&(b, _)| b).collect(),
        Some(_) => return None,
        None => vec![0; rank],
    };
    let padded: Vec<usize> = match pads {
        Some(p) => view.shape.iter().zip(p.iter()).map(|(&n, &(b, a))| n + b + a).collect(),
        None => view.shape.clone(),
    };
    if out.is_empty() {
        *shape = padded.clone();
    }
    let contiguous_rows = view.strides.last() == Some(&1) || view.shape.last() == Some(&1);
    if padded != *shape || !contiguous_rows {
        return None;
    }
    // Every element the loads may touch lies in the buffer.
    if let Some((lo, hi)) = view.span() {
        if lo < 0 || hi as usize > data.len() {
            return None;
        }
    }
    out.push(Term {
        data,
        shape: &view.shape,
        strides: &view.strides,
        offset: view.offset,
        before,
    });
    Some(())
}

/// Runs `expr` when it is a sum of at least three zero-padded f32 windows (`out` holds
/// its elements in row-major order) and the CPU has AVX-512; `false` (nothing written)
/// otherwise.
pub fn run(expr: &Expr, bufs: &[&HostBuffer], out: &mut HostBuffer, par: &dyn Parallel) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let HostBuffer::F32(o) = out else {
            return false;
        };
        let (mut ts, mut shape) = (Vec::new(), Vec::new());
        if terms(expr, bufs, &mut shape, &mut ts).is_none()
            || ts.len() < MIN_TERMS
            || shape.len() < 2
            || o.len() != shape.iter().product::<usize>()
            || o.is_empty()
            || !std::arch::is_x86_feature_detected!("avx512f")
        {
            return false;
        }
        let n = o.len();
        let (height, width) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let planes = n / (height * width);
        let per_task = ROWS_PER_TASK.div_ceil(height);
        let base = o.as_mut_ptr() as usize;
        let (ts, shape) = (&ts, &shape);
        par.run(planes.div_ceil(per_task), &|t| {
            let (p0, p1) = (t * per_task, ((t + 1) * per_task).min(planes));
            // SAFETY: AVX-512F was detected; planes p0..p1 are this task's own part of the
            // output; `terms` checked every window's span against its buffer.
            unsafe { avx512::planes(ts, shape, p0, p1, base as *mut f32) };
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (expr, bufs, out, par);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Term;
    use std::arch::x86_64::*;

    /// Vectors of partial sums held per block of rows (in L1).
    const BLOCK: usize = 64;

    /// Output planes (the last two dims) `p0..p1`: per element, `-0 + w1 + w2 + ...`
    /// where each window adds its interior and +0 elsewhere (-0 is the identity of
    /// addition, so this is the interpreter's left fold exactly, signed zeros included).
    /// A block of rows is summed window by window: each window's rows are masked loads
    /// with the mask and the position worked out once per block, not per element.
    ///
    /// # Safety
    /// AVX-512F must be available; every term's view lies in its buffer; `out` holds the
    /// whole output.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn planes(ts: &[Term], shape: &[usize], p0: usize, p1: usize, out: *mut f32) {
        let nd = shape.len();
        let (height, width) = (shape[nd - 2], shape[nd - 1]);
        let chunks = width.div_ceil(16);
        let rows_per_block = (BLOCK / chunks).max(1);
        // Per term and 16-lane chunk: the lanes inside the window's rows.
        let masks: Vec<__mmask16> = ts
            .iter()
            .flat_map(|t| {
                let (lo, n) = (t.before[nd - 1], t.shape[nd - 1]);
                (0..chunks).map(move |c| {
                    let (x0, lanes) = (16 * c, (width - 16 * c).min(16));
                    let a = lo.saturating_sub(x0).min(lanes);
                    let b = (lo + n).saturating_sub(x0).min(lanes);
                    (((1u32 << b) - 1) & !((1u32 << a) - 1)) as __mmask16
                })
            })
            .collect();
        let mut acc = [_mm512_setzero_ps(); BLOCK];
        let mut idx = vec![0usize; nd - 2];
        let mut rem = p0;
        for d in (0..nd - 2).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        for p in p0..p1 {
            let mut y0 = 0;
            while y0 < height {
                let rows = (height - y0).min(rows_per_block);
                acc[..rows * chunks].fill(_mm512_set1_ps(-0.0));
                for (ti, t) in ts.iter().enumerate() {
                    // The plane's first interior element, if the plane is inside the window.
                    let mut at = Some(t.offset);
                    for (d, &k) in idx.iter().enumerate() {
                        let i = k as isize - t.before[d] as isize;
                        at = at
                            .filter(|_| i >= 0 && (i as usize) < t.shape[d])
                            .map(|a| a + i * t.strides[d]);
                    }
                    let (lo_y, n_y, step_y) = (t.before[nd - 2], t.shape[nd - 2], t.strides[nd - 2]);
                    let lo_x = t.before[nd - 1] as isize;
                    for r in 0..rows {
                        let y = (y0 + r) as isize - lo_y as isize;
                        let row = at.filter(|_| y >= 0 && (y as usize) < n_y).map(|a| a + y * step_y);
                        for c in 0..chunks {
                            let slot = &mut acc[r * chunks + c];
                            let v = match row {
                                Some(s) => {
                                    // Lane j reads interior element 16c + j - lo_x; masked
                                    // lanes are not read, so the pointer may lie before the row.
                                    let ptr = t.data.as_ptr().wrapping_offset(s + 16 * c as isize - lo_x);
                                    _mm512_maskz_loadu_ps(masks[ti * chunks + c], ptr)
                                }
                                None => _mm512_setzero_ps(),
                            };
                            *slot = _mm512_add_ps(*slot, v);
                        }
                    }
                }
                for r in 0..rows {
                    let dst = out.add((p * height + y0 + r) * width);
                    for c in 0..chunks {
                        let lanes = (width - 16 * c).min(16);
                        _mm512_mask_storeu_ps(dst.add(16 * c), ((1u32 << lanes) - 1) as __mmask16, acc[r * chunks + c]);
                    }
                }
                y0 += rows;
            }
            for d in (0..nd - 2).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::eval::{Program, Store};
    use crate::backend::Serial;
    use crate::dtype::Scalar;
    use crate::ops::View;

    fn pad_load(slot: usize, view: View, pads: Vec<(usize, usize)>) -> Expr {
        Expr::PadLoad {
            slot,
            view,
            dtype: DType::F32,
            pads,
            fill: Scalar::Float(0.0),
        }
    }

    /// `expr` through this module and through the interpreter: the same bits.
    fn check(expr: &Expr, shape: &[usize], bufs: &[&HostBuffer]) {
        let n: usize = shape.iter().product();
        let mut fast = HostBuffer::F32(vec![f32::NAN; n]);
        if !std::arch::is_x86_feature_detected!("avx512f") {
            assert!(!run(expr, bufs, &mut fast, &Serial));
            return;
        }
        assert!(run(expr, bufs, &mut fast, &Serial), "not taken");
        let mut slow = vec![0f32; n];
        Store::store(&mut slow[..], Program::compile(expr).run(bufs, 0, n));
        let HostBuffer::F32(fast) = fast else { unreachable!() };
        for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "element {i}: {a} vs interpreter {b}");
        }
    }

    #[test]
    fn col2im_matches_the_interpreter_with_signed_zeros_and_nans() {
        // A [c, k, k, n, oh, ow] column gradient summed into [c, n, oh+k-1, ow+k-1].
        for (c, n, o, k) in [(3, 2, 11, 3), (2, 3, 20, 3), (2, 2, 4, 2), (1, 1, 17, 5)] {
            let len = c * k * k * n * o * o;
            let mut data: Vec<f32> = (0..len).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
            data[1] = -0.0;
            data[len / 2] = f32::NAN;
            let buf = HostBuffer::F32(data);
            let size = o + k - 1;
            let mut sum: Option<Expr> = None;
            for ky in 0..k {
                for kx in 0..k {
                    let off = ((ky * k + kx) * n * o * o) as isize;
                    let view = View {
                        shape: vec![c, n, o, o],
                        strides: vec![(k * k * n * o * o) as isize, (o * o) as isize, o as isize, 1],
                        offset: off,
                    };
                    let term = pad_load(0, view, vec![(0, 0), (0, 0), (ky, k - 1 - ky), (kx, k - 1 - kx)]);
                    sum = Some(match sum {
                        None => term,
                        Some(s) => Expr::Binary(BinaryOp::Add, Box::new(s), Box::new(term), DType::F32),
                    });
                }
            }
            check(&sum.unwrap(), &[c, n, size, size], &[&buf]);
        }
    }

    #[test]
    fn all_negative_zero_sums_stay_negative_zero_and_padding_makes_them_positive() {
        let buf = HostBuffer::F32(vec![-0.0; 64]);
        let view = View {
            shape: vec![4, 4],
            strides: vec![4, 1],
            offset: 0,
        };
        let plain = Expr::Load {
            slot: 0,
            view: View {
                shape: vec![5, 5],
                strides: vec![5, 1],
                offset: 0,
            },
            dtype: DType::F32,
        };
        let padded = |b| pad_load(0, view.clone(), vec![(b, 1 - b), (b, 1 - b)]);
        let add = |a: Expr, b: Expr| Expr::Binary(BinaryOp::Add, Box::new(a), Box::new(b), DType::F32);
        check(&add(add(plain, padded(0)), padded(1)), &[5, 5], &[&buf]);
    }

    #[test]
    fn other_kernels_are_left_alone() {
        let buf = HostBuffer::F32(vec![1.0; 64]);
        let view = View {
            shape: vec![4, 4],
            strides: vec![1, 4],
            offset: 0,
        };
        // Innermost stride 4: not a row read.
        let t = pad_load(0, view, vec![(1, 0), (1, 0)]);
        let add = |a: Expr, b: Expr| Expr::Binary(BinaryOp::Add, Box::new(a), Box::new(b), DType::F32);
        let e = add(add(t.clone(), t.clone()), t);
        let mut out = HostBuffer::F32(vec![0.0; 25]);
        assert!(!run(&e, &[&buf], &mut out, &Serial));
    }
}
