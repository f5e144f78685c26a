//! Building primitive nodes: broadcasting and dtype promotion made explicit,
//! shape rules checked, and movements of realized data applied as views at once.

use super::Tensor;
use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::graph::Node;
use crate::ops::{BinaryOp, OpKind, ReduceOp, UnaryOp, ViewOp};
use crate::shape::broadcast_shapes;

/// The dtype two operands meet at: PyTorch's rule, where a 0-d tensor does not
/// widen a dimensioned one of the same category (`f16 tensor * f32 scalar` stays f16).
pub(crate) fn result_type(a: &Tensor, b: &Tensor) -> DType {
    let cat = |d: DType| {
        if d.is_float() {
            2
        } else if d.is_int() {
            1
        } else {
            0
        }
    };
    let (da, db) = (a.dtype(), b.dtype());
    match (a.rank() == 0, b.rank() == 0) {
        (true, false) if cat(da) <= cat(db) => db,
        (false, true) if cat(db) <= cat(da) => da,
        _ => DType::promote(da, db),
    }
}

impl Tensor {
    /// Builds a node after checking the op's shape rule.
    pub(crate) fn lazy(kind: OpKind, inputs: &[&Tensor]) -> Result<Tensor> {
        let sig: Vec<(&[usize], DType)> = inputs.iter().map(|t| (t.shape(), t.dtype())).collect();
        let (shape, dtype) = kind.infer(&sig)?;
        let mut devices = inputs.iter().filter(|t| !t.0.is_host_constant()).map(|t| t.device());
        if let Some(first) = devices.next() {
            if let Some(other) = devices.find(|&d| d != first) {
                return Err(crate::error::Error::arg(
                    kind.name(),
                    format!(
                        "the operands are on different devices ({first} and {other}): move one with \
                         `.to_device(Device::{})`",
                        if first.is_gpu() { "Cpu" } else { "gpu(0)" }
                    ),
                ));
            }
            if let crate::graph::Device::Gpu(_) = first {
                crate::backend::gpu::check_dtype(dtype, kind.name())?;
            }
        }
        let nodes = inputs.iter().map(|t| t.0.clone()).collect();
        Ok(Tensor::tracked(Node::lazy(kind, nodes, shape, dtype)))
    }

    /// The same values with no gradient history: on realized data a new leaf sharing the
    /// buffer (the graph behind is cut); on a lazy tensor a node over the same computation
    /// that gradients do not flow through (see `crate::autograd`).
    pub fn detach(&self) -> Tensor {
        if let Some(r) = self.0.realized() {
            return Tensor(Node::leaf(r.buffer, r.view, self.dtype()));
        }
        let shape = self.shape().to_vec();
        Tensor(Node::lazy(
            OpKind::View(ViewOp::Reshape(shape.clone())),
            vec![self.0.clone()],
            shape,
            self.dtype(),
        ))
    }

    /// Marks a new node for autograd when gradients flow into it: a float result of an
    /// input that requires grad, built outside `no_grad`.
    fn tracked(node: crate::graph::NodeRef) -> Tensor {
        if node.dtype.is_float()
            && node.inputs.iter().any(|i| i.requires_grad())
            && crate::runtime::runtime().grad_enabled()
        {
            node.set_requires_grad(true);
        }
        Tensor(node)
    }

    /// A movement; on realized data it is a new view of the same buffer (no copy, no kernel).
    pub(crate) fn view_op(&self, v: ViewOp) -> Result<Tensor> {
        let kind = OpKind::View(v.clone());
        kind.infer(&[(self.shape(), self.dtype())])?;
        if let Some(r) = self.0.realized() {
            if let Some(view) = r.view.apply(&v) {
                return Ok(Tensor::tracked(Node::with_data(
                    kind,
                    vec![self.0.clone()],
                    r.buffer,
                    view,
                    self.dtype(),
                )));
            }
        }
        Tensor::lazy(kind, &[self])
    }

    /// Converts to `dtype` (no node when it already is).
    pub fn try_to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if self.dtype() == dtype {
            return Ok(self.clone());
        }
        // A host constant converts now (one element, `as` semantics as in a kernel), so an
        // f64 constant such as an eps never becomes a load of f64 in a GPU kernel. (Not to
        // f16/bf16: a kernel rounds through f32 there.)
        if let (false, Some(r), false) = (
            self.0.requires_grad(),
            self.0.realized(),
            matches!(dtype, DType::F16 | DType::BF16),
        ) {
            if r.buffer.len() == 1 && !r.buffer.device().is_gpu() {
                let value = r.buffer.host().scalar_at(0);
                return Ok(Tensor::full_scalar(self.shape(), value, dtype));
            }
        }
        Tensor::lazy(OpKind::Cast(dtype), &[self])
    }

    /// Converts integer and bool tensors to f32, for ops defined on floats.
    pub(crate) fn float(&self) -> Result<Tensor> {
        if self.dtype().is_float() {
            Ok(self.clone())
        } else {
            self.try_to_dtype(DType::F32)
        }
    }

    /// A unary primitive; float-only ops cast integer input to f32 first.
    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let x = if op.float_only() { self.float()? } else { self.clone() };
        Tensor::lazy(OpKind::Unary(op), &[&x])
    }

    /// Broadcasts to `shape` (a view: no copy).
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let out = broadcast_shapes("broadcast_to", self.shape(), shape)?;
        if out != shape {
            return Err(crate::error::Error::shapes(
                "broadcast_to",
                self.shape(),
                shape,
                "the tensor is larger than the target",
            ));
        }
        let mut padded = vec![1; shape.len() - self.rank()];
        padded.extend_from_slice(self.shape());
        let x = if padded.as_slice() == self.shape() {
            self.clone()
        } else {
            self.view_op(ViewOp::Reshape(padded))?
        };
        x.view_op(ViewOp::Expand(shape.to_vec()))
    }

    /// Both operands broadcast to one shape and cast to `dtype`.
    pub(crate) fn align(op: &'static str, a: &Tensor, b: &Tensor, dtype: DType) -> Result<(Tensor, Tensor)> {
        let shape = broadcast_shapes(op, a.shape(), b.shape())?;
        let a = a.try_to_dtype(dtype)?.try_broadcast_to(&shape)?;
        let b = b.try_to_dtype(dtype)?.try_broadcast_to(&shape)?;
        Ok((a, b))
    }

    /// A binary primitive with broadcasting and promotion.
    pub(crate) fn binary(&self, op: BinaryOp, other: &Tensor, name: &'static str) -> Result<Tensor> {
        let mut dtype = result_type(self, other);
        if op == BinaryOp::Div && !dtype.is_float() {
            dtype = DType::F32;
        }
        if op.is_logical() {
            dtype = DType::Bool;
        }
        let (a, b) = Tensor::align(name, self, other, dtype)?;
        Tensor::lazy(OpKind::Binary(op), &[&a, &b])
    }

    /// A constant shaped like nothing (0-d) in `dtype`: broadcast where used.
    pub(crate) fn constant(value: Scalar, dtype: DType) -> Tensor {
        Tensor::full_scalar(&[], value, dtype)
    }

    /// A scalar operand for `self`: floats keep the tensor's float dtype,
    /// a float scalar with an integer tensor gives f32, as in PyTorch.
    pub(crate) fn scalar_operand(&self, value: Scalar) -> Tensor {
        let d = self.dtype();
        let dtype = match value {
            Scalar::Float(_) if !d.is_float() => DType::F32,
            Scalar::Int(_) if d == DType::Bool => DType::I64,
            _ => d,
        };
        Tensor::constant(value, dtype)
    }

    /// `self ? a : b` elementwise with broadcasting; `self` is a bool mask.
    pub fn try_where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        let cond = if self.dtype() == DType::Bool {
            self.clone()
        } else {
            self.try_ne(&Tensor::constant(Scalar::Int(0), self.dtype()))?
        };
        let dtype = result_type(on_true, on_false);
        let shape = broadcast_shapes("where", on_true.shape(), on_false.shape())?;
        let shape = broadcast_shapes("where", cond.shape(), &shape)?;
        let c = cond.try_broadcast_to(&shape)?;
        let a = on_true.try_to_dtype(dtype)?.try_broadcast_to(&shape)?;
        let b = on_false.try_to_dtype(dtype)?.try_broadcast_to(&shape)?;
        Tensor::lazy(OpKind::Where, &[&c, &a, &b])
    }

    /// A reduction primitive over resolved axes, dropping them unless `keepdim`.
    pub(crate) fn reduce(&self, op: ReduceOp, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        let out = Tensor::lazy(OpKind::Reduce(op, axes.to_vec()), &[self])?;
        if keepdim {
            return Ok(out);
        }
        let shape: Vec<usize> = (0..self.rank())
            .filter(|a| !axes.contains(a))
            .map(|a| self.shape()[a])
            .collect();
        out.view_op(ViewOp::Reshape(shape))
    }
}
