//! Reductions and the ops built on them: mean, var/std, logsumexp, softmax,
//! arg-reductions, sorting, top-k and prefix sums.

use crate::dtype::{DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{OpKind, ReduceOp};
use crate::shape::{normalize_axis, Dims};
use crate::tensor::{panicking, Tensor};

impl Tensor {
    /// Resolved axes; an empty list on a 0-d tensor reduces nothing.
    fn axes(&self, op: &'static str, dims: Dims) -> Result<Vec<usize>> {
        if self.rank() == 0 {
            for &d in &dims.0 {
                normalize_axis(op, d, 0)?;
            }
            return Ok(vec![]);
        }
        dims.resolve(op, self.rank())
    }

    fn all_axes(&self) -> Vec<isize> {
        (0..self.rank() as isize).collect()
    }

    /// Sum over `dims` (ints and bools sum as i64, as in PyTorch).
    pub fn try_sum(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let axes = self.axes("sum", dims.into())?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.try_to_dtype(DType::I64)?
        };
        x.reduce(ReduceOp::Sum, &axes, keepdim)
    }

    /// Product over `dims` (ints and bools as i64).
    pub fn try_prod(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let axes = self.axes("prod", dims.into())?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.try_to_dtype(DType::I64)?
        };
        x.reduce(ReduceOp::Prod, &axes, keepdim)
    }

    /// Mean over `dims`; floats only (as in PyTorch).
    pub fn try_mean(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                op: "mean",
                dtype: self.dtype(),
                reason: "mean needs a float tensor; cast with to_dtype first".into(),
            });
        }
        let axes = self.axes("mean", dims.into())?;
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        let s = self.reduce(ReduceOp::Sum, &axes, keepdim)?;
        s.try_div(&s.scalar_operand(Scalar::Float(n as f64)))
    }

    fn extreme(&self, op: ReduceOp, name: &'static str, dims: Dims, keepdim: bool) -> Result<Tensor> {
        let axes = self.axes(name, dims)?;
        if axes.iter().any(|&a| self.shape()[a] == 0) {
            return Err(Error::arg(
                name,
                format!("cannot reduce an empty dim of {:?}", self.shape()),
            ));
        }
        self.reduce(op, &axes, keepdim)
    }

    /// Maximum over `dims` (NaN propagates).
    pub fn try_max(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.extreme(ReduceOp::Max, "max", dims.into(), keepdim)
    }

    /// Minimum over `dims` (NaN propagates).
    pub fn try_min(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.extreme(ReduceOp::Min, "min", dims.into(), keepdim)
    }

    /// Variance with `correction` (1 = unbiased, PyTorch's default).
    pub fn try_var_correction(&self, dims: impl Into<Dims>, correction: usize, keepdim: bool) -> Result<Tensor> {
        let x = self.float()?;
        let dims = dims.into();
        let axes = x.axes("var", dims.clone())?;
        let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
        let mean = x.try_mean(dims.clone(), true)?;
        let d = x.try_sub(&mean)?;
        let ss = d.try_mul(&d)?.try_sum(dims, keepdim)?;
        let denom = n as f64 - correction as f64;
        ss.try_div(&ss.scalar_operand(Scalar::Float(denom.max(0.0))))
    }

    /// Unbiased variance.
    pub fn try_var(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.try_var_correction(dims, 1, keepdim)
    }

    /// Standard deviation with `correction`.
    pub fn try_std_correction(&self, dims: impl Into<Dims>, correction: usize, keepdim: bool) -> Result<Tensor> {
        self.try_var_correction(dims, correction, keepdim)?.try_sqrt()
    }

    /// Unbiased standard deviation.
    pub fn try_std(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        self.try_std_correction(dims, 1, keepdim)
    }

    /// `log(sum(exp(x)))`, computed stably by shifting by the max.
    pub fn try_logsumexp(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let x = self.float()?;
        let dims = dims.into();
        let axes = x.axes("logsumexp", dims.clone())?;
        if axes.iter().any(|&a| x.shape()[a] == 0) {
            // An empty sum is 0, so the result is log(0) = -inf (no max to shift by).
            return x.try_exp()?.try_sum(dims, keepdim)?.try_log();
        }
        // The shift cancels out of the value, so it carries no gradient: detached, backward
        // skips the max (fewer kernels, and no arg-max ties to split).
        let m = x.try_max(dims.clone(), true)?.detach();
        // An all -inf row would give inf - inf; shift by 0 there instead.
        let finite = m.try_abs()?.try_lt(&m.scalar_operand(Scalar::Float(f64::INFINITY)))?;
        let m = finite.try_where_cond(&m, &m.zeros_like())?;
        let s = x
            .try_sub(&m)?
            .try_exp()?
            .try_sum(dims.clone(), true)?
            .try_log()?
            .try_add(&m)?;
        if keepdim {
            Ok(s)
        } else {
            s.try_squeeze_axes(&axes)
        }
    }

    /// True where every element along `dims` is non-zero.
    pub fn try_all(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let axes = self.axes("all", dims.into())?;
        self.try_ne(&self.scalar_operand(Scalar::Int(0)))?
            .reduce(ReduceOp::Min, &axes, keepdim)
    }

    /// True where any element along `dims` is non-zero.
    pub fn try_any(&self, dims: impl Into<Dims>, keepdim: bool) -> Result<Tensor> {
        let axes = self.axes("any", dims.into())?;
        self.try_ne(&self.scalar_operand(Scalar::Int(0)))?
            .reduce(ReduceOp::Max, &axes, keepdim)
    }

    /// Sum of every element (0-d).
    pub fn try_sum_all(&self) -> Result<Tensor> {
        self.try_sum(self.all_axes(), false)
    }
    /// Mean of every element (0-d).
    pub fn try_mean_all(&self) -> Result<Tensor> {
        self.try_mean(self.all_axes(), false)
    }
    /// Largest element (0-d).
    pub fn try_max_all(&self) -> Result<Tensor> {
        self.try_max(self.all_axes(), false)
    }
    /// Smallest element (0-d).
    pub fn try_min_all(&self) -> Result<Tensor> {
        self.try_min(self.all_axes(), false)
    }

    fn arg(&self, max: bool, dim: isize, keepdim: bool) -> Result<Tensor> {
        let name = if max { "argmax" } else { "argmin" };
        let axis = normalize_axis(name, dim, self.rank())?;
        if self.rank() > 0 && self.shape()[axis] == 0 {
            return Err(Error::arg(
                name,
                format!("cannot take {name} of an empty dim of {:?}", self.shape()),
            ));
        }
        let x = if self.rank() == 0 {
            self.try_reshape([1])?
        } else {
            self.clone()
        };
        let out = Tensor::lazy(OpKind::ArgReduce { max, axis }, &[&x])?;
        if keepdim && self.rank() > 0 {
            Ok(out)
        } else {
            out.try_squeeze_axes(&[axis])
        }
    }

    /// Index of the largest element along `dim` (first on ties), i64.
    pub fn try_argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg(true, dim, keepdim)
    }

    /// Index of the smallest element along `dim`, i64.
    pub fn try_argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg(false, dim, keepdim)
    }

    /// `exp(x) / sum(exp(x))` along `dim`, shifted by the max for stability.
    pub fn try_softmax(&self, dim: isize) -> Result<Tensor> {
        let x = self.float()?;
        // The shift cancels out (no gradient through it: detached).
        let e = x.try_sub(&x.try_max(dim, true)?.detach())?.try_exp()?;
        e.try_div(&e.try_sum(dim, true)?)
    }

    /// `x - logsumexp(x)` along `dim`.
    pub fn try_log_softmax(&self, dim: isize) -> Result<Tensor> {
        let x = self.float()?;
        x.try_sub(&x.try_logsumexp(dim, true)?)
    }

    /// Inclusive prefix sum along `dim` (ints and bools as i64).
    pub fn try_cumsum(&self, dim: isize) -> Result<Tensor> {
        let axis = normalize_axis("cumsum", dim, self.rank())?;
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.try_to_dtype(DType::I64)?
        };
        if x.rank() == 0 {
            return Ok(x);
        }
        Tensor::lazy(OpKind::Cumsum { axis }, &[&x])
    }

    /// Stable sort order along `dim` (i64 indices; NaN sorts last).
    pub fn try_argsort(&self, dim: isize, descending: bool) -> Result<Tensor> {
        let axis = normalize_axis("argsort", dim, self.rank())?;
        if self.rank() == 0 {
            return Ok(Tensor::zeros([], DType::I64));
        }
        Tensor::lazy(OpKind::Argsort { axis, descending }, &[self])
    }

    /// Sorted values and their original indices along `dim`.
    pub fn try_sort(&self, dim: isize, descending: bool) -> Result<(Tensor, Tensor)> {
        let idx = self.try_argsort(dim, descending)?;
        if self.rank() == 0 {
            return Ok((self.clone(), idx));
        }
        Ok((self.try_gather(dim, &idx)?, idx))
    }

    /// The `k` largest (or smallest) values along `dim`, sorted, with their indices.
    pub fn try_topk(&self, k: usize, dim: isize, largest: bool) -> Result<(Tensor, Tensor)> {
        let axis = normalize_axis("topk", dim, self.rank())?;
        let n = if self.rank() == 0 { 1 } else { self.shape()[axis] };
        if k > n {
            return Err(Error::arg(
                "topk",
                format!("k = {k} is larger than dim {dim} of size {n}"),
            ));
        }
        let idx = self.try_argsort(dim, largest)?.try_narrow(dim, 0, k)?;
        Ok((self.try_gather(dim, &idx)?, idx))
    }
}

panicking! {
    sum => try_sum(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    prod => try_prod(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    mean => try_mean(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    max => try_max(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    min => try_min(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    var => try_var(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    std => try_std(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    var_correction => try_var_correction(dims: impl Into<Dims>, correction: usize, keepdim: bool) -> Tensor;
    std_correction => try_std_correction(dims: impl Into<Dims>, correction: usize, keepdim: bool) -> Tensor;
    logsumexp => try_logsumexp(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    all => try_all(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    any => try_any(dims: impl Into<Dims>, keepdim: bool) -> Tensor;
    sum_all => try_sum_all() -> Tensor;
    mean_all => try_mean_all() -> Tensor;
    max_all => try_max_all() -> Tensor;
    min_all => try_min_all() -> Tensor;
    argmax => try_argmax(dim: isize, keepdim: bool) -> Tensor;
    argmin => try_argmin(dim: isize, keepdim: bool) -> Tensor;
    softmax => try_softmax(dim: isize) -> Tensor;
    log_softmax => try_log_softmax(dim: isize) -> Tensor;
    cumsum => try_cumsum(dim: isize) -> Tensor;
    argsort => try_argsort(dim: isize, descending: bool) -> Tensor;
    sort => try_sort(dim: isize, descending: bool) -> (Tensor, Tensor);
    topk => try_topk(k: usize, dim: isize, largest: bool) -> (Tensor, Tensor);
}
