//! Evaluating a fused [`Expr`] over a range of its row-major index space:
//! strided loads into chunks, then whole-chunk ops (see `vals`).

use super::vals::{self, Vals};
use crate::ops::View;
use crate::schedule::Expr;
use crate::storage::HostBuffer;
use half::{bf16, f16};

/// Merges adjacent dims that are contiguous with each other and drops size-1
/// dims: same addresses in the same order, longer inner runs.
pub fn simplify(v: &View) -> View {
    let mut shape: Vec<usize> = Vec::new();
    let mut strides: Vec<isize> = Vec::new();
    for (&d, &s) in v.shape.iter().zip(&v.strides) {
        if d == 1 {
            continue;
        }
        if let (Some(ld), Some(ls)) = (shape.last_mut(), strides.last_mut()) {
            if *ls == s * d as isize {
                *ld *= d;
                *ls = s;
                continue;
            }
        }
        shape.push(d);
        strides.push(s);
    }
    if v.numel() == 0 {
        shape = vec![0];
        strides = vec![1];
    }
    View {
        shape,
        strides,
        offset: v.offset,
    }
}

/// Simplifies every load view of an expression once per kernel.
pub fn prepare(e: &Expr) -> Expr {
    e.map_views(&|v| Some(simplify(v))).expect("simplify never fails")
}

/// Copies elements `[start, start + len)` of `view` (row-major logical order) from `data`.
pub fn gather_range<T: Copy, U: Copy>(
    data: &[T],
    view: &View,
    start: usize,
    len: usize,
    conv: impl Fn(T) -> U,
    out: &mut Vec<U>,
) {
    let nd = view.shape.len();
    if len == 0 {
        return;
    }
    if nd == 0 {
        out.extend(std::iter::repeat_n(conv(data[view.offset as usize]), len));
        return;
    }
    let mut idx = vec![0usize; nd];
    let mut rem = start;
    let mut pos = view.offset;
    for d in (0..nd).rev() {
        idx[d] = rem % view.shape[d];
        rem /= view.shape[d];
        pos += idx[d] as isize * view.strides[d];
    }
    let inner = view.shape[nd - 1];
    let step = view.strides[nd - 1];
    let mut left = len;
    while left > 0 {
        let run = left.min(inner - idx[nd - 1]);
        if step == 1 {
            let p = pos as usize;
            out.extend(data[p..p + run].iter().map(|&x| conv(x)));
        } else if step == 0 {
            out.extend(std::iter::repeat_n(conv(data[pos as usize]), run));
        } else {
            out.extend((0..run).map(|i| conv(data[(pos + i as isize * step) as usize])));
        }
        left -= run;
        pos += run as isize * step;
        idx[nd - 1] += run;
        if idx[nd - 1] == inner {
            pos -= inner as isize * step;
            idx[nd - 1] = 0;
            for d in (0..nd - 1).rev() {
                idx[d] += 1;
                pos += view.strides[d];
                if idx[d] < view.shape[d] {
                    break;
                }
                pos -= view.shape[d] as isize * view.strides[d];
                idx[d] = 0;
            }
        }
    }
}

/// Reads a range of a buffer through a view into a chunk of its compute type.
pub fn load(buf: &HostBuffer, view: &View, start: usize, len: usize) -> Vals {
    let mut out = Vals::with_capacity(buf.dtype(), len);
    match (buf, &mut out) {
        (HostBuffer::Bool(d), Vals::Bool(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::U8(d), Vals::U8(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::I32(d), Vals::I32(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::I64(d), Vals::I64(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::F32(d), Vals::F32(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::F64(d), Vals::F64(o)) => gather_range(d, view, start, len, |x| x, o),
        (HostBuffer::F16(d), Vals::F32(o)) => gather_range(d, view, start, len, f16::to_f32, o),
        (HostBuffer::BF16(d), Vals::F32(o)) => gather_range(d, view, start, len, bf16::to_f32, o),
        _ => unreachable!("with_capacity picks the compute type of the buffer"),
    }
    out
}

/// Evaluates `e` for elements `[start, start + len)`; `bufs` maps slots to buffers.
pub fn eval(e: &Expr, bufs: &[&HostBuffer], start: usize, len: usize) -> Vals {
    match e {
        Expr::Load { slot, view, .. } => load(bufs[*slot], view, start, len),
        Expr::Unary(op, x) => vals::unary(*op, eval(x, bufs, start, len)),
        Expr::Binary(op, x, y, _) => vals::binary(*op, eval(x, bufs, start, len), eval(y, bufs, start, len)),
        Expr::Where(c, a, b) => vals::select(
            eval(c, bufs, start, len),
            eval(a, bufs, start, len),
            eval(b, bufs, start, len),
        ),
        Expr::Cast(x, d) => vals::cast(eval(x, bufs, start, len), *d),
    }
}

/// Writes a chunk into `dst`, converting to the buffer's element type.
pub trait Store: Sized {
    /// Converts and copies `v` into `dst` (same length).
    fn store(dst: &mut [Self], v: Vals);
}

macro_rules! store_as {
    ($t:ty, $conv:expr) => {
        impl Store for $t {
            fn store(dst: &mut [Self], v: Vals) {
                let conv = $conv;
                match v {
                    Vals::Bool(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x as u8 as f64)),
                    Vals::U8(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x as f64)),
                    Vals::I32(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x as f64)),
                    Vals::I64(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x as f64)),
                    Vals::F32(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x as f64)),
                    Vals::F64(s) => dst.iter_mut().zip(s).for_each(|(d, x)| *d = conv(x)),
                }
            }
        }
    };
}

macro_rules! store_same {
    ($t:ty, $variant:ident) => {
        impl Store for $t {
            fn store(dst: &mut [Self], v: Vals) {
                match v {
                    Vals::$variant(s) => dst.copy_from_slice(&s),
                    other => {
                        let Vals::$variant(s) = vals::cast(other, <$t as crate::dtype::Element>::DTYPE) else {
                            unreachable!()
                        };
                        dst.copy_from_slice(&s)
                    }
                }
            }
        }
    };
}
store_same!(bool, Bool);
store_same!(u8, U8);
store_same!(i32, I32);
store_same!(i64, I64);
store_same!(f32, F32);
store_same!(f64, F64);
store_as!(f16, f16::from_f64);
store_as!(bf16, bf16::from_f64);
