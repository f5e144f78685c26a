//! Indexing: gather / scatter primitives and what is built from them.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::OpKind;
use crate::shape::normalize_axis;
use crate::tensor::{panicking, Tensor};

impl Tensor {
    fn indices(&self, op: &'static str) -> Result<Tensor> {
        if self.dtype().is_float() || self.dtype() == DType::Bool {
            return Err(Error::UnsupportedDType {
                op,
                dtype: self.dtype(),
                reason: "indices must be integers".into(),
            });
        }
        self.try_to_dtype(DType::I64)
    }

    /// `out[i][j] = x[i][index[i][j]]` along `dim` (`torch.gather`).
    pub fn try_gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let axis = normalize_axis("gather", dim, self.rank())?;
        let index = index.indices("gather")?;
        if index.rank() != self.rank() {
            return Err(Error::shapes(
                "gather",
                self.shape(),
                index.shape(),
                "index must have the input's rank",
            ));
        }
        for d in 0..self.rank() {
            if d != axis && index.shape()[d] > self.shape()[d] {
                return Err(Error::shapes(
                    "gather",
                    self.shape(),
                    index.shape(),
                    format!("index is larger on dim {d}"),
                ));
            }
        }
        Tensor::lazy(OpKind::Gather { axis }, &[self, &index])
    }

    fn scatter_impl(&self, dim: isize, index: &Tensor, src: &Tensor, add: bool) -> Result<Tensor> {
        let op = if add { "scatter_add" } else { "scatter" };
        let axis = normalize_axis(op, dim, self.rank())?;
        let index = index.indices(op)?;
        let src = src.try_to_dtype(self.dtype())?;
        // PyTorch reads only the index-shaped corner of src.
        let mut s = src;
        if s.rank() == index.rank() {
            for d in 0..s.rank() {
                if s.shape()[d] > index.shape()[d] {
                    s = s.try_narrow(d as isize, 0, index.shape()[d])?;
                }
            }
        }
        Tensor::lazy(OpKind::Scatter { axis, add }, &[self, &index, &s])
    }

    /// A copy with `src` written at `index` along `dim` (`torch.scatter`).
    pub fn try_scatter(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, false)
    }

    /// A copy with `src` added at `index` along `dim`; repeated indices accumulate.
    pub fn try_scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, true)
    }

    /// The entries `indices` (1-D) along `dim`.
    pub fn try_index_select(&self, dim: isize, indices: &Tensor) -> Result<Tensor> {
        let axis = normalize_axis("index_select", dim, self.rank())?;
        if indices.rank() != 1 {
            return Err(Error::shapes(
                "index_select",
                self.shape(),
                indices.shape(),
                "indices must be 1-D",
            ));
        }
        let k = indices.shape()[0];
        let mut view_shape = vec![1; self.rank()];
        view_shape[axis] = k;
        let mut shape = self.shape().to_vec();
        shape[axis] = k;
        let idx = indices
            .indices("index_select")?
            .try_reshape(view_shape)?
            .try_broadcast_to(&shape)?;
        self.try_gather(dim, &idx)
    }

    /// One-hot encoding of integer classes: a new last dim of `num_classes`, i64.
    pub fn try_one_hot(&self, num_classes: usize) -> Result<Tensor> {
        let idx = self.indices("one_hot")?;
        let classes = Tensor::arange(0.0, num_classes as f64, 1.0, DType::I64).try_to_device(self.device())?;
        idx.try_unsqueeze(-1)?.try_eq(&classes)?.try_to_dtype(DType::I64)
    }

    /// Rows of `weight` picked by these ids (`F.embedding(ids, weight)`).
    pub fn try_embedding(&self, weight: &Tensor) -> Result<Tensor> {
        if weight.rank() != 2 {
            return Err(Error::shapes(
                "embedding",
                self.shape(),
                weight.shape(),
                "weight must be [num, dim]",
            ));
        }
        let flat = self.try_reshape([-1])?;
        let mut shape = self.shape().to_vec();
        shape.push(weight.shape()[1]);
        weight.try_index_select(0, &flat)?.try_reshape(shape)
    }
}

panicking! {
    gather => try_gather(dim: isize, index: &Tensor) -> Tensor;
    scatter => try_scatter(dim: isize, index: &Tensor, src: &Tensor) -> Tensor;
    scatter_add => try_scatter_add(dim: isize, index: &Tensor, src: &Tensor) -> Tensor;
    index_select => try_index_select(dim: isize, indices: &Tensor) -> Tensor;
    one_hot => try_one_hot(num_classes: usize) -> Tensor;
    embedding => try_embedding(weight: &Tensor) -> Tensor;
}
