//! # Born: a lazy, fused tensor engine
//!
//! Tensor ops build a graph and run nothing until a value is needed
//! (`to_vec`, `item`, printing, `realize`). Realizing schedules the graph:
//! elementwise chains fuse into single loops, movement ops become strided
//! reads, temporary buffers are reused. See `ARCHITECTURE.md` for the map.
//!
//! ```
//! use born::prelude::*;
//! let a = Tensor::arange(0.0, 6.0, 1.0, DType::F32).reshape([2, 3]);
//! let b = (&a * 2.0).exp().sum(1, false);
//! assert_eq!(b.shape(), &[2]);
//! assert_eq!(b.schedule().kernel_count(), 1); // mul, exp and sum fuse into one kernel
//! ```
#![warn(missing_docs)]

pub mod autograd;
pub mod backend;
pub mod data;
pub mod display;
pub mod dtype;
pub mod error;
mod functional;
pub mod graph;
pub mod input;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod runtime;
pub mod schedule;
pub mod shape;
pub mod storage;
pub mod tensor;

pub use autograd::{assign_all, is_grad_enabled, no_grad, NoGradGuard};
pub use backend::gpu::GpuStats;
pub use dtype::{DType, Element, Scalar};
pub use error::{Error, Result};
pub use graph::Device;
pub use half;
pub use input::{input, password, InputError};
pub use runtime::{
    check_interrupt, devices, gpu_stats, manual_seed, runtime, set_default_device, synchronize, DeviceInfo, Runtime,
};
pub use shape::{Dims, Pair, Shape, ShapeSpec};
pub use tensor::{realize_all, Tensor};

/// Everything a notebook cell needs: `use born::prelude::*;`.
pub mod prelude {
    pub use crate::autograd::{assign_all, is_grad_enabled, no_grad, NoGradGuard};
    pub use crate::data::{DataLoader, Mnist};
    pub use crate::display::{show, Figure, Image, LiveDisplay, LivePlot, MimeBundle, Progress, Render};
    pub use crate::dtype::{DType, Element};
    pub use crate::error::{Error, Result};
    pub use crate::graph::Device;
    pub use crate::half::{bf16, f16};
    pub use crate::input::input;
    pub use crate::nn::{self, Module};
    pub use crate::optim::{self, LrScheduler, Optimizer};
    pub use crate::runtime::{check_interrupt, devices, manual_seed, set_default_device};
    pub use crate::shape::{Pair, Shape};
    pub use crate::tensor::{realize_all, Tensor};
}
