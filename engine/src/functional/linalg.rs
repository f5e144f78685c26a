//! Matrix products with NumPy's `matmul` rules: 1-D operands are promoted
//! (and the added dim removed after), batch dims broadcast.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::OpKind;
use crate::shape::broadcast_shapes;
use crate::tensor::{panicking, Tensor};

impl Tensor {
    /// Matrix product (`np.matmul` / `torch.matmul` semantics).
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.rank() == 0 || other.rank() == 0 {
            return Err(Error::shapes(
                "matmul",
                self.shape(),
                other.shape(),
                "0-d operands are not matrices; use mul",
            ));
        }
        let a = if self.rank() == 1 {
            self.try_unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.try_unsqueeze(-1)?
        } else {
            other.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
        let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
        if k != k2 {
            return Err(Error::shapes(
                "matmul",
                self.shape(),
                other.shape(),
                format!("inner dims differ: {k} vs {k2}"),
            ));
        }
        let batch = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2])
            .map_err(|_| Error::shapes("matmul", self.shape(), other.shape(), "batch dims cannot broadcast"))?;
        let mut dtype = DType::promote(a.dtype(), b.dtype());
        if dtype == DType::Bool {
            dtype = DType::I64;
        }
        let shape_a: Vec<usize> = batch.iter().copied().chain([m, k]).collect();
        let shape_b: Vec<usize> = batch.iter().copied().chain([k, n]).collect();
        let a = a.try_to_dtype(dtype)?.try_broadcast_to(&shape_a)?;
        let b = b.try_to_dtype(dtype)?.try_broadcast_to(&shape_b)?;
        let mut out = Tensor::lazy(OpKind::MatMul, &[&a, &b])?;
        if other.rank() == 1 {
            out = out.try_squeeze(-1)?;
        }
        if self.rank() == 1 {
            out = out.try_squeeze(if other.rank() == 1 { -1 } else { -2 })?;
        }
        Ok(out)
    }

    /// Outer product of two vectors.
    pub fn try_outer(&self, other: &Tensor) -> Result<Tensor> {
        if self.rank() != 1 || other.rank() != 1 {
            return Err(Error::shapes(
                "outer",
                self.shape(),
                other.shape(),
                "both operands must be 1-D",
            ));
        }
        self.try_unsqueeze(1)?.try_mul(&other.try_unsqueeze(0)?)
    }
}

panicking! {
    matmul => try_matmul(other: &Tensor) -> Tensor;
    outer => try_outer(other: &Tensor) -> Tensor;
}
