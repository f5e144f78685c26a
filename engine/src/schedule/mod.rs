//! Scheduling: turns the unrealized part of the graph into an ordered list of
//! kernels. Chains of elementwise ops (and the elementwise producer of a
//! reduction) become one [`Expr`] evaluated in a single loop; movement ops
//! become strided reads; temporary buffers are planned by lifetime so a
//! finished temporary is reused by a later kernel of the same size.

mod build;
mod cache;

pub use build::build;
pub use cache::build_cached;

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::graph::NodeRef;
use crate::ops::{BinaryOp, ReduceOp, UnaryOp, View};
use crate::storage::Buffer;
use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Index of a buffer slot in a [`Schedule`].
pub type Slot = usize;

/// A fused elementwise expression over buffer reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// Reads `slot` through `view` (whose shape is the expression's shape).
    Load {
        /// The buffer read.
        slot: Slot,
        /// How it is read.
        view: View,
        /// The buffer's dtype.
        dtype: DType,
    },
    /// Reads `slot` through `view`, surrounded by `pads` (before, after) per dim holding
    /// `fill`: constant padding fused into the kernel that reads it.
    PadLoad {
        /// The buffer read.
        slot: Slot,
        /// How the interior is read (its shape is the unpadded shape).
        view: View,
        /// The buffer's dtype.
        dtype: DType,
        /// Per dim (before, after).
        pads: Vec<(usize, usize)>,
        /// The value outside the interior.
        fill: Scalar,
    },
    /// One-input op.
    Unary(UnaryOp, Box<Expr>),
    /// Two-input op; the dtype is the result's.
    Binary(BinaryOp, Box<Expr>, Box<Expr>, DType),
    /// `cond ? a : b`.
    Where(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Conversion.
    Cast(Box<Expr>, DType),
}

impl Expr {
    /// The result dtype.
    pub fn dtype(&self) -> DType {
        match self {
            Expr::Load { dtype, .. } | Expr::PadLoad { dtype, .. } | Expr::Binary(.., dtype) | Expr::Cast(_, dtype) => {
                *dtype
            }
            Expr::Unary(_, e) => e.dtype(),
            Expr::Where(_, a, _) => a.dtype(),
        }
    }

    /// Rewrites every load's view; `None` if any view cannot be rewritten (a padded load
    /// never can: its reader materializes it first).
    pub fn map_views(&self, f: &dyn Fn(&View) -> Option<View>) -> Option<Expr> {
        Some(match self {
            Expr::PadLoad { .. } => return None,
            Expr::Load { slot, view, dtype } => Expr::Load {
                slot: *slot,
                view: f(view)?,
                dtype: *dtype,
            },
            Expr::Unary(u, e) => Expr::Unary(*u, Box::new(e.map_views(f)?)),
            Expr::Binary(b, x, y, d) => Expr::Binary(*b, Box::new(x.map_views(f)?), Box::new(y.map_views(f)?), *d),
            Expr::Where(c, a, b) => Expr::Where(
                Box::new(c.map_views(f)?),
                Box::new(a.map_views(f)?),
                Box::new(b.map_views(f)?),
            ),
            Expr::Cast(e, d) => Expr::Cast(Box::new(e.map_views(f)?), *d),
        })
    }

    /// The op names in evaluation order (loads excluded).
    pub fn op_names(&self, out: &mut Vec<String>) {
        match self {
            Expr::Load { .. } => {}
            Expr::PadLoad { .. } => out.push("pad".into()),
            Expr::Unary(u, e) => {
                e.op_names(out);
                out.push(u.name().into());
            }
            Expr::Binary(b, x, y, _) => {
                x.op_names(out);
                y.op_names(out);
                out.push(b.name().into());
            }
            Expr::Where(c, a, b) => {
                c.op_names(out);
                a.op_names(out);
                b.op_names(out);
                out.push("where".into());
            }
            Expr::Cast(e, d) => {
                e.op_names(out);
                out.push(format!("cast<{d}>"));
            }
        }
    }

    /// The slots this expression reads.
    pub fn slots(&self, out: &mut Vec<Slot>) {
        self.reads(&mut |slot, _| out.push(slot));
    }

    /// Calls `f` with the slot and view of every read, left to right.
    pub fn reads(&self, f: &mut impl FnMut(Slot, &View)) {
        match self {
            Expr::Load { slot, view, .. } | Expr::PadLoad { slot, view, .. } => f(*slot, view),
            Expr::Unary(_, e) | Expr::Cast(e, _) => e.reads(f),
            Expr::Binary(_, x, y, _) => {
                x.reads(f);
                y.reads(f);
            }
            Expr::Where(c, a, b) => {
                c.reads(f);
                a.reads(f);
                b.reads(f);
            }
        }
    }
}

/// A buffer read by a non-fused kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Src {
    /// The buffer.
    pub slot: Slot,
    /// How it is read.
    pub view: View,
}

/// What a kernel computes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KernelOp {
    /// Evaluates the expression for every output element.
    Elementwise(Expr),
    /// Reduces `expr`, whose iteration space is `[n_out, n_red]` row-major.
    Reduce {
        /// The reduction.
        op: ReduceOp,
        /// The fused producer, over kept dims then reduced dims.
        expr: Expr,
        /// Number of outputs.
        n_out: usize,
        /// Elements reduced into each output.
        n_red: usize,
    },
    /// Index of max/min along an axis.
    ArgReduce {
        /// Input.
        src: Src,
        /// Scanned axis.
        axis: usize,
        /// Max (true) or min.
        max: bool,
    },
    /// Batched matrix product.
    MatMul {
        /// Left `[..., m, k]`.
        a: Src,
        /// Right `[..., k, n]`.
        b: Src,
    },
    /// Constant padding.
    Pad {
        /// Input.
        src: Src,
        /// Per dim `(before, after)`.
        pads: Vec<(usize, usize)>,
        /// Fill value.
        value: Scalar,
    },
    /// Concatenation.
    Cat {
        /// Inputs in order.
        srcs: Vec<Src>,
        /// Joined axis.
        axis: usize,
    },
    /// Gather along an axis.
    Gather {
        /// Input.
        src: Src,
        /// i64 indices.
        index: Src,
        /// Indexed axis.
        axis: usize,
    },
    /// Scatter (or scatter-add) into a copy of the input.
    Scatter {
        /// Input.
        src: Src,
        /// i64 indices.
        index: Src,
        /// Values written.
        values: Src,
        /// Indexed axis.
        axis: usize,
        /// Accumulate.
        add: bool,
    },
    /// Stable sort order.
    Argsort {
        /// Input.
        src: Src,
        /// Sorted axis.
        axis: usize,
        /// Largest first.
        descending: bool,
    },
    /// Prefix sum.
    Cumsum {
        /// Input.
        src: Src,
        /// Scanned axis.
        axis: usize,
    },
}

impl KernelOp {
    /// The slots read.
    pub fn reads(&self) -> Vec<Slot> {
        let mut out = Vec::new();
        match self {
            KernelOp::Elementwise(e) | KernelOp::Reduce { expr: e, .. } => e.slots(&mut out),
            KernelOp::ArgReduce { src, .. }
            | KernelOp::Pad { src, .. }
            | KernelOp::Argsort { src, .. }
            | KernelOp::Cumsum { src, .. } => out.push(src.slot),
            KernelOp::MatMul { a, b } => out.extend([a.slot, b.slot]),
            KernelOp::Cat { srcs, .. } => out.extend(srcs.iter().map(|s| s.slot)),
            KernelOp::Gather { src, index, .. } => out.extend([src.slot, index.slot]),
            KernelOp::Scatter { src, index, values, .. } => out.extend([src.slot, index.slot, values.slot]),
        }
        out
    }
}

/// One kernel launch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    /// What it computes.
    pub op: KernelOp,
    /// The slot it writes (contiguous, `shape`).
    pub out: Slot,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Output dtype.
    pub dtype: DType,
}

impl Kernel {
    /// What the kernel computes, in a few words (`fused elementwise [mul, exp]`, `matmul`).
    pub fn describe(&self) -> String {
        match &self.op {
            KernelOp::Elementwise(e) => {
                let mut ops = Vec::new();
                e.op_names(&mut ops);
                if ops.is_empty() {
                    "copy".to_string()
                } else {
                    format!("fused elementwise [{}]", ops.join(", "))
                }
            }
            KernelOp::Reduce { op, expr, .. } => {
                let mut ops = Vec::new();
                expr.op_names(&mut ops);
                if ops.is_empty() {
                    format!("reduce {}", op.name())
                } else {
                    format!("reduce {} of fused [{}]", op.name(), ops.join(", "))
                }
            }
            KernelOp::ArgReduce { max, .. } => (if *max { "argmax" } else { "argmin" }).to_string(),
            KernelOp::MatMul { .. } => "matmul".to_string(),
            KernelOp::Pad { .. } => "pad".to_string(),
            KernelOp::Cat { srcs, .. } => format!("cat of {}", srcs.len()),
            KernelOp::Gather { .. } => "gather".to_string(),
            KernelOp::Scatter { add, .. } => (if *add { "scatter_add" } else { "scatter" }).to_string(),
            KernelOp::Argsort { .. } => "argsort".to_string(),
            KernelOp::Cumsum { .. } => "cumsum".to_string(),
        }
    }
}

/// Where a slot's buffer comes from.
#[derive(Clone, Debug)]
pub enum SlotSource {
    /// Existing data (a realized node).
    Input(Arc<Buffer>),
    /// Written by a kernel into physical buffer `phys` of the plan.
    Computed {
        /// Index into [`Schedule::buffers`].
        phys: usize,
    },
}

/// A buffer the schedule allocates.
#[derive(Clone, Debug, PartialEq)]
pub struct PhysicalBuffer {
    /// Element type.
    pub dtype: DType,
    /// Elements.
    pub len: usize,
    /// True when it holds a result the caller keeps (never reused).
    pub escapes: bool,
}

/// What a backend keeps about a schedule's kernels between runs (the GPU's compiled
/// launches, found once per kernel). Schedules made from one cached plan share it, so a
/// training loop's later steps skip the per-kernel lookups. Entries are keyed by the
/// backend's own number (a device and a compile mode); the memo never holds buffers.
#[derive(Default)]
pub struct Memo(Mutex<Vec<(u64, Arc<dyn Any + Send + Sync>)>>);

impl Memo {
    /// The entry under `key`, made by `make` the first time (a failure is not kept).
    pub fn get_or_try_insert<T: Any + Send + Sync>(
        &self,
        key: u64,
        make: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        let found = self.entries().iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        if let Some(v) = found.and_then(|v| v.downcast::<T>().ok()) {
            return Ok(v);
        }
        let made = Arc::new(make()?);
        let mut entries = self.entries();
        entries.retain(|(k, _)| *k != key);
        entries.push((key, made.clone()));
        Ok(made)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<dyn Any + Send + Sync>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Memo({} entries)", self.entries().len())
    }
}

/// The ordered kernels for one realize, and its buffer plan.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Kernels in execution order (shared with the cached plan it came from).
    pub kernels: Arc<[Kernel]>,
    /// What backends remember about these kernels (shared like `kernels`).
    pub memo: Arc<Memo>,
    /// Every slot's source.
    pub slots: Vec<SlotSource>,
    /// The buffers allocated; several temporaries may share one.
    pub buffers: Vec<PhysicalBuffer>,
    /// For each target: the slot and view holding its data.
    pub outputs: Vec<(NodeRef, Slot, View)>,
}

impl Schedule {
    /// Number of kernels.
    pub fn kernel_count(&self) -> usize {
        self.kernels.len()
    }

    /// Bytes of the buffers this schedule allocates.
    pub fn bytes_allocated(&self) -> usize {
        self.buffers.iter().map(|b| b.len * b.dtype.size_in_bytes()).sum()
    }

    /// The buffers of the schedule's outputs by slot, once each: inputs shared, computed
    /// ones made by `take(phys)` from the backend's physical buffer.
    pub fn collect_outputs(
        &self,
        mut take: impl FnMut(usize) -> Buffer,
    ) -> std::collections::HashMap<Slot, Arc<Buffer>> {
        let mut outputs = std::collections::HashMap::new();
        for (_, slot, _) in &self.outputs {
            if outputs.contains_key(slot) {
                continue;
            }
            let buf = match &self.slots[*slot] {
                SlotSource::Input(b) => b.clone(),
                SlotSource::Computed { phys } => Arc::new(take(*phys)),
            };
            outputs.insert(*slot, buf);
        }
        outputs
    }

    /// Number of kernel outputs that reuse a buffer freed earlier in the schedule.
    pub fn reused_buffers(&self) -> usize {
        self.kernels.len() - self.buffers.len().min(self.kernels.len())
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "schedule: {} kernel(s), {} buffer(s) allocated ({} bytes), {} reused",
            self.kernels.len(),
            self.buffers.len(),
            self.bytes_allocated(),
            self.reused_buffers()
        )?;
        for (i, k) in self.kernels.iter().enumerate() {
            let what = k.describe();
            let reads: Vec<String> = k.op.reads().iter().map(|s| format!("s{s}")).collect();
            writeln!(
                f,
                "  k{i}: {what} -> s{} {:?} {} ({} bytes) reads [{}]",
                k.out,
                k.shape,
                k.dtype,
                k.shape.iter().product::<usize>() * k.dtype.size_in_bytes(),
                reads.join(", ")
            )?;
        }
        Ok(())
    }
}
