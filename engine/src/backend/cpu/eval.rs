//! Evaluating a fused [`Expr`] over a range of its row-major index space:
//! strided loads into chunks, then whole-chunk ops (see `vals`).

use super::vals::{self, Vals};
use crate::dtype::{DType, Element, Scalar};
use crate::ops::{BinaryOp, UnaryOp, View};
use crate::schedule::Expr;
use crate::storage::HostBuffer;
use half::{bf16, f16};
use std::collections::HashMap;

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

/// Copies elements `[start, start + len)` of `view` (row-major logical order) from `data`.
pub fn gather_range<T: Copy, U: Copy>(
    data: &[T],
    view: &View,
    start: usize,
    len: usize,
    conv: impl Fn(T) -> U,
    out: &mut Vec<U>,
) {
    // A broadcast last dim (a pooling gradient spread over its window): gather one value
    // per group of `k`, then repeat each in place. Far cheaper than a walk element by element.
    let nd = view.shape.len();
    if nd >= 2 && view.strides[nd - 1] == 0 {
        let k = view.shape[nd - 1];
        if k > 1 && start.is_multiple_of(k) && len.is_multiple_of(k) && len > 0 {
            let groups = View {
                shape: view.shape[..nd - 1].to_vec(),
                strides: view.strides[..nd - 1].to_vec(),
                offset: view.offset,
            };
            let mut values = Vec::with_capacity(len / k);
            gather_rows(data, &groups, start / k, len / k, &conv, &mut values);
            let base = out.len();
            out.resize(base + len, values[0]);
            let tail = &mut out[base..];
            if k == 2 {
                for (pair, &v) in tail.chunks_exact_mut(2).zip(&values) {
                    pair[0] = v;
                    pair[1] = v;
                }
            } else {
                for (group, &v) in tail.chunks_exact_mut(k).zip(&values) {
                    group.fill(v);
                }
            }
            return;
        }
    }
    gather_rows(data, view, start, len, &conv, out)
}

fn gather_rows<T: Copy, U: Copy>(
    data: &[T],
    view: &View,
    start: usize,
    len: usize,
    conv: &impl Fn(T) -> U,
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
    // One bounds check for the whole view, then unchecked reads along it.
    let (lo, hi) = view.span().expect("a non-empty range has elements");
    assert!(
        lo >= 0 && hi as usize <= data.len(),
        "view {view:?} outside a buffer of {}",
        data.len()
    );
    out.reserve(len);
    let filled = out.len();
    let mut idx = unravel(start, &view.shape);
    let (inner, step) = (view.shape[nd - 1], view.strides[nd - 1]);
    let (rows_dim, row_stride) = if nd >= 2 {
        (view.shape[nd - 2], view.strides[nd - 2])
    } else {
        (1, 0)
    };
    // SAFETY: every position read is inside the span checked above; writes go to the
    // `len` slots reserved past `filled`, and the length is set once they are written.
    unsafe {
        let src = data.as_ptr();
        let dst = out.as_mut_ptr().add(filled);
        let mut o = 0;
        while o < len {
            let pos = view.offset
                + idx
                    .iter()
                    .zip(&view.strides)
                    .map(|(&i, &s)| i as isize * s)
                    .sum::<isize>();
            let block = nd >= 2 && inner < 16 && idx[nd - 1] == 0 && len - o >= inner;
            // Short rows (pooling tiles): whole rows of the last two dims in one loop.
            let (run, rows) = if block {
                (inner, (rows_dim - idx[nd - 2]).min((len - o) / inner))
            } else {
                ((inner - idx[nd - 1]).min(len - o), 1)
            };
            for r in 0..rows {
                let p = src.offset(pos + r as isize * row_stride);
                let d = dst.add(o + r * run);
                match step {
                    1 => (0..run).for_each(|j| *d.add(j) = conv(*p.add(j))),
                    0 => {
                        let v = conv(*p);
                        (0..run).for_each(|j| *d.add(j) = v)
                    }
                    _ => (0..run).for_each(|j| *d.add(j) = conv(*p.offset(j as isize * step))),
                }
            }
            o += run * rows;
            if block {
                idx[nd - 2] += rows - 1;
                carry(&view.shape, &mut idx, nd - 2);
            } else {
                idx[nd - 1] += run - 1;
                carry(&view.shape, &mut idx, nd - 1);
            }
        }
        out.set_len(filled + len);
    }
}

/// Moves the row-major multi-index `idx` one step along dim `d`, carrying into outer dims.
fn carry(shape: &[usize], idx: &mut [usize], d: usize) {
    for d in (0..=d).rev() {
        idx[d] += 1;
        if idx[d] < shape[d] {
            return;
        }
        idx[d] = 0;
    }
}

/// The multi-index of row-major position `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0usize; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// Moves a row-major walk over `view` (index `idx`, buffer position `pos`) one step along
/// dim `d`, carrying into the outer dims.
pub(crate) fn advance(view: &View, idx: &mut [usize], pos: &mut isize, d: usize) {
    for d in (0..=d).rev() {
        idx[d] += 1;
        *pos += view.strides[d];
        if idx[d] < view.shape[d] {
            return;
        }
        *pos -= view.shape[d] as isize * view.strides[d];
        idx[d] = 0;
    }
}

/// Like [`gather_range`] over the padded shape: positions in the `pads` border read `fill`.
#[allow(clippy::too_many_arguments)]
fn gather_padded<T: Copy, U: Copy>(
    data: &[T],
    view: &View,
    pads: &[(usize, usize)],
    fill: U,
    start: usize,
    len: usize,
    conv: impl Fn(T) -> U,
    out: &mut Vec<U>,
) {
    if view.shape.is_empty() || len == 0 {
        return gather_range(data, view, start, len, conv, out);
    }
    out.reserve(len);
    let filled = out.len();
    // SAFETY: `padded_rows` checked the view against `data` and hands out interior
    // positions; writes go to the `len` reserved slots past `filled`, all written
    // (interior, or fill before and after it) before `set_len`.
    unsafe {
        let dst = out.as_mut_ptr().add(filled);
        padded_rows(data, view, pads, start, len, |o, run, inner| {
            let d = dst.add(o);
            match inner {
                None => (0..run).for_each(|j| *d.add(j) = fill),
                Some((skip, p, n, step)) => {
                    (0..skip).for_each(|j| *d.add(j) = fill);
                    let di = d.add(skip);
                    if step == 1 {
                        (0..n).for_each(|j| *di.add(j) = conv(*p.add(j)));
                    } else {
                        (0..n).for_each(|j| *di.add(j) = conv(*p.offset(j as isize * step)));
                    }
                    (skip + n..run).for_each(|j| *d.add(j) = fill);
                }
            }
        });
        out.set_len(filled + len);
    }
}

/// `acc[i] += padded[start + i]` with zero padding: col2im's sum of shifted windows adds
/// each window's interior into one chunk, never writing (or adding) the zeros around it.
fn add_padded<T: Copy, U: Copy + std::ops::AddAssign + Default>(
    data: &[T],
    view: &View,
    pads: &[(usize, usize)],
    start: usize,
    conv: impl Fn(T) -> U,
    acc: &mut [U],
) {
    // Adding the padding's zeros still matters for one value: -0 + 0 is +0.
    let zero = U::default();
    let len = acc.len();
    if view.shape.is_empty() || len == 0 {
        let mut vals = Vec::with_capacity(len);
        gather_range(data, view, start, len, conv, &mut vals);
        acc.iter_mut().zip(vals).for_each(|(a, v)| *a += v);
        return;
    }
    let dst = acc.as_mut_ptr();
    // SAFETY: interior positions from `padded_rows`; writes inside `acc`.
    unsafe {
        padded_rows(data, view, pads, start, len, |o, run, inner| {
            let d = dst.add(o);
            match inner {
                None => (0..run).for_each(|j| *d.add(j) += zero),
                Some((skip, p, n, step)) => {
                    (0..skip).for_each(|j| *d.add(j) += zero);
                    let di = d.add(skip);
                    if step == 1 {
                        (0..n).for_each(|j| *di.add(j) += conv(*p.add(j)));
                    } else {
                        (0..n).for_each(|j| *di.add(j) += conv(*p.offset(j as isize * step)));
                    }
                    (skip + n..run).for_each(|j| *d.add(j) += zero);
                }
            }
        });
    }
}

/// Walks positions `[start, start + len)` of `view` padded by `pads`, one run along the
/// last dim at a time: `f(out_pos, run, interior)`, where the interior (if the run has
/// one) is `(fill before it, pointer to its first element, length, element step)`.
///
/// # Safety
/// `f` may read the interior's `length` elements from the pointer at the step; the view
/// is checked against `data` here.
unsafe fn padded_rows<T>(
    data: &[T],
    view: &View,
    pads: &[(usize, usize)],
    start: usize,
    len: usize,
    mut f: impl FnMut(usize, usize, Option<(usize, *const T, usize, isize)>),
) {
    if let Some((lo, hi)) = view.span() {
        assert!(
            lo >= 0 && hi as usize <= data.len(),
            "view {view:?} outside a buffer of {}",
            data.len()
        );
    }
    let nd = view.shape.len();
    let padded: Vec<usize> = view.shape.iter().zip(pads).map(|(&n, &(a, b))| n + a + b).collect();
    let mut idx = unravel(start, &padded);
    let last = nd - 1;
    let (lo, n, step) = (pads[last].0, view.shape[last], view.strides[last]);
    let src = data.as_ptr();
    // The dims above the row's own (`plane`): their part of the base and the interior
    // test change only when the row index wraps, not every row (col2im's rows are short).
    let plane = last.saturating_sub(1);
    let (mut outer_base, mut outer_inside) = (view.offset, true);
    let mut o = 0;
    while o < len {
        let run = (len - o).min(padded[last] - idx[last]);
        let (c0, c1) = (idx[last], idx[last] + run);
        if o == 0 || last == 0 || idx[plane] == 0 {
            (outer_base, outer_inside) = (view.offset, true);
            for dim in 0..plane {
                let (a, m) = (pads[dim].0, view.shape[dim]);
                outer_inside &= idx[dim] >= a && idx[dim] < a + m;
                outer_base += (idx[dim] as isize - a as isize) * view.strides[dim];
            }
        }
        // The row's base in the buffer, if the row is inside the interior in every outer dim.
        let (mut base, mut inside) = (outer_base, outer_inside);
        if last > 0 {
            let (a, m) = (pads[plane].0, view.shape[plane]);
            inside &= idx[plane] >= a && idx[plane] < a + m;
            base += (idx[plane] as isize - a as isize) * view.strides[plane];
        }
        // [c0, i0) before the interior, [i0, i1) inside, [i1, c1) after.
        let i0 = c0.max(lo).min(c1);
        let i1 = c1.min(lo + n).max(i0);
        if inside && i1 > i0 {
            // SAFETY: an interior position of the view, inside the checked span.
            let p = unsafe { src.offset(base + (i0 - lo) as isize * step) };
            f(o, run, Some((i0 - c0, p, i1 - i0, step)));
        } else {
            f(o, run, None);
        }
        o += run;
        idx[last] += run - 1;
        carry(&padded, &mut idx, last);
    }
}

/// Reads a range of the padded view of a buffer (see [`Expr::PadLoad`]).
fn load_padded(buf: &HostBuffer, view: &View, pads: &[(usize, usize)], fill: Scalar, start: usize, len: usize) -> Vals {
    let mut out = vals::chunk(buf.dtype(), len);
    macro_rules! go {
        ($d:expr, $o:expr, $t:ty, $conv:expr) => {
            gather_padded(
                $d,
                view,
                pads,
                $conv(<$t as Element>::from_scalar(fill)),
                start,
                len,
                $conv,
                $o,
            )
        };
    }
    match (buf, &mut out) {
        (HostBuffer::Bool(d), Vals::Bool(o)) => go!(d, o, bool, |x| x),
        (HostBuffer::U8(d), Vals::U8(o)) => go!(d, o, u8, |x| x),
        (HostBuffer::I32(d), Vals::I32(o)) => go!(d, o, i32, |x| x),
        (HostBuffer::I64(d), Vals::I64(o)) => go!(d, o, i64, |x| x),
        (HostBuffer::F32(d), Vals::F32(o)) => go!(d, o, f32, |x| x),
        (HostBuffer::F64(d), Vals::F64(o)) => go!(d, o, f64, |x| x),
        (HostBuffer::F16(d), Vals::F32(o)) => go!(d, o, f16, f16::to_f32),
        (HostBuffer::BF16(d), Vals::F32(o)) => go!(d, o, bf16, bf16::to_f32),
        _ => unreachable!("with_capacity picks the compute type of the buffer"),
    }
    out
}

/// Reads a range of a buffer through a view into a chunk of its compute type.
pub fn load(buf: &HostBuffer, view: &View, start: usize, len: usize) -> Vals {
    // A broadcast constant loads as one value: ops treat it as a scalar.
    let (view, len) = if len > 0 && view.is_broadcast_scalar() {
        (
            &View {
                shape: vec![],
                strides: vec![],
                offset: view.offset,
            },
            1,
        )
    } else {
        (view, len)
    };
    let mut out = vals::chunk(buf.dtype(), len);
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

/// Per dim (before, after) padding.
type Pads = Vec<(usize, usize)>;

/// A padded read with zero fill whose dtype computes as the sum's: its slot, view, pads.
fn zero_padded(e: &Expr) -> Option<(usize, View, Pads)> {
    match e {
        Expr::PadLoad {
            slot,
            view,
            dtype,
            pads,
            fill,
        } if dtype.is_float() && fill.as_f64() == 0.0 => Some((*slot, view.clone(), pads.clone())),
        _ => None,
    }
}

/// One step of a compiled expression; operands are earlier steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Instr {
    Load(usize, View),
    PadLoad(usize, View, Vec<(usize, usize)>, Scalar),
    /// Adds a zero-padded read into an earlier float step (see [`add_padded`]).
    PadAdd(usize, usize, View, Vec<(usize, usize)>),
    Unary(UnaryOp, usize),
    Binary(BinaryOp, usize, usize),
    Where(usize, usize, usize),
    Cast(usize, DType),
}

impl Instr {
    /// The steps this one reads (no allocation: it runs for every step of every chunk).
    fn operands(&self) -> Operands {
        let (list, n) = match self {
            Instr::Load(..) | Instr::PadLoad(..) => ([0; 3], 0),
            Instr::Unary(_, a) | Instr::Cast(a, _) | Instr::PadAdd(a, ..) => ([*a, 0, 0], 1),
            Instr::Binary(_, a, b) => ([*a, *b, 0], 2),
            Instr::Where(c, a, b) => ([*c, *a, *b], 3),
        };
        Operands { list, n }
    }
}

/// Up to three step numbers.
struct Operands {
    list: [usize; 3],
    n: usize,
}

impl std::ops::Deref for Operands {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.list[..self.n]
    }
}

/// An [`Expr`] flattened into steps with common subexpressions merged (so
/// `y * y` computes `y` once), load views simplified, and each step's last
/// use known so its chunk can be reused in place.
pub struct Program {
    instrs: Vec<Instr>,
    last_use: Vec<usize>,
}

impl Program {
    /// Compiles an expression.
    pub fn compile(e: &Expr) -> Program {
        let mut p = Program {
            instrs: Vec::new(),
            last_use: Vec::new(),
        };
        let mut seen = HashMap::new();
        p.add(e, &mut seen);
        p.last_use = vec![0; p.instrs.len()];
        for (i, ins) in p.instrs.iter().enumerate() {
            for &r in ins.operands().iter() {
                p.last_use[r] = i;
            }
        }
        p
    }

    fn add(&mut self, e: &Expr, seen: &mut HashMap<Instr, usize>) -> usize {
        let ins = match e {
            Expr::Load { slot, view, .. } => Instr::Load(*slot, simplify(view)),
            Expr::PadLoad {
                slot, view, pads, fill, ..
            } => Instr::PadLoad(*slot, view.clone(), pads.clone(), *fill),
            Expr::Unary(op, x) => Instr::Unary(*op, self.add(x, seen)),
            Expr::Binary(BinaryOp::Add, x, y, dt) if dt.is_float() && zero_padded(y).is_some() => {
                let (slot, view, pads) = zero_padded(y).expect("checked by the guard");
                Instr::PadAdd(self.add(x, seen), slot, view, pads)
            }
            Expr::Binary(op, x, y, _) => {
                let a = self.add(x, seen);
                Instr::Binary(*op, a, self.add(y, seen))
            }
            Expr::Where(c, x, y) => {
                let c = self.add(c, seen);
                let a = self.add(x, seen);
                Instr::Where(c, a, self.add(y, seen))
            }
            Expr::Cast(x, d) => Instr::Cast(self.add(x, seen), *d),
        };
        *seen.entry(ins.clone()).or_insert_with(|| {
            self.instrs.push(ins);
            self.instrs.len() - 1
        })
    }

    /// Evaluates elements `[start, start + len)`; `bufs` maps slots to buffers.
    pub fn run(&self, bufs: &[&HostBuffer], start: usize, len: usize) -> Vals {
        let mut regs: Vec<Option<Vals>> = vec![None; self.instrs.len()];
        for (i, ins) in self.instrs.iter().enumerate() {
            let ops = ins.operands();
            // Take a chunk when this is its last reader (and the last mention here); else copy it.
            let mut fetch = |k: usize| {
                let r = ops[k];
                if self.last_use[r] == i && !ops[k + 1..].contains(&r) {
                    regs[r].take().expect("operands run before their readers")
                } else {
                    vals::duplicate(regs[r].as_ref().expect("operands run before their readers"))
                }
            };
            let v = match ins {
                Instr::Load(slot, view) => load(bufs[*slot], view, start, len),
                Instr::PadLoad(slot, view, pads, fill) => load_padded(bufs[*slot], view, pads, *fill, start, len),
                Instr::PadAdd(_, slot, view, pads) => {
                    let mut acc = fetch(0).expand(len);
                    match (bufs[*slot], &mut acc) {
                        (HostBuffer::F32(d), Vals::F32(a)) => add_padded(d, view, pads, start, |x| x, a),
                        (HostBuffer::F16(d), Vals::F32(a)) => add_padded(d, view, pads, start, f16::to_f32, a),
                        (HostBuffer::BF16(d), Vals::F32(a)) => add_padded(d, view, pads, start, bf16::to_f32, a),
                        (HostBuffer::F64(d), Vals::F64(a)) => add_padded(d, view, pads, start, |x| x, a),
                        _ => unreachable!("PadAdd is compiled for float sums of one dtype"),
                    }
                    acc
                }
                Instr::Unary(op, _) => vals::unary(*op, fetch(0)),
                Instr::Binary(op, ..) => {
                    let a = fetch(0);
                    vals::binary(*op, a, fetch(1))
                }
                Instr::Where(..) => {
                    let c = fetch(0);
                    let a = fetch(1);
                    vals::select(c, a, fetch(2))
                }
                Instr::Cast(_, d) => vals::cast(fetch(0), *d),
            };
            regs[i] = Some(v);
        }
        let out = regs.pop().flatten().expect("a program has at least one step");
        out.expand(len)
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
                match &v {
                    Vals::Bool(s) => dst
                        .iter_mut()
                        .zip(s)
                        .for_each(|(d, &x)| *d = conv(x as u8 as f64)),
                    Vals::U8(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = conv(x as f64)),
                    Vals::I32(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = conv(x as f64)),
                    Vals::I64(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = conv(x as f64)),
                    Vals::F32(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = conv(x as f64)),
                    Vals::F64(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = conv(x)),
                }
                vals::recycle(v);
            }
        }
    };
}

macro_rules! store_same {
    ($t:ty, $variant:ident) => {
        impl Store for $t {
            fn store(dst: &mut [Self], v: Vals) {
                let v = match v {
                    same @ Vals::$variant(_) => same,
                    other => vals::cast(other, <$t as crate::dtype::Element>::DTYPE),
                };
                let Vals::$variant(s) = &v else {
                    unreachable!("cast to the buffer's type")
                };
                dst.copy_from_slice(s);
                vals::recycle(v);
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
