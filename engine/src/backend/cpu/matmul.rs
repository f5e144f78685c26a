//! Batched matrix product. f32 and f64 read their inputs through the views'
//! strides (a transposed operand costs no copy); other dtypes are gathered first.

use super::eval::gather_range;
use crate::ops::View;
use crate::storage::HostBuffer;
use half::{bf16, f16};
use rayon::prelude::*;

/// Offsets of every batch matrix of a `[..., r, c]` view, in batch row-major order.
fn batch_offsets(v: &View) -> Vec<isize> {
    let nd = v.shape.len();
    let batch = View {
        shape: v.shape[..nd - 2].to_vec(),
        strides: v.strides[..nd - 2].to_vec(),
        offset: v.offset,
    };
    let n = batch.numel();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; batch.shape.len()];
    for _ in 0..n {
        let off: isize = batch.offset
            + idx
                .iter()
                .zip(&batch.strides)
                .map(|(&i, &s)| i as isize * s)
                .sum::<isize>();
        out.push(off);
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < batch.shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Strided f32/f64 GEMM for one matrix pair, `c` contiguous `m x n`.
///
/// # Safety
/// `a` and `b` with their strides must stay inside their slices (checked by the caller through view spans).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_one<T: 'static + Copy>(
    m: usize,
    n: usize,
    k: usize,
    a: *const T,
    (a_rs, a_cs): (isize, isize),
    b: *const T,
    (b_rs, b_cs): (isize, isize),
    c: &mut [T],
    alpha: T,
    beta: T,
    threads: usize,
) {
    let par = if threads > 1 && m * n * k >= 48 * 48 * 48 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    gemm::gemm(
        m,
        n,
        k,
        c.as_mut_ptr(),
        1,
        n as isize,
        false,
        a,
        a_cs,
        a_rs,
        b,
        b_cs,
        b_rs,
        alpha,
        beta,
        false,
        false,
        false,
        par,
    );
}

/// Runs the product of `a` (`[..., m, k]`) and `b` (`[..., k, n]`) into `out` (`[..., m, n]`, contiguous).
pub fn matmul(a: &HostBuffer, av: &View, b: &HostBuffer, bv: &View, out: &mut HostBuffer, pool: &rayon::ThreadPool) {
    let nd = av.shape.len();
    let (m, k, n) = (av.shape[nd - 2], av.shape[nd - 1], bv.shape[nd - 1]);
    match (a, b, out) {
        (HostBuffer::F32(a), HostBuffer::F32(b), HostBuffer::F32(c)) => {
            strided(a, av, b, bv, c, (m, k, n), 1.0f32, 0.0, pool)
        }
        (HostBuffer::F64(a), HostBuffer::F64(b), HostBuffer::F64(c)) => {
            strided(a, av, b, bv, c, (m, k, n), 1.0f64, 0.0, pool)
        }
        (HostBuffer::F16(a), HostBuffer::F16(b), HostBuffer::F16(c)) => {
            let r = via_f32(a, av, b, bv, (m, k, n), f16::to_f32, pool);
            c.iter_mut().zip(r).for_each(|(d, x)| *d = f16::from_f32(x));
        }
        (HostBuffer::BF16(a), HostBuffer::BF16(b), HostBuffer::BF16(c)) => {
            let r = via_f32(a, av, b, bv, (m, k, n), bf16::to_f32, pool);
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

#[allow(clippy::too_many_arguments)]
fn strided<T: 'static + Copy + Send + Sync>(
    a: &[T],
    av: &View,
    b: &[T],
    bv: &View,
    c: &mut [T],
    (m, k, n): (usize, usize, usize),
    one: T,
    zero: T,
    pool: &rayon::ThreadPool,
) {
    if m * n == 0 {
        return;
    }
    let nd = av.shape.len();
    let a_st = (av.strides[nd - 2], av.strides[nd - 1]);
    let b_st = (bv.strides[nd - 2], bv.strides[nd - 1]);
    let (ao, bo) = (batch_offsets(av), batch_offsets(bv));
    let threads = pool.current_num_threads();
    // Pointers are sent across threads as integers; each task writes its own output block.
    let (ap, bp) = (a.as_ptr() as usize, b.as_ptr() as usize);
    let run = |i: usize, ci: &mut [T], threads: usize| unsafe {
        if k == 0 {
            ci.iter_mut().for_each(|x| *x = zero);
            return;
        }
        gemm_one(
            m,
            n,
            k,
            (ap as *const T).offset(ao[i]),
            a_st,
            (bp as *const T).offset(bo[i]),
            b_st,
            ci,
            zero,
            one,
            threads,
        )
    };
    pool.install(|| {
        if ao.len() > 1 && m * n * k < 128 * 128 * 128 {
            c.par_chunks_mut(m * n).enumerate().for_each(|(i, ci)| run(i, ci, 1));
        } else {
            c.chunks_mut(m * n).enumerate().for_each(|(i, ci)| run(i, ci, threads));
        }
    });
}

fn via_f32<T: Copy>(
    a: &[T],
    av: &View,
    b: &[T],
    bv: &View,
    dims: (usize, usize, usize),
    up: fn(T) -> f32,
    pool: &rayon::ThreadPool,
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
        1.0,
        0.0,
        pool,
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
