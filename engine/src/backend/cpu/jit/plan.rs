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
    /// Per load: its element type and its stride (in elements) along each dim of `dims`.
    pub loads: Vec<(Ty, Vec<isize>)>,
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

/// A kernel lowered for compilation, with the buffers it reads.
pub struct Plan {
    /// The compiled form.
    pub sig: Signature,
    /// Per load: the slot it reads and its view (for the bounds check and the offset).
    pub sources: Vec<(Slot, View)>,
}

/// Innermost elements a call covers at least, when the shape allows: the caller's walk
/// over the outer dims costs a few ns per call.
const MIN_ROW: usize = 256;

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
    let numel = l.sources.first().map(|(_, v)| v.numel())?;
    let views: Vec<View> = l.sources.iter().map(|(_, v)| super::super::simplify(v)).collect();
    let dims = shared_dims(&views, numel)?;
    let mut strides: Vec<Vec<isize>> = views.iter().map(|v| strides_over(v, &dims)).collect();
    let dims = merge(dims, &mut strides);
    if dims.is_empty() {
        return None;
    }
    let mut inner = 0;
    while inner + 1 < dims.len() && dims[dims.len() - inner..].iter().product::<usize>() < MIN_ROW {
        inner += 1;
    }
    let loads = l.load_types.iter().copied().zip(strides).collect();
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
    sources: Vec<(Slot, View)>,
    load_types: Vec<Ty>,
}

impl Lowering {
    fn push(&mut self, n: Node, ty: Ty) -> usize {
        let next = self.nodes.len();
        *self.seen.entry((n.clone(), ty)).or_insert_with(|| {
            self.nodes.push((n, ty));
            next
        })
    }

    fn ty(&self, n: usize) -> Ty {
        self.nodes[n].1
    }

    fn node(&mut self, e: &Expr) -> Option<usize> {
        let (n, ty) = match e {
            Expr::Load { slot, view, dtype } => {
                let ty = Ty::of(*dtype)?;
                let key = (*slot, view.clone());
                let i = match self.sources.iter().position(|s| *s == key) {
                    Some(i) => i,
                    None => {
                        self.sources.push(key);
                        self.load_types.push(ty);
                        self.sources.len() - 1
                    }
                };
                (Node::Load(i), ty)
            }
            Expr::PadLoad { .. } => return None,
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

/// The coarsest shape every view's row-major index splits into: the union of the views'
/// dim boundaries (as products of inner extents), when each divides the next. Views of
/// one kernel share the linear index but not always the shape (a reshape strides cannot
/// express is read through the old shape), e.g. `[6]` and `[2, 3]` share `[2, 3]`.
fn shared_dims(views: &[View], numel: usize) -> Option<Vec<usize>> {
    if numel == 0 {
        return None;
    }
    let mut cuts = vec![numel];
    for v in views {
        if v.numel() != numel {
            return None;
        }
        let mut q = 1;
        for &d in v.shape.iter().rev() {
            q *= d;
            cuts.push(q);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut dims = Vec::new();
    let mut prev = 1;
    for c in cuts {
        if c % prev != 0 {
            return None;
        }
        if c > prev {
            dims.push(c / prev);
        }
        prev = c;
    }
    dims.reverse();
    Some(dims)
}

/// `v`'s strides over `dims`, a refinement of its (simplified) shape.
fn strides_over(v: &View, dims: &[usize]) -> Vec<isize> {
    let mut out = vec![0; dims.len()];
    // Walk both from the inside: `lo` is the product of the dims inside dim `j`.
    let mut lo = 1;
    let (mut d, mut q) = (v.shape.len(), 1);
    for j in (0..dims.len()).rev() {
        // Move to the view dim holding [lo, lo * dims[j]).
        while d > 0 && q * v.shape[d - 1] <= lo {
            q *= v.shape[d - 1];
            d -= 1;
        }
        out[j] = if d == 0 {
            0
        } else {
            v.strides[d - 1] * (lo / q) as isize
        };
        lo *= dims[j];
    }
    out
}

/// Merges adjacent dims that every load walks contiguously (and drops none: all are > 1).
fn merge(dims: Vec<usize>, strides: &mut [Vec<isize>]) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    let mut kept_strides: Vec<Vec<isize>> = vec![Vec::new(); strides.len()];
    for (j, &n) in dims.iter().enumerate() {
        let joins = !keep.is_empty()
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
        }
    }
    strides.iter_mut().zip(kept_strides).for_each(|(s, k)| *s = k);
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(shape: &[usize], strides: &[isize]) -> View {
        View {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            offset: 0,
        }
    }

    #[test]
    fn shapes_of_one_linear_index_share_their_finest_common_split() {
        let a = view(&[6], &[1]);
        let b = view(&[2, 3], &[1, 2]);
        let dims = shared_dims(&[a.clone(), b.clone()], 6).unwrap();
        assert_eq!(dims, vec![2, 3]);
        assert_eq!(strides_over(&a, &dims), vec![3, 1]);
        assert_eq!(strides_over(&b, &dims), vec![1, 2]);
        // 4 x 6 and 6 x 4 split the index in ways no common shape holds.
        assert_eq!(shared_dims(&[view(&[4, 6], &[6, 1]), view(&[6, 4], &[4, 1])], 24), None);
    }

    #[test]
    fn dims_all_loads_walk_contiguously_merge() {
        let dims = vec![2, 3, 4];
        let mut strides = vec![vec![12, 4, 1], vec![0, 4, 1]];
        assert_eq!(merge(dims, &mut strides), vec![2, 12]);
        assert_eq!(strides, vec![vec![12, 1], vec![0, 1]]);
    }

    #[test]
    fn a_broadcast_view_walks_with_stride_zero() {
        let v = view(&[4, 5], &[0, 1]);
        assert_eq!(strides_over(&v, &[2, 2, 5]), vec![0, 0, 1]);
    }
}
