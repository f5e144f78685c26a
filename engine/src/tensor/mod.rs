//! [`Tensor`]: a cheap handle to a lazy graph node. Ops build nodes (checking
//! shapes at once) and nothing runs until a value is needed.

mod creation;
mod device;
mod prim;

use crate::backend::cpu;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Device, NodeRef, Realized};
use crate::runtime::runtime;
use crate::schedule::{self, Schedule};
use crate::storage::HostElement;

/// An n-dimensional array: lazy until realized, cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Tensor(pub(crate) NodeRef);

/// Generates the ergonomic form of `try_` methods: same arguments, panics
/// with the error's message (at the caller's line) instead of returning it.
macro_rules! panicking {
    ($( $name:ident => $try:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        impl Tensor {
            $(
                #[doc = concat!("Like [`Tensor::", stringify!($try), "`], but panics with the error message.")]
                #[track_caller]
                pub fn $name(&self, $($arg: $ty),*) -> $ret {
                    match self.$try($($arg),*) {
                        Ok(v) => v,
                        Err(e) => panic!("{e}"),
                    }
                }
            )*
        }
    };
}
pub(crate) use panicking;

/// Unwraps a result at the user's line with the error's message.
#[track_caller]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

impl Tensor {
    /// The graph node behind this handle (for autograd and the backends).
    pub fn node(&self) -> &NodeRef {
        &self.0
    }

    /// Wraps a node.
    pub fn from_node(node: NodeRef) -> Tensor {
        Tensor(node)
    }

    /// The extent of each dim.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// Where the data lives.
    pub fn device(&self) -> Device {
        self.0.device()
    }

    /// True once the data exists (no pending ops).
    pub fn is_realized(&self) -> bool {
        self.0.is_realized()
    }

    /// The size of dim `d` (negative counts from the end).
    pub fn try_dim(&self, d: isize) -> Result<usize> {
        Ok(self.shape()[crate::shape::normalize_axis("dim", d, self.rank())?])
    }

    /// The plan that realizing this tensor would run: kernels (after fusion),
    /// buffers and bytes. Nothing runs.
    pub fn try_schedule(&self) -> Result<Schedule> {
        schedule::build(std::slice::from_ref(&self.0))
    }

    /// Computes the data now (no-op when realized).
    pub fn try_realize(&self) -> Result<()> {
        realize_all(&[self])
    }

    /// Realizes and returns the tensor (a clone of the handle).
    #[track_caller]
    pub fn realize(&self) -> Tensor {
        or_panic(self.try_realize());
        self.clone()
    }

    /// The elements in row-major order, converted to `T` if the dtype differs.
    pub fn try_to_vec<T: HostElement>(&self) -> Result<Vec<T>> {
        if self.device().is_gpu() {
            return self.try_to_device(Device::Cpu)?.try_to_vec();
        }
        let t = if self.dtype() == T::DTYPE {
            self.clone()
        } else {
            self.try_to_dtype(T::DTYPE)?
        };
        t.try_realize()?;
        let Realized { buffer, view } = t.0.realized().expect("just realized");
        let data = T::view(buffer.host()).expect("realized with its own dtype");
        let mut out = Vec::with_capacity(view.numel());
        cpu::gather_range(data, &cpu::simplify(&view), 0, view.numel(), |x| x, &mut out);
        Ok(out)
    }

    /// The elements as f64, whatever the dtype (bools are 0/1).
    pub fn try_to_vec_f64(&self) -> Result<Vec<f64>> {
        self.try_to_vec::<f64>()
    }

    /// The single element of a one-element tensor.
    pub fn try_item<T: HostElement>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::arg(
                "item",
                format!("needs exactly one element, the shape is {:?}", self.shape()),
            ));
        }
        Ok(self.try_to_vec::<T>()?[0])
    }

    /// Like [`Tensor::try_to_vec`], but panics with the error message.
    #[track_caller]
    pub fn to_vec<T: HostElement>(&self) -> Vec<T> {
        or_panic(self.try_to_vec())
    }

    /// Like [`Tensor::try_to_vec_f64`], but panics with the error message.
    #[track_caller]
    pub fn to_vec_f64(&self) -> Vec<f64> {
        or_panic(self.try_to_vec_f64())
    }

    /// Like [`Tensor::try_item`], but panics with the error message.
    #[track_caller]
    pub fn item<T: HostElement>(&self) -> T {
        or_panic(self.try_item())
    }

    /// Like [`Tensor::try_schedule`], but panics with the error message.
    #[track_caller]
    pub fn schedule(&self) -> Schedule {
        or_panic(self.try_schedule())
    }

    /// Like [`Tensor::try_dim`], but panics with the error message.
    #[track_caller]
    pub fn dim(&self, d: isize) -> usize {
        or_panic(self.try_dim(d))
    }

    /// The element type's Rust type name check: true if the dtype is `T`'s.
    pub fn is<T: Element>(&self) -> bool {
        self.dtype() == T::DTYPE
    }
}

/// Realizes several tensors in one schedule (shared work is computed once).
pub fn realize_all(tensors: &[&Tensor]) -> Result<()> {
    let nodes: Vec<NodeRef> = tensors.iter().map(|t| t.0.clone()).collect();
    let (sched, reused) = schedule::build_cached(&nodes)?;
    if sched.outputs.is_empty() {
        return Ok(());
    }
    let rt = runtime();
    let device = nodes[0].device();
    if nodes.iter().any(|n| n.device() != device) {
        // One schedule runs on one device: realize each device's tensors apart.
        for d in nodes
            .iter()
            .map(|n| n.device())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let mine: Vec<&Tensor> = tensors.iter().copied().filter(|t| t.device() == d).collect();
            realize_all(&mine)?;
        }
        return Ok(());
    }
    let buffers = match device {
        Device::Cpu => cpu::execute(&sched, rt, rt.host_pool(), rt.interrupt_flag())?,
        Device::Gpu(i) => crate::backend::gpu::execute(&sched, rt.gpu(i)?)?,
    };
    if !sched.kernels.is_empty() {
        rt.count_realize(sched.kernels.len(), sched.bytes_allocated(), reused);
    }
    for (node, slot, view) in &sched.outputs {
        node.set_realized(Realized {
            buffer: buffers[slot].clone(),
            view: view.clone(),
        });
    }
    Ok(())
}
