//! Movement ops. Most are views (reshape, permute, expand, slice, flip...),
//! which cost nothing on realized data; pad and cat copy.

use crate::dtype::Scalar;
use crate::error::{Error, Result};
use crate::ops::{OpKind, ViewOp};
use crate::shape::{normalize_axis, Dims, Shape, ShapeSpec};
use crate::tensor::{or_panic, panicking, Tensor};
use std::ops::{Bound, RangeBounds};

/// Resolves a NumPy slice `start:stop:step` on a dim of size `n` into `(start, len)`.
fn resolve_slice(n: usize, start: Option<isize>, stop: Option<isize>, step: isize) -> (usize, usize) {
    let n = n as isize;
    let fix = |v: isize, lo: isize, hi: isize| {
        let v = if v < 0 { v + n } else { v };
        v.clamp(lo, hi)
    };
    let (start, stop) = if step > 0 {
        (start.map_or(0, |s| fix(s, 0, n)), stop.map_or(n, |s| fix(s, 0, n)))
    } else {
        (
            start.map_or(n - 1, |s| fix(s, -1, n - 1)),
            stop.map_or(-1, |s| fix(s, -1, n - 1)),
        )
    };
    let len = if step > 0 {
        (stop - start + step - 1).div_euclid(step).max(0)
    } else {
        (start - stop - step - 1).div_euclid(-step).max(0)
    };
    (start.max(0) as usize, len as usize)
}

impl Tensor {
    /// Same elements, new shape (one dim may be -1). A view when the strides allow.
    pub fn try_reshape(&self, shape: impl Into<ShapeSpec>) -> Result<Tensor> {
        let shape = shape.into().resolve("reshape", self.shape())?;
        if shape == self.shape() {
            return Ok(self.clone());
        }
        self.view_op(ViewOp::Reshape(shape))
    }

    /// Reorders dims: output dim `i` is input dim `dims[i]`.
    pub fn try_permute(&self, dims: impl Into<Dims>) -> Result<Tensor> {
        let dims = dims.into();
        if dims.0.len() != self.rank() {
            return Err(Error::arg(
                "permute",
                format!("{:?} does not name all {} dims", dims.0, self.rank()),
            ));
        }
        let perm = dims.resolve_ordered("permute", self.rank())?;
        self.view_op(ViewOp::Permute(perm))
    }

    /// Swaps two dims.
    pub fn try_transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let a = normalize_axis("transpose", d0, self.rank())?;
        let b = normalize_axis("transpose", d1, self.rank())?;
        if self.rank() < 2 {
            return Ok(self.clone());
        }
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.view_op(ViewOp::Permute(perm))
    }

    /// Transpose of a matrix (tensors of rank < 2 are returned as they are).
    pub fn try_t(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Ok(self.clone());
        }
        if self.rank() > 2 {
            return Err(Error::arg(
                "t",
                format!("expects rank <= 2, got shape {:?}; use transpose", self.shape()),
            ));
        }
        self.try_transpose(0, -1)
    }

    /// Repeats size-1 dims (and adds leading dims) to reach `shape`; a view.
    pub fn try_expand(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        self.try_broadcast_to(&shape.into())
    }

    /// Removes the dim `dim` if it has size 1 (otherwise returns the tensor as it is, like PyTorch).
    pub fn try_squeeze(&self, dim: isize) -> Result<Tensor> {
        let a = normalize_axis("squeeze", dim, self.rank())?;
        if self.rank() == 0 || self.shape()[a] != 1 {
            return Ok(self.clone());
        }
        self.try_squeeze_axes(&[a])
    }

    /// Removes every size-1 dim.
    pub fn try_squeeze_all(&self) -> Result<Tensor> {
        let shape: Vec<usize> = self.shape().iter().copied().filter(|&d| d != 1).collect();
        self.try_reshape(shape)
    }

    /// Removes the given size-1 axes.
    pub(crate) fn try_squeeze_axes(&self, axes: &[usize]) -> Result<Tensor> {
        let shape: Vec<usize> = (0..self.rank())
            .filter(|a| !axes.contains(a))
            .map(|a| self.shape()[a])
            .collect();
        self.try_reshape(shape)
    }

    /// Inserts a size-1 dim at `dim` (`-1` appends).
    pub fn try_unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let a = normalize_axis("unsqueeze", dim, self.rank() + 1)?;
        let mut shape = self.shape().to_vec();
        shape.insert(a, 1);
        self.try_reshape(shape)
    }

    /// Merges dims `start..=end` into one.
    pub fn try_flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.try_reshape([1]);
        }
        let s = normalize_axis("flatten", start, self.rank())?;
        let e = normalize_axis("flatten", end, self.rank())?;
        if s > e {
            return Err(Error::arg(
                "flatten",
                format!("start dim {start} comes after end dim {end}"),
            ));
        }
        let mut shape = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.try_reshape(shape)
    }

    /// NumPy slicing on one dim: `x.slice(0, 1..-1, 2)`, `x.slice(1, .., -1)` (reversed).
    /// Bounds may be negative and are clamped; a view.
    pub fn try_slice(&self, dim: isize, range: impl RangeBounds<isize>, step: isize) -> Result<Tensor> {
        let a = normalize_axis("slice", dim, self.rank())?;
        if step == 0 {
            return Err(Error::arg("slice", "step must not be zero"));
        }
        let start = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => Some(s + 1),
            Bound::Unbounded => None,
        };
        let stop = match range.end_bound() {
            Bound::Included(&s) => Some(if s == -1 { isize::MAX } else { s + 1 }),
            Bound::Excluded(&s) => Some(s),
            Bound::Unbounded => None,
        };
        let (s, len) = resolve_slice(self.shape()[a], start, stop, step);
        let spec = self
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &n)| if i == a { (s, step, len) } else { (0, 1, n) })
            .collect();
        self.view_op(ViewOp::Slice(spec))
    }

    /// `len` elements of `dim` starting at `start`; a view.
    pub fn try_narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let a = normalize_axis("narrow", dim, self.rank())?;
        if start + len > self.shape()[a] {
            return Err(Error::arg(
                "narrow",
                format!(
                    "{start}..{} is outside dim {dim} of size {}",
                    start + len,
                    self.shape()[a]
                ),
            ));
        }
        let spec = self
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &n)| if i == a { (start, 1, len) } else { (0, 1, n) })
            .collect();
        self.view_op(ViewOp::Slice(spec))
    }

    /// Reverses the given dims; a view.
    pub fn try_flip(&self, dims: impl Into<Dims>) -> Result<Tensor> {
        let axes = dims.into().resolve("flip", self.rank())?;
        let spec = self
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if axes.contains(&i) && n > 0 {
                    (n - 1, -1, n)
                } else {
                    (0, 1, n)
                }
            })
            .collect();
        self.view_op(ViewOp::Slice(spec))
    }

    /// Joins tensors along `dim` (dtypes are promoted to a common one).
    pub fn try_cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::arg("cat", "needs at least one tensor"))?;
        let axis = normalize_axis("cat", dim, first.rank())?;
        let dtype = tensors
            .iter()
            .skip(1)
            .fold(first.dtype(), |d, t| crate::dtype::DType::promote(d, t.dtype()));
        let cast: Vec<Tensor> = tensors.iter().map(|t| t.try_to_dtype(dtype)).collect::<Result<_>>()?;
        if cast.len() == 1 {
            return Ok(cast[0].clone());
        }
        let refs: Vec<&Tensor> = cast.iter().collect();
        Tensor::lazy(OpKind::Cat { axis }, &refs)
    }

    /// Like [`Tensor::try_cat`], but panics with the error message.
    #[track_caller]
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Tensor {
        or_panic(Tensor::try_cat(tensors, dim))
    }

    /// Joins tensors of one shape along a new dim.
    pub fn try_stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::arg("stack", "needs at least one tensor"))?;
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(Error::shapes(
                    "stack",
                    first.shape(),
                    t.shape(),
                    "all tensors must have one shape",
                ));
            }
        }
        let a = normalize_axis("stack", dim, first.rank() + 1)? as isize;
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.try_unsqueeze(a)).collect::<Result<_>>()?;
        Tensor::try_cat(&parts.iter().collect::<Vec<_>>(), a)
    }

    /// Like [`Tensor::try_stack`], but panics with the error message.
    #[track_caller]
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Tensor {
        or_panic(Tensor::try_stack(tensors, dim))
    }

    /// Pieces of `size` along `dim` (the last may be smaller); views.
    pub fn try_split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        let a = normalize_axis("split", dim, self.rank())?;
        if size == 0 {
            return Err(Error::arg("split", "size must be positive"));
        }
        let n = self.shape()[a];
        (0..n.div_ceil(size).max(1))
            .map(|i| self.try_narrow(dim, (i * size).min(n), size.min(n.saturating_sub(i * size))))
            .collect()
    }

    /// `n` pieces along `dim` as `torch.chunk` makes them.
    pub fn try_chunk(&self, n: usize, dim: isize) -> Result<Vec<Tensor>> {
        let a = normalize_axis("chunk", dim, self.rank())?;
        if n == 0 {
            return Err(Error::arg("chunk", "the number of chunks must be positive"));
        }
        self.try_split(self.shape()[a].div_ceil(n).max(1), dim)
    }

    /// Constant padding of the last `pads.len()` dims, `(before, after)` each, in dim order.
    pub fn try_pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        let full = self.full_pads("pad", pads)?;
        let v = if self.dtype().is_float() {
            Scalar::Float(value)
        } else {
            Scalar::Int(value as i64)
        };
        if full.iter().all(|&(a, b)| a == 0 && b == 0) {
            return Ok(self.clone());
        }
        Tensor::lazy(OpKind::Pad { pads: full, value: v }, &[self])
    }

    fn full_pads(&self, op: &'static str, pads: &[(usize, usize)]) -> Result<Vec<(usize, usize)>> {
        if pads.len() > self.rank() {
            return Err(Error::arg(
                op,
                format!("{} pad pairs for a tensor of rank {}", pads.len(), self.rank()),
            ));
        }
        let mut full = vec![(0, 0); self.rank() - pads.len()];
        full.extend_from_slice(pads);
        Ok(full)
    }

    /// Reflection padding (NumPy `mode="reflect"`: the edge is not repeated).
    pub fn try_pad_reflect(&self, pads: &[(usize, usize)]) -> Result<Tensor> {
        let full = self.full_pads("pad_reflect", pads)?;
        let mut x = self.clone();
        for (axis, &(before, after)) in full.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            let n = x.shape()[axis];
            if before >= n || after >= n {
                return Err(Error::arg(
                    "pad_reflect",
                    format!("padding ({before}, {after}) must be smaller than dim {axis} of size {n}"),
                ));
            }
            let d = axis as isize;
            let mut parts = Vec::new();
            if before > 0 {
                parts.push(x.try_slice(d, 1..(before as isize + 1), 1)?.try_flip(d)?);
            }
            parts.push(x.clone());
            if after > 0 {
                parts.push(
                    x.try_slice(d, (n - 1 - after) as isize..(n as isize - 1), 1)?
                        .try_flip(d)?,
                );
            }
            x = Tensor::try_cat(&parts.iter().collect::<Vec<_>>(), d)?;
        }
        Ok(x)
    }

    /// Tiles the tensor `reps[i]` times along each dim (`torch.Tensor.repeat`).
    pub fn try_repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.rank() {
            return Err(Error::arg(
                "repeat",
                format!("{} repeats for a tensor of rank {}", reps.len(), self.rank()),
            ));
        }
        let mut shape = vec![1; reps.len() - self.rank()];
        shape.extend_from_slice(self.shape());
        // [a, b] repeated [r, s]: view as [1, a, 1, b], expand to [r, a, s, b], reshape.
        let mut inter = Vec::new();
        let mut expanded = Vec::new();
        for (&n, &r) in shape.iter().zip(reps) {
            inter.extend([1, n]);
            expanded.extend([r, n]);
        }
        let out: Vec<usize> = shape.iter().zip(reps).map(|(&n, &r)| n * r).collect();
        self.try_reshape(inter)?.try_broadcast_to(&expanded)?.try_reshape(out)
    }

    /// Keeps the lower triangle (`j <= i + k`) of the last two dims, zeroing the rest.
    pub fn try_tril(&self, k: isize) -> Result<Tensor> {
        self.triangle(k, true)
    }

    /// Keeps the upper triangle (`j >= i + k`) of the last two dims.
    pub fn try_triu(&self, k: isize) -> Result<Tensor> {
        self.triangle(k, false)
    }

    fn triangle(&self, k: isize, lower: bool) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(Error::arg(if lower { "tril" } else { "triu" }, "needs at least 2 dims"));
        }
        let (r, c) = (self.shape()[self.rank() - 2], self.shape()[self.rank() - 1]);
        let on = self.device();
        let i = Tensor::arange(0.0, r as f64, 1.0, crate::dtype::DType::I64)
            .try_to_device(on)?
            .try_reshape([r, 1])?;
        let j = Tensor::arange(0.0, c as f64, 1.0, crate::dtype::DType::I64)
            .try_to_device(on)?
            .try_reshape([1, c])?;
        let shifted = i.try_add(&Tensor::scalar(k as i64))?;
        let keep = if lower {
            j.try_le(&shifted)?
        } else {
            j.try_ge(&shifted)?
        };
        keep.try_where_cond(self, &self.zeros_like())?
            .try_broadcast_to(self.shape())
    }

    /// A contiguous copy when the tensor is a strided view; itself otherwise.
    pub fn try_contiguous(&self) -> Result<Tensor> {
        if let Some(r) = self.node().realized() {
            if r.view.is_contiguous() && r.view.numel() == r.buffer.len() {
                return Ok(self.clone());
            }
        }
        // A cast node to the same dtype is a plain copy kernel (`try_to_dtype` would skip it).
        let copy = Tensor::lazy(OpKind::Cast(self.dtype()), &[self])?;
        copy.try_realize()?;
        Ok(copy)
    }
}

panicking! {
    reshape => try_reshape(shape: impl Into<ShapeSpec>) -> Tensor;
    permute => try_permute(dims: impl Into<Dims>) -> Tensor;
    transpose => try_transpose(d0: isize, d1: isize) -> Tensor;
    t => try_t() -> Tensor;
    expand => try_expand(shape: impl Into<Shape>) -> Tensor;
    squeeze => try_squeeze(dim: isize) -> Tensor;
    squeeze_all => try_squeeze_all() -> Tensor;
    unsqueeze => try_unsqueeze(dim: isize) -> Tensor;
    flatten => try_flatten(start: isize, end: isize) -> Tensor;
    slice => try_slice(dim: isize, range: impl RangeBounds<isize>, step: isize) -> Tensor;
    narrow => try_narrow(dim: isize, start: usize, len: usize) -> Tensor;
    flip => try_flip(dims: impl Into<Dims>) -> Tensor;
    split => try_split(size: usize, dim: isize) -> Vec<Tensor>;
    chunk => try_chunk(n: usize, dim: isize) -> Vec<Tensor>;
    pad => try_pad(pads: &[(usize, usize)], value: f64) -> Tensor;
    pad_reflect => try_pad_reflect(pads: &[(usize, usize)]) -> Tensor;
    repeat => try_repeat(reps: &[usize]) -> Tensor;
    tril => try_tril(k: isize) -> Tensor;
    triu => try_triu(k: isize) -> Tensor;
    contiguous => try_contiguous() -> Tensor;
}

#[cfg(test)]
mod tests {
    use super::resolve_slice;

    #[test]
    fn numpy_slice_rules() {
        assert_eq!(resolve_slice(5, None, None, -1), (4, 5));
        assert_eq!(resolve_slice(5, Some(-2), None, 1), (3, 2));
        assert_eq!(resolve_slice(5, Some(1), Some(100), 2), (1, 2));
        assert_eq!(resolve_slice(5, Some(3), Some(0), -2), (3, 2));
        assert_eq!(resolve_slice(5, Some(3), Some(1), 1), (3, 0));
    }
}
