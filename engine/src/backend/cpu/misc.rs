//! The non-fusing primitives: padding, concatenation, gather/scatter, sort
//! order, prefix sums and arg-reductions. Each reads its inputs into
//! contiguous order first and works along "lanes" of one axis.

use super::eval::{advance, gather_range};
use crate::dtype::{Element, Scalar};
use crate::error::{Error, Result};
use crate::ops::View;
use crate::storage::{HostBuffer, HostElement};
use half::{bf16, f16};
use std::cmp::Ordering;

/// Runs `$body` with `$s` and `$o` bound to the slices of two buffers of one element type.
macro_rules! same_type {
    ($a:expr, $b:expr, $s:ident, $o:ident => $body:expr) => {
        match ($a, $b) {
            (HostBuffer::Bool($s), HostBuffer::Bool($o)) => $body,
            (HostBuffer::U8($s), HostBuffer::U8($o)) => $body,
            (HostBuffer::I32($s), HostBuffer::I32($o)) => $body,
            (HostBuffer::I64($s), HostBuffer::I64($o)) => $body,
            (HostBuffer::F16($s), HostBuffer::F16($o)) => $body,
            (HostBuffer::BF16($s), HostBuffer::BF16($o)) => $body,
            (HostBuffer::F32($s), HostBuffer::F32($o)) => $body,
            (HostBuffer::F64($s), HostBuffer::F64($o)) => $body,
            _ => unreachable!("kernel input and output dtypes match by construction"),
        }
    };
}

/// The input of a kernel, read into row-major order.
pub fn contiguous<T: Copy>(data: &[T], view: &View) -> Vec<T> {
    if view.numel() == 0 {
        return Vec::new();
    }
    if view.is_contiguous() {
        let start = view.offset as usize;
        return data[start..start + view.numel()].to_vec();
    }
    let mut out = Vec::with_capacity(view.numel());
    gather_range(data, view, 0, view.numel(), |x| x, &mut out);
    out
}

/// Calls `f(position, i)` for element `i` of `view` in row-major order.
fn for_each_position(view: &View, mut f: impl FnMut(usize, usize)) {
    let n = view.numel();
    let nd = view.shape.len();
    let mut idx = vec![0usize; nd];
    let mut pos = view.offset;
    for i in 0..n {
        f(pos as usize, i);
        if nd > 0 {
            advance(view, &mut idx, &mut pos, nd - 1);
        }
    }
}

/// Writes `src` (row-major) into `dst` through `view`.
fn scatter_view<T: Copy>(dst: &mut [T], view: &View, src: &[T]) {
    for_each_position(view, |p, i| dst[p] = src[i]);
}

/// The part of a contiguous `shape` buffer that `(start, len)` on `axis` covers.
fn sub_view(shape: &[usize], axis: usize, start: usize, len: usize) -> View {
    let full = View::contiguous(shape);
    let mut v = full.clone();
    v.shape[axis] = len;
    v.offset = start as isize * full.strides[axis];
    v
}

/// `(outer, len, inner)` of a lane decomposition of `shape` around `axis`.
fn lanes(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// Constant padding into `out` (contiguous, padded shape).
pub fn pad(src: &HostBuffer, view: &View, pads: &[(usize, usize)], value: Scalar, out: &mut HostBuffer) {
    let out_shape: Vec<usize> = view.shape.iter().zip(pads).map(|(&d, &(a, b))| d + a + b).collect();
    let full = View::contiguous(&out_shape);
    let interior = View {
        shape: view.shape.clone(),
        strides: full.strides.clone(),
        offset: pads.iter().zip(&full.strides).map(|(&(a, _), &s)| a as isize * s).sum(),
    };
    fn go<T: HostElement>(src: &[T], view: &View, interior: &View, value: Scalar, out: &mut [T]) {
        out.iter_mut().for_each(|x| *x = T::from_scalar(value));
        scatter_view(out, interior, &contiguous(src, view));
    }
    same_type!(src, out, s, o => go(s, view, &interior, value, o));
}

/// Concatenation along `axis` into `out` (contiguous).
pub fn cat(srcs: &[(&HostBuffer, &View)], axis: usize, out_shape: &[usize], out: &mut HostBuffer) {
    let mut start = 0;
    for (buf, view) in srcs {
        let len = view.shape[axis];
        let dst = sub_view(out_shape, axis, start, len);
        same_type!(*buf, &mut *out, s, o => scatter_view(o, &dst, &contiguous(s, view)));
        start += len;
    }
}

/// Checks an index read from a tensor against an axis of size `size`.
fn check_index(op: &'static str, i: i64, size: usize) -> Result<usize> {
    if i < 0 || i as usize >= size {
        return Err(Error::IndexOutOfRange { op, index: i, size });
    }
    Ok(i as usize)
}

/// For each element of a (contiguous) index tensor of shape `ishape`, in
/// order: `(its position, the position in a contiguous tensor of shape
/// `shape` with the index value on `axis`)`, checking the index value.
fn index_positions(
    op: &'static str,
    idx: &[i64],
    ishape: &[usize],
    shape: &[usize],
    axis: usize,
    mut f: impl FnMut(usize, usize),
) -> Result<()> {
    let strides = crate::shape::contiguous_strides(shape);
    let nd = ishape.len();
    let mut at = vec![0usize; nd];
    for (j, &v) in idx.iter().enumerate() {
        let k = check_index(op, v, shape[axis])?;
        let pos: usize = (0..nd)
            .map(|d| if d == axis { k } else { at[d] } * strides[d] as usize)
            .sum();
        f(j, pos);
        for d in (0..nd).rev() {
            at[d] += 1;
            if at[d] < ishape[d] {
                break;
            }
            at[d] = 0;
        }
    }
    Ok(())
}

/// `torch.gather` along `axis`.
pub fn gather(
    src: &HostBuffer,
    view: &View,
    index: &[i64],
    iview: &View,
    axis: usize,
    out: &mut HostBuffer,
) -> Result<()> {
    let idx = contiguous(index, iview);
    fn go<T: Copy>(
        data: Vec<T>,
        shape: &[usize],
        idx: &[i64],
        ishape: &[usize],
        axis: usize,
        o: &mut [T],
    ) -> Result<()> {
        index_positions("gather", idx, ishape, shape, axis, |j, p| o[j] = data[p])
    }
    same_type!(src, out, s, o => go(contiguous(s, view), &view.shape, &idx, &iview.shape, axis, o))
}

/// `torch.scatter` / `scatter_add` into a copy of the input.
#[allow(clippy::too_many_arguments)]
pub fn scatter(
    src: &HostBuffer,
    view: &View,
    index: &[i64],
    iview: &View,
    values: &HostBuffer,
    vview: &View,
    axis: usize,
    add: bool,
    out: &mut HostBuffer,
) -> Result<()> {
    let idx = contiguous(index, iview);
    #[allow(clippy::too_many_arguments)]
    fn go<T: Copy + Accum>(
        s: &[T],
        view: &View,
        vals: &[T],
        vview: &View,
        idx: &[i64],
        ishape: &[usize],
        axis: usize,
        add: bool,
        o: &mut [T],
    ) -> Result<()> {
        o.copy_from_slice(&contiguous(s, view));
        let v = contiguous(vals, vview);
        index_positions("scatter", idx, ishape, &view.shape, axis, |j, p| {
            o[p] = if add { o[p].add(v[j]) } else { v[j] }
        })
    }
    let ishape = &iview.shape;
    match (src, values, out) {
        (HostBuffer::F32(s), HostBuffer::F32(v), HostBuffer::F32(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::F64(s), HostBuffer::F64(v), HostBuffer::F64(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::F16(s), HostBuffer::F16(v), HostBuffer::F16(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::BF16(s), HostBuffer::BF16(v), HostBuffer::BF16(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::I64(s), HostBuffer::I64(v), HostBuffer::I64(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::I32(s), HostBuffer::I32(v), HostBuffer::I32(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        (HostBuffer::U8(s), HostBuffer::U8(v), HostBuffer::U8(o)) => go(s, view, v, vview, &idx, ishape, axis, add, o),
        (HostBuffer::Bool(s), HostBuffer::Bool(v), HostBuffer::Bool(o)) => {
            go(s, view, v, vview, &idx, ishape, axis, add, o)
        }
        _ => unreachable!("scatter dtypes are checked at build time"),
    }
}

/// Addition for scatter-add and cumsum.
pub trait Accum: Copy {
    /// `self + other` (wrapping for ints, `or` for bool).
    fn add(self, other: Self) -> Self;
}
macro_rules! accum_wrapping {
    ($($t:ty),*) => {$(impl Accum for $t { fn add(self, o: Self) -> Self { self.wrapping_add(o) } })*};
}
accum_wrapping!(u8, i32, i64);
impl Accum for f32 {
    fn add(self, o: Self) -> Self {
        self + o
    }
}
impl Accum for f64 {
    fn add(self, o: Self) -> Self {
        self + o
    }
}
impl Accum for f16 {
    fn add(self, o: Self) -> Self {
        f16::from_f32(self.to_f32() + o.to_f32())
    }
}
impl Accum for bf16 {
    fn add(self, o: Self) -> Self {
        bf16::from_f32(self.to_f32() + o.to_f32())
    }
}
impl Accum for bool {
    fn add(self, o: Self) -> Self {
        self || o
    }
}

/// Inclusive prefix sum along `axis`.
pub fn cumsum(src: &HostBuffer, view: &View, axis: usize, out: &mut HostBuffer) {
    let (outer, len, inner) = lanes(&view.shape, axis);
    fn go<T: Copy + Accum>(data: Vec<T>, o: &mut [T], (outer, len, inner): (usize, usize, usize)) {
        o.copy_from_slice(&data);
        for a in 0..outer {
            for i in 1..len {
                for b in 0..inner {
                    let j = (a * len + i) * inner + b;
                    o[j] = o[j - inner].add(o[j]);
                }
            }
        }
    }
    match (src, out) {
        (HostBuffer::F32(s), HostBuffer::F32(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::F64(s), HostBuffer::F64(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::F16(s), HostBuffer::F16(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::BF16(s), HostBuffer::BF16(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::I64(s), HostBuffer::I64(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::I32(s), HostBuffer::I32(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::U8(s), HostBuffer::U8(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        (HostBuffer::Bool(s), HostBuffer::Bool(o)) => go(contiguous(s, view), o, (outer, len, inner)),
        _ => unreachable!("cumsum keeps its dtype"),
    }
}

/// NaN test for any element type (only floats can be unequal to themselves).
#[allow(clippy::eq_op)]
fn is_nan<T: PartialEq>(x: &T) -> bool {
    x != x
}

/// Total order with NaN above every number (NumPy's sort order).
fn nan_last<T: Element + PartialOrd>(a: &T, b: &T) -> Ordering {
    let (an, bn) = (is_nan(a), is_nan(b));
    match (an, bn) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// Stable sort order along `axis` as i64 indices.
pub fn argsort(src: &HostBuffer, view: &View, axis: usize, descending: bool, out: &mut [i64]) {
    let (outer, len, inner) = lanes(&view.shape, axis);
    fn go<T: Element + PartialOrd>(
        data: Vec<T>,
        o: &mut [i64],
        (outer, len, inner): (usize, usize, usize),
        desc: bool,
    ) {
        let mut order: Vec<usize> = Vec::with_capacity(len);
        for a in 0..outer {
            for b in 0..inner {
                let at = |i: usize| data[(a * len + i) * inner + b];
                order.clear();
                order.extend(0..len);
                if desc {
                    order.sort_by(|&x, &y| nan_last(&at(y), &at(x)));
                } else {
                    order.sort_by(|&x, &y| nan_last(&at(x), &at(y)));
                }
                for (i, &k) in order.iter().enumerate() {
                    o[(a * len + i) * inner + b] = k as i64;
                }
            }
        }
    }
    crate::with_host!(src, s => go(contiguous(s, view), out, (outer, len, inner), descending));
}

/// Index of the first max (or min) along `axis`; NaN counts as the extreme.
pub fn argreduce(src: &HostBuffer, view: &View, axis: usize, max: bool, out: &mut [i64]) {
    let (outer, len, inner) = lanes(&view.shape, axis);
    fn go<T: Element + PartialOrd>(data: Vec<T>, o: &mut [i64], (outer, len, inner): (usize, usize, usize), max: bool) {
        for a in 0..outer {
            for b in 0..inner {
                let at = |i: usize| data[(a * len + i) * inner + b];
                let mut best = 0usize;
                for i in 1..len {
                    let (x, y) = (at(i), at(best));
                    if is_nan(&y) {
                        break;
                    }
                    let better = if is_nan(&x) {
                        true
                    } else if max {
                        x > y
                    } else {
                        x < y
                    };
                    if better {
                        best = i;
                    }
                }
                o[a * inner + b] = best as i64;
            }
        }
    }
    crate::with_host!(src, s => go(contiguous(s, view), out, (outer, len, inner), max));
}
