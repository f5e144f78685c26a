//! From a fused [`Expr`] to what the code generator needs: the ops as a flat list over
//! typed values, and one loop nest (shape and per-load strides) that every load and the
//! output walk together.

use crate::dtype::DType;
use crate::ops::{BinaryOp, UnaryOp, View};
use crate::schedule::{Expr, Slot};
use std::collections::HashMap;

/// The value types compiled code computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// f32, one per element.
    F32,
    /// bool as one byte holding 0 or 1.
    Bool,
}

impl Ty {
    fn of(d: DType) -> Option<Ty> {
        match d {
            DType::F32 => Some(Ty::F32),
            DType::Bool => Some(Ty::Bool),
            _ => None,
        }
    }

    /// Bytes per element in memory.
    pub fn size(self) -> usize {
        match self {
            Ty::F32 => 4,
            Ty::Bool => 1,
        }
    }
}

/// One op of a kernel; operands are earlier nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// The element of load number `n` at the current position.
    Load(usize),
    Unary(UnaryOp, usize),
    Binary(BinaryOp, usize, usize),
    Where(usize, usize, usize),
    /// Conversion between [`Ty::F32`] and [`Ty::Bool`].
    Cast(usize),
}

/// What a compiled kernel is: everything the machine code depends on and nothing else
/// (not the buffers, not the views' offsets), so one compilation serves every kernel
/// of the same form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The loop nest, outermost first; the output is row-major over it.
    pub dims: Vec<usize>,
    /// How many innermost dims have their extent compiled in; the dim just outside
    /// them takes its extent from the call, and the ones further out are walked by the caller.
    pub inner: usize,
    /// Per load: its element type, strides and padding.
    pub loads: Vec<LoadSig>,
    /// The ops with their result types, in evaluation order.
    pub nodes: Vec<(Node, Ty)>,
    /// The node stored to the output.
    pub result: usize,
    /// The output's element type.
    pub out: Ty,
}

impl Signature {
    /// Elements per call-dim step: the product of the compiled inner extents.
    pub fn row(&self) -> usize {
        self.dims[self.dims.len() - self.inner..].iter().product()
    }
}

/// Per dim of the loop nest: `(before, interior extent)` where a read is padded.
pub type DimPads = Vec<Option<(usize, usize)>>;

/// How one load walks the loop nest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoadSig {
    /// Its element type.
    pub ty: Ty,
    /// Its stride (in elements) along each dim of the loop nest.
    pub strides: Vec<isize>,
    /// For a padded read: per dim, `(before, interior extent)` where the dim is padded, and
    /// the bits of the value read outside (f32 bits, or 0/1).
    pub pad: Option<(DimPads, u32)>,
}

/// A buffer a kernel reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Its slot.
    pub slot: Slot,
    /// The view (of the interior, for a padded read).
    pub view: View,
    /// Per dim (before, after) padding of a padded read.
    pub pads: Option<Vec<(usize, usize)>>,
}

impl Source {
    /// Elements before the first position along the loop nest's index: where a padded
    /// read's address would be for position 0 (before the buffer when padded before).
    pub fn start_offset(&self) -> isize {
        let before: isize = match &self.pads {
            Some(p) => p
                .iter()
                .zip(&self.view.strides)
                .map(|(&(a, _), &s)| a as isize * s)
                .sum(),
            None => 0,
        };
        self.view.offset - before
    }
}

/// A kernel lowered for compilation, with the buffers it reads.
pub struct Plan {
    /// The compiled form.
    pub sig: Signature,
    /// Per load, what it reads (for the bounds check and the addresses).
    pub sources: Vec<Source>,
}

/// Innermost elements a call covers at least, when the shape allows: the caller's walk
/// over the outer dims costs a few ns per call.
const MIN_ROW: usize = 256;

/// Most padded reads a compiled kernel takes.
const MAX_PADDED: usize = 2;

/// Lowers `expr` (writing `out`) when every value is f32 or bool and every read a plain
/// strided load whose index space can be shared with the output's; `None` otherwise.
pub fn lower(expr: &Expr, out: DType) -> Option<Plan> {
    let mut l = Lowering::default();
    let last = l.node(expr)?;
    let out = Ty::of(out)?;
    let result = if l.nodes[last].1 != out {
        l.push(Node::Cast(last), out)
    } else {
        last
    };
    // Sums of many padded windows (col2im) run faster in the interpreter, which adds each
    // window's interior as a block; compiled code checks every lane of every window.
    if l.sources.iter().filter(|s| s.pads.is_some()).count() > MAX_PADDED {
        return None;
    }
    // Each load's index space: the padded shape for a padded read (its dims must stay
    // whole: a split would make "inside" a condition on two indices), else the view merged.
    let shapes: Vec<(Vec<usize>, Vec<isize>)> = l
        .sources
        .iter()
        .map(|src| match &src.pads {
            Some(p) => src
                .view
                .shape
                .iter()
                .zip(p)
                .zip(&src.view.strides)
                .map(|((&n, &(a, b)), &st)| (n + a + b, st))
                .filter(|&(n, _)| n != 1)
                .unzip(),
            None => {
                let v = super::super::simplify(&src.view);
                (v.shape, v.strides)
            }
        })
        .collect();
    let numel: usize = shapes.first()?.0.iter().product();
    let dims = shared_dims(&shapes, numel)?;
    let mut strides = Vec::with_capacity(shapes.len());
    let mut pads = Vec::with_capacity(shapes.len());
    for (src, (shape, st)) in l.sources.iter().zip(&shapes) {
        let owners = owners(shape, &dims);
        strides.push(owners.iter().map(|&(d, f)| st[d] * f as isize).collect::<Vec<_>>());
        pads.push(match &src.pads {
            None => None,
            Some(p) => {
                // The padded dims, in the shape kept above (size-1 dims dropped).
                let kept: Vec<(usize, usize)> = src
                    .view
                    .shape
                    .iter()
                    .zip(p)
                    .filter(|&(&n, &(a, b))| n + a + b != 1)
                    .map(|(&n, &(a, _))| (a, n))
                    .collect();
                let mut per_dim = Vec::with_capacity(dims.len());
                for (j, &(d, _)) in owners.iter().enumerate() {
                    let (a, n) = kept[d];
                    let padded = a > 0 || n + a < shape[d];
                    if padded && dims[j] != shape[d] {
                        return None;
                    }
                    per_dim.push(padded.then_some((a, n)));
                }
                Some(per_dim)
            }
        });
    }
    let dims = merge(dims, &mut strides, &mut pads);
    if dims.is_empty() {
        return None;
    }
    let mut inner = 0;
    while inner + 1 < dims.len() && dims[dims.len() - inner..].iter().product::<usize>() < MIN_ROW {
        inner += 1;
    }
    let loads = (l.load_types.iter().zip(strides).zip(pads).zip(&l.fills))
        .map(|(((&ty, strides), pad), &fill)| LoadSig {
            ty,
            strides,
            pad: pad.map(|p| (p, fill)),
        })
        .collect();
    Some(Plan {
        sig: Signature {
            dims,
            inner,
            loads,
            nodes: l.nodes,
            result,
            out,
        },
        sources: l.sources,
    })
}

#[derive(Default)]
struct Lowering {
    nodes: Vec<(Node, Ty)>,
    seen: HashMap<(Node, Ty), usize>,
    sources: Vec<Source>,
    load_types: Vec<Ty>,
    fills: Vec<u32>,
}

impl Lowering {
    fn push(&mut self, n: Node, ty: Ty) -> usize {
        let next = self.nodes.len();
        *self.seen.entry((n.clone(), ty)).or_insert_with(|| {
            self.nodes.push((n, ty));
            next
        })
    }

    /// The load number of a read, adding it when new.
    fn source(
        &mut self,
        slot: Slot,
        view: &View,
        pads: Option<&Vec<(usize, usize)>>,
        dtype: DType,
        fill: u32,
    ) -> Option<usize> {
        let src = Source {
            slot,
            view: view.clone(),
            pads: pads.cloned(),
        };
        if let Some(i) = self.sources.iter().position(|s| *s == src) {
            return Some(i);
        }
        let ty = Ty::of(dtype)?;
        self.sources.push(src);
        self.load_types.push(ty);
        self.fills.push(fill);
        Some(self.sources.len() - 1)
    }

    fn ty(&self, n: usize) -> Ty {
        self.nodes[n].1
    }

    fn node(&mut self, e: &Expr) -> Option<usize> {
        let (n, ty) = match e {
            Expr::Load { slot, view, dtype } => {
                (Node::Load(self.source(*slot, view, None, *dtype, 0)?), Ty::of(*dtype)?)
            }
            Expr::PadLoad {
                slot,
                view,
                dtype,
                pads,
                fill,
            } => {
                let ty = Ty::of(*dtype)?;
                let bits = match ty {
                    Ty::F32 => (fill.as_f64() as f32).to_bits(),
                    Ty::Bool => (fill.as_f64() != 0.0) as u32,
                };
                (Node::Load(self.source(*slot, view, Some(pads), *dtype, bits)?), ty)
            }
            Expr::Unary(op, x) => {
                let x = self.node(x)?;
                let ty = self.ty(x);
                let ok = match ty {
                    Ty::F32 => *op != UnaryOp::Not,
                    Ty::Bool => *op == UnaryOp::Not,
                };
                if !ok {
                    return None;
                }
                (Node::Unary(*op, x), ty)
            }
            Expr::Binary(op, x, y, dt) => {
                let (x, y) = (self.node(x)?, self.node(y)?);
                let ty = self.ty(x);
                if self.ty(y) != ty || !supported(*op, ty) {
                    return None;
                }
                let result = if op.is_comparison() { Ty::Bool } else { ty };
                if Ty::of(dt.compute()) != Some(result) {
                    return None;
                }
                (Node::Binary(*op, x, y), result)
            }
            Expr::Where(c, x, y) => {
                let (c, x, y) = (self.node(c)?, self.node(x)?, self.node(y)?);
                if self.ty(c) != Ty::Bool || self.ty(x) != self.ty(y) {
                    return None;
                }
                (Node::Where(c, x, y), self.ty(x))
            }
            Expr::Cast(x, dt) => {
                let x = self.node(x)?;
                let ty = Ty::of(*dt)?;
                if ty == self.ty(x) {
                    return Some(x);
                }
                (Node::Cast(x), ty)
            }
        };
        Some(self.push(n, ty))
    }
}

/// Binary ops compiled for operands of `ty` (the others stay with the interpreter).
fn supported(op: BinaryOp, ty: Ty) -> bool {
    use BinaryOp::*;
    match ty {
        Ty::F32 => !op.is_logical(),
        Ty::Bool => matches!(op, And | Or | Xor | Min | Max | Mul | Add | Eq | Ne | Lt | Le),
    }
}

/// The loop nest all reads share: views of one kernel share the linear index but not
/// always the shape (a reshape strides cannot express is read through the old shape).
fn shared_dims(shapes: &[(Vec<usize>, Vec<isize>)], numel: usize) -> Option<Vec<usize>> {
    crate::shape::common_refinement(shapes.iter().map(|(s, _)| s.as_slice()), numel)
}

/// For each of `dims` (a refinement of `shape`): the dim of `shape` holding it and the
/// number of its elements one step spans (so its stride is that dim's times this).
fn owners(shape: &[usize], dims: &[usize]) -> Vec<(usize, usize)> {
    let mut out = vec![(0, 1); dims.len()];
    // Walk both from the inside: `lo` is the product of the dims inside dim `j`.
    let mut lo = 1;
    let (mut d, mut q) = (shape.len(), 1);
    for j in (0..dims.len()).rev() {
        while d > 0 && q * shape[d - 1] <= lo {
            q *= shape[d - 1];
            d -= 1;
        }
        out[j] = (d.saturating_sub(1), lo / q);
        lo *= dims[j];
    }
    out
}

/// Merges adjacent dims that every load walks contiguously and none pads (and drops
/// none: all are > 1).
fn merge(dims: Vec<usize>, strides: &mut [Vec<isize>], pads: &mut [Option<DimPads>]) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    let mut kept_strides: Vec<Vec<isize>> = vec![Vec::new(); strides.len()];
    let mut kept_pads: Vec<DimPads> = vec![Vec::new(); strides.len()];
    for (j, &n) in dims.iter().enumerate() {
        let padded = |k: usize| pads.iter().any(|p| p.as_ref().is_some_and(|p| p[k].is_some()));
        let joins = !keep.is_empty()
            && !padded(j)
            && !padded(j - 1)
            && strides
                .iter()
                .zip(&kept_strides)
                .all(|(s, k)| *k.last().expect("kept dims have strides") == s[j] * n as isize);
        if joins {
            *keep.last_mut().expect("checked non-empty") *= n;
            kept_strides
                .iter_mut()
                .zip(strides.iter())
                .for_each(|(k, s)| *k.last_mut().unwrap() = s[j]);
        } else {
            keep.push(n);
            kept_strides
                .iter_mut()
                .zip(strides.iter())
                .for_each(|(k, s)| k.push(s[j]));
            kept_pads
                .iter_mut()
                .zip(pads.iter())
                .for_each(|(k, p)| k.push(p.as_ref().and_then(|p| p[j])));
        }
    }
    strides.iter_mut().zip(kept_strides).for_each(|(s, k)| *s = k);
    pads.iter_mut().zip(kept_pads).for_each(|(p, k)| {
        if p.is_some() {
            *p = Some(k)
        }
    });
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strides_over(shape: &(Vec<usize>, Vec<isize>), dims: &[usize]) -> Vec<isize> {
        owners(&shape.0, dims)
            .iter()
            .map(|&(d, f)| shape.1[d] * f as isize)
            .collect()
    }

    #[test]
    fn shapes_of_one_linear_index_share_their_finest_common_split() {
        let a = (vec![6], vec![1]);
        let b = (vec![2, 3], vec![1, 2]);
        let dims = shared_dims(&[a.clone(), b.clone()], 6).unwrap();
        assert_eq!(dims, vec![2, 3]);
        assert_eq!(strides_over(&a, &dims), vec![3, 1]);
        assert_eq!(strides_over(&b, &dims), vec![1, 2]);
        // 4 x 6 and 6 x 4 split the index in ways no common shape holds.
        assert_eq!(
            shared_dims(&[(vec![4, 6], vec![6, 1]), (vec![6, 4], vec![4, 1])], 24),
            None
        );
    }

    #[test]
    fn dims_all_loads_walk_contiguously_merge() {
        let dims = vec![2, 3, 4];
        let mut strides = vec![vec![12, 4, 1], vec![0, 4, 1]];
        assert_eq!(merge(dims.clone(), &mut strides, &mut [None, None]), vec![2, 12]);
        assert_eq!(strides, vec![vec![12, 1], vec![0, 1]]);
        // A padded dim stays apart.
        let mut strides = vec![vec![12, 4, 1], vec![0, 4, 1]];
        let mut pads = [None, Some(vec![None, None, Some((1, 2))])];
        assert_eq!(merge(dims, &mut strides, &mut pads), vec![2, 3, 4]);
    }

    #[test]
    fn a_broadcast_view_walks_with_stride_zero() {
        assert_eq!(strides_over(&(vec![4, 5], vec![0, 1]), &[2, 2, 5]), vec![0, 0, 1]);
    }
}
