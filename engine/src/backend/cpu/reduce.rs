//! Reductions with a fused producer: the expression is evaluated chunk by chunk
//! and folded straight into accumulators, never written out.

use super::eval::{Program, Store};
use super::vals::Vals;
use super::CHUNK;
use crate::backend::{par_chunks_mut, Parallel};
use crate::ops::ReduceOp;
use crate::storage::HostBuffer;

/// An element type that can be reduced.
trait Reducible: Copy + Send + Sync {
    fn identity(op: ReduceOp) -> Self;
    fn combine(op: ReduceOp, a: Self, b: Self) -> Self;
    fn fold(op: ReduceOp, s: &[Self]) -> Self {
        s.iter().fold(Self::identity(op), |a, &b| Self::combine(op, a, b))
    }
    fn take(v: Vals) -> Vec<Self>;
    fn wrap(v: Vec<Self>) -> Vals;
}

macro_rules! reducible_float {
    ($t:ty, $v:ident) => {
        impl Reducible for $t {
            fn identity(op: ReduceOp) -> $t {
                match op {
                    ReduceOp::Sum => 0.0,
                    ReduceOp::Prod => 1.0,
                    ReduceOp::Max => <$t>::NEG_INFINITY,
                    ReduceOp::Min => <$t>::INFINITY,
                }
            }
            fn combine(op: ReduceOp, a: $t, b: $t) -> $t {
                match op {
                    ReduceOp::Sum => a + b,
                    ReduceOp::Prod => a * b,
                    // NaN propagates, as in torch.max.
                    ReduceOp::Max => {
                        if a.is_nan() || a > b {
                            a
                        } else {
                            b
                        }
                    }
                    ReduceOp::Min => {
                        if a.is_nan() || a < b {
                            a
                        } else {
                            b
                        }
                    }
                }
            }
            fn fold(op: ReduceOp, s: &[$t]) -> $t {
                if op != ReduceOp::Sum {
                    return s.iter().fold(Self::identity(op), |a, &b| Self::combine(op, a, b));
                }
                // Eight independent partial sums: vectorizes, and rounds less than one running sum.
                let mut acc = [0.0 as $t; 8];
                let chunks = s.chunks_exact(8);
                let tail = chunks.remainder();
                for c in chunks {
                    for i in 0..8 {
                        acc[i] += c[i];
                    }
                }
                let mut total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                for &x in tail {
                    total += x;
                }
                total
            }
            fn take(v: Vals) -> Vec<$t> {
                match v {
                    Vals::$v(x) => x,
                    _ => unreachable!("reduce input has the kernel's compute type"),
                }
            }
            fn wrap(v: Vec<$t>) -> Vals {
                Vals::$v(v)
            }
        }
    };
}
reducible_float!(f32, F32);
reducible_float!(f64, F64);

macro_rules! reducible_int {
    ($t:ty, $v:ident) => {
        impl Reducible for $t {
            fn identity(op: ReduceOp) -> $t {
                match op {
                    ReduceOp::Sum => 0,
                    ReduceOp::Prod => 1,
                    ReduceOp::Max => <$t>::MIN,
                    ReduceOp::Min => <$t>::MAX,
                }
            }
            fn combine(op: ReduceOp, a: $t, b: $t) -> $t {
                match op {
                    ReduceOp::Sum => a.wrapping_add(b),
                    ReduceOp::Prod => a.wrapping_mul(b),
                    ReduceOp::Max => a.max(b),
                    ReduceOp::Min => a.min(b),
                }
            }
            fn take(v: Vals) -> Vec<$t> {
                match v {
                    Vals::$v(x) => x,
                    _ => unreachable!("reduce input has the kernel's compute type"),
                }
            }
            fn wrap(v: Vec<$t>) -> Vals {
                Vals::$v(v)
            }
        }
    };
}
reducible_int!(u8, U8);
reducible_int!(i32, I32);
reducible_int!(i64, I64);

impl Reducible for bool {
    fn identity(op: ReduceOp) -> bool {
        matches!(op, ReduceOp::Min | ReduceOp::Prod)
    }
    fn combine(op: ReduceOp, a: bool, b: bool) -> bool {
        match op {
            ReduceOp::Max | ReduceOp::Sum => a || b,
            ReduceOp::Min | ReduceOp::Prod => a && b,
        }
    }
    fn take(v: Vals) -> Vec<bool> {
        match v {
            Vals::Bool(x) => x,
            _ => unreachable!("reduce input has the kernel's compute type"),
        }
    }
    fn wrap(v: Vec<bool>) -> Vals {
        Vals::Bool(v)
    }
}

/// Reduces `expr` (iteration space `[n_out, n_red]`) into `out`.
pub fn reduce(
    op: ReduceOp,
    program: &Program,
    n_out: usize,
    n_red: usize,
    bufs: &[&HostBuffer],
    out: &mut HostBuffer,
    par: &dyn Parallel,
) {
    let vals = match program.run(bufs, 0, 0) {
        Vals::F32(_) => f32::wrap(typed::<f32>(op, program, n_out, n_red, bufs, par)),
        Vals::F64(_) => f64::wrap(typed::<f64>(op, program, n_out, n_red, bufs, par)),
        Vals::I32(_) => i32::wrap(typed::<i32>(op, program, n_out, n_red, bufs, par)),
        Vals::I64(_) => i64::wrap(typed::<i64>(op, program, n_out, n_red, bufs, par)),
        Vals::U8(_) => u8::wrap(typed::<u8>(op, program, n_out, n_red, bufs, par)),
        Vals::Bool(_) => bool::wrap(typed::<bool>(op, program, n_out, n_red, bufs, par)),
    };
    crate::with_host!(out, o => Store::store(&mut o[..], vals));
}

fn typed<T: Reducible>(
    op: ReduceOp,
    program: &Program,
    n_out: usize,
    n_red: usize,
    bufs: &[&HostBuffer],
    par: &dyn Parallel,
) -> Vec<T> {
    let range = |start: usize, len: usize| T::take(program.run(bufs, start, len));
    // Folds `[from, to)` of one output's row.
    let fold_part = |o: usize, from: usize, to: usize| {
        let mut acc = T::identity(op);
        let mut c = from;
        while c < to {
            let len = CHUNK.min(to - c);
            acc = T::combine(op, acc, T::fold(op, &range(o * n_red + c, len)));
            c += len;
        }
        acc
    };
    // Fills consecutive outputs starting at `o0`, several short rows per chunk.
    let fill = |o0: usize, dst: &mut [T]| {
        if n_red >= CHUNK {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = fold_part(o0 + i, 0, n_red);
            }
            return;
        }
        let rows = (CHUNK / n_red.max(1)).max(1);
        for (g, group) in dst.chunks_mut(rows).enumerate() {
            let o = o0 + g * rows;
            let v = range(o * n_red, group.len() * n_red);
            for (r, d) in group.iter_mut().enumerate() {
                *d = T::fold(op, &v[r * n_red..(r + 1) * n_red]);
            }
        }
    };
    let mut out = vec![T::identity(op); n_out];
    if n_red == 0 || n_out == 0 {
        return out;
    }
    let threads = par.threads();
    if n_out * n_red < 4 * CHUNK || threads == 1 {
        fill(0, &mut out);
        return out;
    }
    let parts = if n_out >= 4 * threads {
        1
    } else {
        (4 * threads / n_out).clamp(1, (n_red / CHUNK).max(1))
    };
    if parts == 1 {
        let per_task = n_out.div_ceil(8 * threads).max(1);
        par_chunks_mut(par, &mut out, per_task, &|t, dst| fill(t * per_task, dst));
        return out;
    }
    // Few outputs, long rows: split each row and combine the partial results.
    let mut partials = vec![T::identity(op); n_out * parts];
    par_chunks_mut(par, &mut partials, 1, &|i, slot| {
        let (o, p) = (i / parts, i % parts);
        slot[0] = fold_part(o, p * n_red / parts, (p + 1) * n_red / parts);
    });
    for (o, d) in out.iter_mut().enumerate() {
        *d = T::fold(op, &partials[o * parts..(o + 1) * parts]);
    }
    out
}
