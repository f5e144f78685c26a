//! Errors as types: every message names the op and the offending shapes or values.

use crate::dtype::DType;
use std::fmt;

/// Everything that can go wrong when building or running tensor ops.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// Two shapes that the op cannot combine.
    ShapeMismatch {
        /// The op being built.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
        /// Why they do not fit.
        reason: String,
    },
    /// An axis outside `-rank..rank`.
    InvalidAxis {
        /// The op being built.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The rank of the tensor.
        rank: usize,
    },
    /// A dtype the op does not accept.
    UnsupportedDType {
        /// The op being built.
        op: &'static str,
        /// The dtype given.
        dtype: DType,
        /// What the op needs instead.
        reason: String,
    },
    /// An index read from a tensor that is out of range.
    IndexOutOfRange {
        /// The op that read it.
        op: &'static str,
        /// The index value.
        index: i64,
        /// The size of the indexed axis.
        size: usize,
    },
    /// A device could not hold a buffer the op needed.
    OutOfMemory {
        /// The op that needed it.
        op: &'static str,
        /// The device (`gpu:0`).
        device: String,
        /// The buffer's size.
        bytes: usize,
        /// Why it failed (a limit of the device, or the driver's words).
        reason: String,
    },
    /// The GPU stopped working (a driver reset, or [`crate::backend::gpu::Gpu::destroy`]):
    /// its tensors are gone; CPU tensors are not affected.
    DeviceLost {
        /// The op that needed it.
        op: &'static str,
        /// The device (`gpu:0`).
        device: String,
        /// What the driver said.
        reason: String,
    },
    /// The user interrupted the computation (Ctrl-C, or the notebook's stop button).
    Interrupted,
    /// Any other bad argument.
    InvalidArgument {
        /// The op being built.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn arg(op: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shapes(op: &'static str, lhs: &[usize], rhs: &[usize], reason: impl Into<String>) -> Error {
        Error::ShapeMismatch {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { op, lhs, rhs, reason } => {
                write!(f, "{op}: shapes {lhs:?} and {rhs:?} do not fit: {reason}")
            }
            Error::InvalidAxis { op, axis, rank } => write!(
                f,
                "{op}: axis {axis} is out of range for a tensor of rank {rank} (valid: {}..{rank})",
                -(*rank as isize)
            ),
            Error::UnsupportedDType { op, dtype, reason } => {
                write!(f, "{op}: dtype {dtype} is not supported: {reason}")
            }
            Error::IndexOutOfRange { op, index, size } => {
                write!(f, "{op}: index {index} is out of range for an axis of size {size}")
            }
            Error::OutOfMemory {
                op,
                device,
                bytes,
                reason,
            } => write!(
                f,
                "{op}: out of memory on {device}: a buffer of {} could not be made ({reason}); \
                 free tensors you no longer need, use smaller batches, or compute on the CPU",
                human_bytes(*bytes)
            ),
            Error::DeviceLost { op, device, reason } => write!(
                f,
                "{op}: {device} was lost ({reason}): the tensors on it are gone, CPU tensors are \
                 untouched; restart the kernel to use the GPU again, or compute on the CPU"
            ),
            Error::InvalidArgument { op, reason } => write!(f, "{op}: {reason}"),
            Error::Interrupted => write!(f, "interrupted: the computation was stopped by the user"),
        }
    }
}

impl std::error::Error for Error {}

/// `1.5 GiB`, `12.0 MiB`, `512 bytes`.
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let (mut value, mut unit) = (bytes as f64 / 1024.0, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Result with the engine's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
