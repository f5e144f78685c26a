//! Creating tensors: from Rust data, constants, ranges and random draws.
//! Constants are one element broadcast by strides, so `zeros([4096, 4096])` allocates 4 bytes.

use super::{or_panic, Tensor};
use crate::dtype::{DType, Element, Scalar};
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::ops::View;
use crate::runtime::runtime;
use crate::shape::Shape;
use crate::storage::{Buffer, HostBuffer, HostElement};
use std::sync::Arc;

impl Tensor {
    /// A tensor holding `data` (row-major) with the given shape.
    pub fn try_from_vec<T: HostElement>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape: Shape = shape.into();
        if data.len() != shape.numel() {
            return Err(Error::arg(
                "from_vec",
                format!(
                    "{} elements cannot fill shape {:?} ({} elements)",
                    data.len(),
                    shape.0,
                    shape.numel()
                ),
            ));
        }
        Ok(Tensor::from_host(T::wrap(data), &shape))
    }

    /// Like [`Tensor::try_from_vec`], but panics with the error message.
    #[track_caller]
    pub fn from_vec<T: HostElement>(data: Vec<T>, shape: impl Into<Shape>) -> Tensor {
        or_panic(Tensor::try_from_vec(data, shape))
    }

    /// A tensor copied from a slice.
    #[track_caller]
    pub fn from_slice<T: HostElement>(data: &[T], shape: impl Into<Shape>) -> Tensor {
        or_panic(Tensor::try_from_vec(data.to_vec(), shape))
    }

    /// A 0-d tensor.
    pub fn scalar<T: HostElement>(value: T) -> Tensor {
        Tensor::from_host(T::wrap(vec![value]), &Shape(vec![]))
    }

    /// A realized tensor over a host buffer laid out contiguously, on the default device
    /// (dtypes the GPU backend has no kernels for stay on the CPU).
    pub(crate) fn from_host(buf: HostBuffer, shape: &[usize]) -> Tensor {
        let t = Tensor::host_leaf(buf, shape);
        match runtime().default_device() {
            crate::graph::Device::Gpu(_) if crate::backend::gpu::check_dtype(t.dtype(), "new").is_err() => t,
            device => or_panic(t.try_to_device(device)),
        }
    }

    /// Every element `value`: one stored element broadcast to `shape`.
    pub(crate) fn full_scalar(shape: &[usize], value: Scalar, dtype: DType) -> Tensor {
        let buf = Arc::new(Buffer::Host(HostBuffer::filled(dtype, 1, value), None));
        let view = View {
            shape: shape.to_vec(),
            strides: vec![0; shape.len()],
            offset: 0,
        };
        Tensor(Node::leaf(buf, view, dtype))
    }

    /// Every element `value`, converted to `dtype`.
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Tensor {
        let v = if dtype.is_float() {
            Scalar::Float(value)
        } else {
            Scalar::Int(value as i64)
        };
        Tensor::full_scalar(&shape.into(), v, dtype)
    }

    /// All zeros.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::full(shape, 0.0, dtype)
    }

    /// All ones.
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
    }

    /// Zeros with this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.dtype())
    }

    /// Ones with this tensor's shape and dtype.
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.shape(), self.dtype())
    }

    /// `value` with this tensor's shape and dtype.
    pub fn full_like(&self, value: f64) -> Tensor {
        Tensor::full(self.shape(), value, self.dtype())
    }

    /// Values from a function of the flat index, computed in f64.
    fn generate(shape: &[usize], dtype: DType, f: impl FnMut(usize) -> f64) -> Tensor {
        let data: Vec<f64> = (0..shape.iter().product()).map(f).collect();
        let t = Tensor::from_host(HostBuffer::F64(data), shape);
        if dtype == DType::F64 {
            return t;
        }
        // The values are small; converting eagerly keeps creation free of graph nodes.
        let t = or_panic(or_panic(t.try_to_dtype(dtype)).try_realize_detached());
        match runtime().default_device() {
            crate::graph::Device::Cpu => t,
            device => or_panic(t.try_to_device(device)),
        }
    }

    /// Realizes and returns a leaf holding the data (no link to the graph that made it).
    pub(crate) fn try_realize_detached(&self) -> Result<Tensor> {
        self.try_realize()?;
        let r = self.0.realized().expect("just realized");
        Ok(Tensor(Node::leaf(r.buffer, r.view, self.dtype())))
    }

    /// `start, start + step, ...` up to (not including) `end`, like `torch.arange`.
    pub fn try_arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::arg("arange", format!("bad range {start}..{end} step {step}")));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        Ok(Tensor::generate(&[n], dtype, |i| start + i as f64 * step))
    }

    /// Like [`Tensor::try_arange`], but panics with the error message.
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Tensor {
        or_panic(Tensor::try_arange(start, end, step, dtype))
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Tensor {
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        Tensor::generate(&[steps], dtype, |i| {
            if i + 1 == steps && steps > 1 {
                end
            } else {
                start + i as f64 * step
            }
        })
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize, dtype: DType) -> Tensor {
        Tensor::generate(&[n, n], dtype, |i| (i / n == i % n) as u8 as f64)
    }

    /// Uniform samples in `[0, 1)` from the runtime's generator (see [`crate::manual_seed`]);
    /// after the same seed, the same values as `torch.rand`.
    pub fn rand(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, dtype)
    }

    /// Uniform samples in `[low, high)` from the runtime's generator, drawn and rounded
    /// as `torch.empty(shape).uniform_(low, high)` does.
    pub fn uniform(shape: impl Into<Shape>, low: f64, high: f64, dtype: DType) -> Tensor {
        let shape = shape.into();
        runtime().with_rng(|r| Tensor::generate(&shape, dtype, |_| r.uniform_in(dtype, low, high)))
    }

    /// Standard normal samples from the runtime's generator; after the same seed, the same
    /// values as `torch.randn` (f64 exactly; f32 within ~1e-6: from 16 values on PyTorch uses
    /// vectorized `log`/`sincos` approximations).
    pub fn randn(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        let shape = shape.into();
        let values = runtime().with_rng(|r| r.normals(shape.iter().product(), dtype));
        Tensor::generate(&shape, dtype, |i| values[i])
    }

    /// A tensor of `T`s (dtype taken from the Rust type).
    pub fn full_of<T: Element>(shape: impl Into<Shape>, value: T) -> Tensor {
        Tensor::full_scalar(&shape.into(), value.to_scalar(), T::DTYPE)
    }
}
