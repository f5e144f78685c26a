//! Batched matrix product. f32 and f64 read their inputs through the views'
//! strides (a transposed operand costs no copy); other dtypes are gathered first.

use super::eval::gather_range;
use super::sgemm;
use crate::backend::{par_chunks_mut, Parallel, Serial};
use crate::ops::View;
use crate::storage::HostBuffer;
use half::{bf16, f16};

/// Offsets of every batch matrix of a `[..., r, c]` view, in batch row-major order.
fn batch_offsets(v: &View) -> Vec<isize> {
    let nd = v.shape.len();
    offsets(&v.shape[..nd - 2], &v.strides[..nd - 2], v.offset)
}

/// `base` plus the offset of every index of `shape`, in row-major order.
fn offsets(shape: &[usize], strides: &[isize], base: isize) -> Vec<isize> {
    let Some((&inner, outer)) = shape.split_last() else {
        return vec![base];
    };
    let step = strides[shape.len() - 1];
    let mut out = Vec::with_capacity(shape.iter().product());
    // The outer dims as an odometer, each row of the innermost dim in one go.
    let (mut idx, mut at) = (vec![0usize; outer.len()], base);
    if outer.contains(&0) {
        return out;
    }
    loop {
        out.extend((0..inner as isize).map(|j| at + j * step));
        let mut d = outer.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            at += strides[d];
            if idx[d] < outer[d] {
                break;
            }
            at -= outer[d] as isize * strides[d];
            idx[d] = 0;
        }
    }
}

/// The one stride that walks `shape` in row-major order, if there is one.
fn single_stride(shape: &[usize], strides: &[isize]) -> Option<isize> {
    let dims: Vec<(usize, isize)> = shape
        .iter()
        .copied()
        .zip(strides.iter().copied())
        .filter(|&(n, _)| n > 1)
        .collect();
    let ok = dims.windows(2).all(|w| w[0].1 == w[1].1 * w[1].0 as isize);
    ok.then(|| dims.last().map_or(1, |&(_, s)| s))
}

/// Rows or columns of a grouped operand: one stride apart, or at tabled offsets.
enum Lines {
    Stride(isize),
    Table(Vec<isize>),
}

impl Lines {
    fn new(shape: &[usize], strides: &[isize]) -> Lines {
        match single_stride(shape, strides) {
            Some(s) if s != 0 => Lines::Stride(s),
            _ => Lines::Table(offsets(shape, strides, 0)),
        }
    }

    /// (stride, table) for a `MatRef`.
    fn parts(&self) -> (isize, *const isize) {
        match self {
            Lines::Stride(s) => (*s, std::ptr::null()),
            Lines::Table(t) => (1, t.as_ptr()),
        }
    }
}

/// A matmul operand read through a view of an earlier shape whose dims group, in
/// order, into the operand's `[batch.., rows, cols]`: the convolution's im2col matrix
/// read through the input's sliding windows (the "implicit GEMM"), never copied.
struct Grouped {
    batch: Vec<isize>,
    rows: (usize, Lines),
    cols: (usize, Lines),
}

impl Grouped {
    fn new(v: &View, logical: &[usize], len: usize) -> Option<Grouped> {
        let (lo, hi) = v.span()?;
        if lo < 0 || hi as usize > len {
            return None;
        }
        let groups = crate::shape::dim_groups(&v.shape, logical)?;
        let nd = logical.len();
        let (r, c) = (groups[nd - 2].clone(), groups[nd - 1].clone());
        Some(Grouped {
            batch: offsets(&v.shape[..r.start], &v.strides[..r.start], v.offset),
            rows: (logical[nd - 2], Lines::new(&v.shape[r.clone()], &v.strides[r])),
            cols: (logical[nd - 1], Lines::new(&v.shape[c.clone()], &v.strides[c])),
        })
    }

    /// Batch matrix `i` of `data`.
    fn matrix(&self, data: &[f32], i: usize) -> sgemm::MatRef {
        let ((rows, rl), (cols, cl)) = (&self.rows, &self.cols);
        let ((rs, rt), (cs, ct)) = (rl.parts(), cl.parts());
        // SAFETY: `new` checked the view's span against the buffer.
        let ptr = unsafe { data.as_ptr().offset(self.batch[i]) };
        let mut m = sgemm::MatRef::strided(ptr, *rows, *cols, rs, cs);
        (m.row_offsets, m.col_offsets) = (rt, ct);
        m
    }
}

/// The product when an operand's view is in an earlier shape (see [`Grouped`]): f32 reads
/// it in place; other dtypes, or views that do not group, are gathered into their shape
/// first.
#[allow(clippy::too_many_arguments)]
fn matmul_grouped(
    a: &HostBuffer,
    av: &View,
    b: &HostBuffer,
    bv: &View,
    shape: &[usize],
    k: usize,
    out: &mut HostBuffer,
    par: &dyn Parallel,
) {
    let nd = shape.len();
    let (m, n) = (shape[nd - 2], shape[nd - 1]);
    let logical = |rows: usize, cols: usize| [&shape[..nd - 2], &[rows, cols]].concat();
    let (la, lb) = (logical(m, k), logical(k, n));
    if let (HostBuffer::F32(ad), HostBuffer::F32(bd), HostBuffer::F32(c)) = (a, b, &mut *out) {
        if let (Some(ga), Some(gb)) = (Grouped::new(av, &la, ad.len()), Grouped::new(bv, &lb, bd.len())) {
            for (i, ci) in c.chunks_mut((m * n).max(1)).enumerate() {
                let cm = sgemm::MatMut {
                    ptr: ci.as_mut_ptr(),
                    rows: m,
                    cols: n,
                    rs: n as isize,
                    cs: 1,
                };
                // SAFETY: both operands' spans were checked; `ci` is batch `i`'s block.
                unsafe { sgemm::sgemm(ga.matrix(ad, i), gb.matrix(bd, i), cm, false, par) };
            }
            return;
        }
    }
    let dense = |buf: &HostBuffer, v: &View, logical: &[usize]| -> (HostBuffer, View) {
        macro_rules! gather {
            ($($variant:ident),*) => {
                match buf {
                    $(HostBuffer::$variant(d) => {
                        let mut o = Vec::with_capacity(v.numel());
                        gather_range(d, v, 0, v.numel(), |x| x, &mut o);
                        HostBuffer::$variant(o)
                    })*
                    _ => unreachable!("matmul dtypes are checked at build time"),
                }
            };
        }
        (gather!(F32, F64, F16, BF16, I64, I32, U8), View::contiguous(logical))
    };
    let ((a, av), (b, bv)) = (dense(a, av, &la), dense(b, bv, &lb));
    matmul(&a, &av, &b, &bv, shape, out, par);
}

/// One strided matrix product into a contiguous `m x n` block: f32 through the
/// project's AVX-512 kernel (`sgemm`, which falls back to the `gemm` crate),
/// f64 through the `gemm` crate.
trait Gemm: Copy + Send + Sync + 'static {
    /// # Safety
    /// `a` and `b` with their strides stay inside their buffers (the views were checked at build time).
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        dims: (usize, usize, usize),
        a: *const Self,
        a_st: (isize, isize),
        b: *const Self,
        b_st: (isize, isize),
        c: &mut [Self],
        par: &dyn Parallel,
        threads: usize,
    );
}

impl Gemm for f32 {
    unsafe fn gemm(
        (m, k, n): (usize, usize, usize),
        a: *const f32,
        (a_rs, a_cs): (isize, isize),
        b: *const f32,
        (b_rs, b_cs): (isize, isize),
        c: &mut [f32],
        par: &dyn Parallel,
        _threads: usize,
    ) {
        let a = sgemm::MatRef::strided(a, m, k, a_rs, a_cs);
        let b = sgemm::MatRef::strided(b, k, n, b_rs, b_cs);
        let c = sgemm::MatMut {
            ptr: c.as_mut_ptr(),
            rows: m,
            cols: n,
            rs: n as isize,
            cs: 1,
        };
        // SAFETY: forwarded from the caller; `c` is a fresh, unaliased block.
        unsafe { sgemm::sgemm(a, b, c, false, par) }
    }
}

impl Gemm for f64 {
    unsafe fn gemm(
        (m, k, n): (usize, usize, usize),
        a: *const f64,
        (a_rs, a_cs): (isize, isize),
        b: *const f64,
        (b_rs, b_cs): (isize, isize),
        c: &mut [f64],
        par: &dyn Parallel,
        threads: usize,
    ) {
        // Row blocks of C in parallel, each a single-threaded gemm call (the gemm
        // crate's own threading would start threads of its own; see `runtime`).
        let blocks = if threads > 1 && m * n * k >= 64 * 64 * 64 {
            threads * 2
        } else {
            1
        };
        let rows = m.div_ceil(blocks).max(1);
        let (ap, bp) = (a as usize, b as usize);
        par_chunks_mut(par, c, rows * n, &|i, ci| {
            let r0 = i * rows;
            let mi = ci.len() / n;
            // SAFETY: forwarded from the caller; gemm reads only inside the given strides.
            unsafe {
                gemm::gemm(
                    mi,
                    n,
                    k,
                    ci.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    (ap as *const f64).offset(r0 as isize * a_rs),
                    a_cs,
                    a_rs,
                    bp as *const f64,
                    b_cs,
                    b_rs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        })
    }
}

/// Runs the product of `a` (`[..., m, k]`) and `b` (`[..., k, n]`) into `out` (`shape`,
/// `[..., m, n]`, contiguous). An operand may come as a view of an earlier shape whose
/// dims group into its own (see [`Grouped`]).
pub fn matmul(
    a: &HostBuffer,
    av: &View,
    b: &HostBuffer,
    bv: &View,
    shape: &[usize],
    out: &mut HostBuffer,
    par: &dyn Parallel,
) {
    let nd = shape.len();
    if av.shape.len() != nd || bv.shape.len() != nd {
        let batch_rows: usize = shape[..nd - 1].iter().product();
        let k = av.numel().checked_div(batch_rows).unwrap_or(0);
        return matmul_grouped(a, av, b, bv, shape, k, out, par);
    }
    let (m, k, n) = (av.shape[nd - 2], av.shape[nd - 1], bv.shape[nd - 1]);
    match (a, b, out) {
        (HostBuffer::F32(a), HostBuffer::F32(b), HostBuffer::F32(c)) => strided(a, av, b, bv, c, (m, k, n), par),
        (HostBuffer::F64(a), HostBuffer::F64(b), HostBuffer::F64(c)) => strided(a, av, b, bv, c, (m, k, n), par),
        (HostBuffer::F16(a), HostBuffer::F16(b), HostBuffer::F16(c)) => {
            let r = via_f32(a, av, b, bv, (m, k, n), f16::to_f32, par);
            c.iter_mut().zip(r).for_each(|(d, x)| *d = f16::from_f32(x));
        }
        (HostBuffer::BF16(a), HostBuffer::BF16(b), HostBuffer::BF16(c)) => {
            let r = via_f32(a, av, b, bv, (m, k, n), bf16::to_f32, par);
            c.iter_mut().zip(r).for_each(|(d, x)| *d = bf16::from_f32(x));
        }
        (HostBuffer::I64(a), HostBuffer::I64(b), HostBuffer::I64(c)) => naive(a, av, b, bv, c, (m, k, n), |x| x, |x| x),
        (HostBuffer::I32(a), HostBuffer::I32(b), HostBuffer::I32(c)) => {
            naive(a, av, b, bv, c, (m, k, n), |x| x as i64, |x| x as i32)
        }
        (HostBuffer::U8(a), HostBuffer::U8(b), HostBuffer::U8(c)) => {
            naive(a, av, b, bv, c, (m, k, n), |x| x as i64, |x| x as u8)
        }
        _ => unreachable!("matmul dtypes are checked at build time"),
    }
}

fn strided<T: Gemm + Default>(
    a: &[T],
    av: &View,
    b: &[T],
    bv: &View,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    par: &dyn Parallel,
) {
    if m * n == 0 {
        return;
    }
    let nd = av.shape.len();
    let a_st = (av.strides[nd - 2], av.strides[nd - 1]);
    let b_st = (bv.strides[nd - 2], bv.strides[nd - 1]);
    let (ao, bo) = (batch_offsets(av), batch_offsets(bv));
    let threads = par.threads();
    // Pointers cross threads as integers; each task writes its own output block.
    let (ap, bp) = (a.as_ptr() as usize, b.as_ptr() as usize);
    let run = |i: usize, ci: &mut [T], par: &dyn Parallel, threads: usize| {
        if k == 0 {
            ci.iter_mut().for_each(|x| *x = T::default());
            return;
        }
        // SAFETY: the offsets and strides come from views whose spans the shape rules checked.
        unsafe {
            T::gemm(
                (m, k, n),
                (ap as *const T).offset(ao[i]),
                a_st,
                (bp as *const T).offset(bo[i]),
                b_st,
                ci,
                par,
                threads,
            )
        }
    };
    if ao.len() > 1 && m * n * k < 128 * 128 * 128 {
        // Many small products: one per task, each single-threaded.
        par_chunks_mut(par, c, m * n, &|i, ci| run(i, ci, &Serial, 1));
    } else {
        c.chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, ci)| run(i, ci, par, threads));
    }
}

fn via_f32<T: Copy>(
    a: &[T],
    av: &View,
    b: &[T],
    bv: &View,
    dims: (usize, usize, usize),
    up: fn(T) -> f32,
    par: &dyn Parallel,
) -> Vec<f32> {
    let (mut a32, mut b32) = (Vec::new(), Vec::new());
    gather_range(a, av, 0, av.numel(), up, &mut a32);
    gather_range(b, bv, 0, bv.numel(), up, &mut b32);
    let rows: usize = av.shape[..av.shape.len() - 1].iter().product();
    let mut c = vec![0f32; rows * dims.2];
    strided(
        &a32,
        &View::contiguous(&av.shape),
        &b32,
        &View::contiguous(&bv.shape),
        &mut c,
        dims,
        par,
    );
    c
}

#[allow(clippy::too_many_arguments)]
fn naive<T: Copy>(
    a: &[T],
    av: &View,
    b: &[T],
    bv: &View,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    up: fn(T) -> i64,
    down: fn(i64) -> T,
) {
    let (mut a64, mut b64) = (Vec::new(), Vec::new());
    gather_range(a, av, 0, av.numel(), up, &mut a64);
    gather_range(b, bv, 0, bv.numel(), up, &mut b64);
    for (bi, cb) in c.chunks_mut((m * n).max(1)).enumerate() {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for p in 0..k {
                    acc = acc.wrapping_add(a64[bi * m * k + i * k + p].wrapping_mul(b64[bi * k * n + p * n + j]));
                }
                cb[i * n + j] = down(acc);
            }
        }
    }
}
