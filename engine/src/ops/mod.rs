//! The primitive ops and their shape/dtype rules: the bottom of the engine.
//!
//! Every public tensor op is built from these few kinds; a backend implements
//! only these, and fusion sees every op. Each rule checks its inputs strictly
//! (broadcasting and casts are made explicit by the `Tensor` layer above), so a
//! rule failure means a mistake in the caller, reported with both shapes.

mod view;

pub use view::{View, ViewOp};

use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};

/// Elementwise ops with one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Floor,
    Ceil,
    Round,
    Exp,
    Log,
    Log1p,
    Sqrt,
    Recip,
    Sin,
    Cos,
    Tanh,
    Erf,
    /// Logical not of a bool tensor.
    Not,
}

impl UnaryOp {
    /// True for ops defined only on floats (the tensor layer casts ints to f32 first).
    pub fn float_only(self) -> bool {
        use UnaryOp::*;
        matches!(self, Exp | Log | Log1p | Sqrt | Recip | Sin | Cos | Tanh | Erf)
    }

    /// Lower-case name for schedules and messages.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Sign => "sign",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Exp => "exp",
            Log => "log",
            Log1p => "log1p",
            Sqrt => "sqrt",
            Recip => "recip",
            Sin => "sin",
            Cos => "cos",
            Tanh => "tanh",
            Erf => "erf",
            Not => "not",
        }
    }
}

/// Elementwise ops with two inputs of one dtype and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// True division; floats only.
    Div,
    /// Remainder with the sign of the divisor (Python / `torch.remainder`).
    Rem,
    Pow,
    Max,
    Min,
    Eq,
    Ne,
    Lt,
    Le,
    /// Logical ops on bool tensors.
    And,
    Or,
    Xor,
}

impl BinaryOp {
    /// True when the result is a bool tensor.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le)
    }

    /// True for And/Or/Xor.
    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)
    }

    /// Lower-case name for schedules and messages.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            Rem => "rem",
            Pow => "pow",
            Max => "maximum",
            Min => "minimum",
            Eq => "eq",
            Ne => "ne",
            Lt => "lt",
            Le => "le",
            And => "and",
            Or => "or",
            Xor => "xor",
        }
    }
}

/// Reductions over a set of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
}

impl ReduceOp {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }
}

/// A primitive op: what a graph node computes from its inputs.
#[derive(Clone, Debug, PartialEq, Hash)]
pub enum OpKind {
    /// Data that already exists (no inputs).
    Leaf,
    /// Elementwise, one input.
    Unary(UnaryOp),
    /// Elementwise, two inputs.
    Binary(BinaryOp),
    /// `cond ? a : b`, inputs (cond: bool, a, b).
    Where,
    /// Elementwise conversion to the node's dtype.
    Cast(DType),
    /// Reduces the given (sorted) axes to size 1.
    Reduce(ReduceOp, Vec<usize>),
    /// Index (i64) of the max or min along `axis`, kept as size 1; first on ties.
    ArgReduce {
        /// Max (true) or min.
        max: bool,
        /// The axis scanned.
        axis: usize,
    },
    /// A movement that reads the input through new strides when it can.
    View(ViewOp),
    /// Constant padding, `(before, after)` per dim.
    Pad {
        /// Padding per dim.
        pads: Vec<(usize, usize)>,
        /// The fill value.
        value: Scalar,
    },
    /// Concatenation of all inputs along `axis`.
    Cat {
        /// The joined axis.
        axis: usize,
    },
    /// Batched matrix product `[..., m, k] x [..., k, n]` with equal batch dims.
    MatMul,
    /// `out[i][j] = input[i][index[i][j]]` along `axis` (inputs: input, index).
    Gather {
        /// The indexed axis.
        axis: usize,
    },
    /// Writes (or adds) `src` into a copy of `input` at `index` along `axis` (inputs: input, index, src).
    Scatter {
        /// The indexed axis.
        axis: usize,
        /// Accumulate instead of overwrite.
        add: bool,
    },
    /// Stable sort order (i64 indices) along `axis`.
    Argsort {
        /// The sorted axis.
        axis: usize,
        /// Largest first.
        descending: bool,
    },
    /// Inclusive prefix sum along `axis`.
    Cumsum {
        /// The scanned axis.
        axis: usize,
    },
}

impl OpKind {
    /// True for the elementwise kinds that fuse into one loop.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            OpKind::Unary(_) | OpKind::Binary(_) | OpKind::Where | OpKind::Cast(_)
        )
    }

    /// Short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Leaf => "leaf",
            OpKind::Unary(u) => u.name(),
            OpKind::Binary(b) => b.name(),
            OpKind::Where => "where",
            OpKind::Cast(_) => "cast",
            OpKind::Reduce(r, _) => r.name(),
            OpKind::ArgReduce { max: true, .. } => "argmax",
            OpKind::ArgReduce { .. } => "argmin",
            OpKind::View(_) => "view",
            OpKind::Pad { .. } => "pad",
            OpKind::Cat { .. } => "cat",
            OpKind::MatMul => "matmul",
            OpKind::Gather { .. } => "gather",
            OpKind::Scatter { .. } => "scatter",
            OpKind::Argsort { .. } => "argsort",
            OpKind::Cumsum { .. } => "cumsum",
        }
    }

    /// The output shape and dtype for inputs of the given shapes and dtypes.
    pub fn infer(&self, inputs: &[(&[usize], DType)]) -> Result<(Vec<usize>, DType)> {
        let op = self.name();
        let arity = match self {
            OpKind::Leaf => 0,
            OpKind::Binary(_) | OpKind::MatMul | OpKind::Gather { .. } => 2,
            OpKind::Where | OpKind::Scatter { .. } => 3,
            OpKind::Cat { .. } => inputs.len().max(1),
            _ => 1,
        };
        if inputs.len() != arity {
            return Err(Error::arg(op, format!("expects {arity} inputs, got {}", inputs.len())));
        }
        let same_shape = |a: &[usize], b: &[usize]| {
            if a == b {
                Ok(())
            } else {
                Err(Error::shapes(op, a, b, "shapes must be equal"))
            }
        };
        let dtype_err = |d: DType, why: &str| Error::UnsupportedDType {
            op,
            dtype: d,
            reason: why.to_string(),
        };
        match self {
            OpKind::Leaf => Err(Error::arg(op, "a leaf has no inputs to infer from")),
            OpKind::Unary(u) => {
                let (s, d) = inputs[0];
                if u.float_only() && !d.is_float() {
                    return Err(dtype_err(d, "needs a float tensor"));
                }
                if (*u == UnaryOp::Not) != (d == DType::Bool) {
                    return Err(dtype_err(d, "`not` takes bool, arithmetic takes numbers"));
                }
                Ok((s.to_vec(), d))
            }
            OpKind::Binary(b) => {
                let ((sa, da), (sb, db)) = (inputs[0], inputs[1]);
                same_shape(sa, sb)?;
                if da != db {
                    return Err(dtype_err(db, &format!("both inputs must be {da}")));
                }
                if b.is_logical() != (da == DType::Bool) && !b.is_comparison() {
                    return Err(dtype_err(da, "logical ops take bool, arithmetic takes numbers"));
                }
                if matches!(b, BinaryOp::Div) && !da.is_float() {
                    return Err(dtype_err(da, "true division needs floats"));
                }
                Ok((sa.to_vec(), if b.is_comparison() { DType::Bool } else { da }))
            }
            OpKind::Where => {
                let ((sc, dc), (sa, da), (sb, db)) = (inputs[0], inputs[1], inputs[2]);
                same_shape(sc, sa)?;
                same_shape(sa, sb)?;
                if dc != DType::Bool {
                    return Err(dtype_err(dc, "the condition must be bool"));
                }
                if da != db {
                    return Err(dtype_err(db, &format!("both branches must be {da}")));
                }
                Ok((sa.to_vec(), da))
            }
            OpKind::Cast(d) => Ok((inputs[0].0.to_vec(), *d)),
            OpKind::Reduce(r, axes) => {
                let (s, d) = inputs[0];
                if d == DType::Bool && *r != ReduceOp::Max && *r != ReduceOp::Min {
                    return Err(dtype_err(d, "sum/prod need numbers"));
                }
                let mut out = s.to_vec();
                for &a in axes {
                    *out.get_mut(a).ok_or(Error::InvalidAxis {
                        op,
                        axis: a as isize,
                        rank: s.len(),
                    })? = 1;
                }
                Ok((out, d))
            }
            OpKind::ArgReduce { axis, .. } | OpKind::Cumsum { axis } | OpKind::Argsort { axis, .. } => {
                let (s, d) = inputs[0];
                if *axis >= s.len().max(1) {
                    return Err(Error::InvalidAxis {
                        op,
                        axis: *axis as isize,
                        rank: s.len(),
                    });
                }
                Ok(match self {
                    OpKind::ArgReduce { .. } => {
                        let mut out = s.to_vec();
                        if !out.is_empty() {
                            out[*axis] = 1;
                        }
                        (out, DType::I64)
                    }
                    OpKind::Cumsum { .. } => (s.to_vec(), d),
                    _ => (s.to_vec(), DType::I64),
                })
            }
            OpKind::View(v) => view_shape(op, inputs[0].0, v).map(|s| (s, inputs[0].1)),
            OpKind::Pad { pads, .. } => {
                let (s, d) = inputs[0];
                if pads.len() != s.len() {
                    return Err(Error::arg(op, format!("{} pad pairs for rank {}", pads.len(), s.len())));
                }
                Ok((s.iter().zip(pads).map(|(&n, &(a, b))| n + a + b).collect(), d))
            }
            OpKind::Cat { axis } => {
                let (s0, d0) = inputs[0];
                let mut out = s0.to_vec();
                if *axis >= s0.len() {
                    return Err(Error::InvalidAxis {
                        op,
                        axis: *axis as isize,
                        rank: s0.len(),
                    });
                }
                for &(s, d) in &inputs[1..] {
                    if d != d0 {
                        return Err(dtype_err(d, &format!("all inputs must be {d0}")));
                    }
                    let fits =
                        s.len() == s0.len() && s.iter().zip(s0).enumerate().all(|(i, (a, b))| i == *axis || a == b);
                    if !fits {
                        return Err(Error::shapes(op, s0, s, format!("must match except on axis {axis}")));
                    }
                    out[*axis] += s[*axis];
                }
                Ok((out, d0))
            }
            OpKind::MatMul => {
                let ((sa, da), (sb, db)) = (inputs[0], inputs[1]);
                let r = sa.len();
                if r < 2 || sb.len() != r || sa[..r - 2] != sb[..r - 2] || sa[r - 1] != sb[r - 2] {
                    return Err(Error::shapes(
                        op,
                        sa,
                        sb,
                        "need [..., m, k] and [..., k, n] with equal batch dims",
                    ));
                }
                if da != db {
                    return Err(dtype_err(db, &format!("both inputs must be {da}")));
                }
                if da == DType::Bool {
                    return Err(dtype_err(da, "needs numbers"));
                }
                let mut out = sa.to_vec();
                out[r - 1] = sb[r - 1];
                Ok((out, da))
            }
            OpKind::Gather { axis } => {
                let ((si, d), (sx, dx)) = (inputs[0], inputs[1]);
                if dx != DType::I64 {
                    return Err(dtype_err(dx, "indices must be i64"));
                }
                if si.len() != sx.len() || *axis >= si.len() {
                    return Err(Error::shapes(
                        op,
                        si,
                        sx,
                        format!("index must have the input's rank; axis {axis}"),
                    ));
                }
                Ok((sx.to_vec(), d))
            }
            OpKind::Scatter { axis, .. } => {
                let ((si, d), (sx, dx), (ss, ds)) = (inputs[0], inputs[1], inputs[2]);
                if dx != DType::I64 {
                    return Err(dtype_err(dx, "indices must be i64"));
                }
                if ds != d {
                    return Err(dtype_err(ds, &format!("src must be {d}")));
                }
                same_shape(sx, ss)?;
                if si.len() != sx.len() || *axis >= si.len() {
                    return Err(Error::shapes(
                        op,
                        si,
                        sx,
                        format!("index must have the input's rank; axis {axis}"),
                    ));
                }
                if si.iter().zip(sx).enumerate().any(|(i, (&a, &b))| i != *axis && b > a) {
                    return Err(Error::shapes(
                        op,
                        si,
                        sx,
                        "index is larger than the input off the scatter axis",
                    ));
                }
                Ok((si.to_vec(), d))
            }
        }
    }
}

/// Output shape of a movement, checking that it is well formed.
fn view_shape(op: &'static str, s: &[usize], v: &ViewOp) -> Result<Vec<usize>> {
    match v {
        ViewOp::Reshape(to) => {
            if to.iter().product::<usize>() != s.iter().product::<usize>() {
                return Err(Error::shapes("reshape", s, to, "element counts differ"));
            }
            Ok(to.clone())
        }
        ViewOp::Permute(p) => {
            let mut seen = vec![false; s.len()];
            for &i in p {
                if i >= s.len() || std::mem::replace(&mut seen[i], true) {
                    return Err(Error::arg(
                        "permute",
                        format!("{p:?} is not a permutation of {} dims", s.len()),
                    ));
                }
            }
            if p.len() != s.len() {
                return Err(Error::arg(
                    "permute",
                    format!("{p:?} is not a permutation of {} dims", s.len()),
                ));
            }
            Ok(p.iter().map(|&i| s[i]).collect())
        }
        ViewOp::Expand(to) => {
            let ok = to.len() == s.len() && s.iter().zip(to).all(|(&a, &b)| a == b || a == 1);
            if !ok {
                return Err(Error::shapes("expand", s, to, "only size-1 dims can be expanded"));
            }
            Ok(to.clone())
        }
        ViewOp::Slice(spec) => {
            if spec.len() != s.len() {
                return Err(Error::arg(op, "one slice per dim is needed"));
            }
            for (i, &(start, step, len)) in spec.iter().enumerate() {
                let last = start as isize + (len as isize - 1) * step;
                if len > 0 && (start >= s[i] || last < 0 || last >= s[i] as isize) || step == 0 {
                    return Err(Error::arg(
                        "slice",
                        format!("slice {start}:{step}:{len} is outside dim {i} of {s:?}"),
                    ));
                }
            }
            Ok(spec.iter().map(|&(_, _, len)| len).collect())
        }
        ViewOp::AsStrided { shape, strides, offset } => {
            let v = View {
                shape: shape.clone(),
                strides: strides.clone(),
                offset: *offset,
            };
            let n = s.iter().product::<usize>() as isize;
            if let Some((lo, hi)) = v.span() {
                if lo < 0 || hi > n {
                    return Err(Error::shapes(
                        "as_strided",
                        s,
                        shape,
                        "the window reaches outside the input",
                    ));
                }
            }
            Ok(shape.clone())
        }
    }
}
