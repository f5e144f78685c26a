//! Building a [`Schedule`] from target nodes: fusion decisions, then the buffer plan.

use super::{Expr, Kernel, KernelOp, PhysicalBuffer, Schedule, Slot, SlotSource, Src};
use crate::dtype::DType;
use crate::error::Result;
use crate::graph::{topo_order, NodeRef};
use crate::ops::{BinaryOp, OpKind, ReduceOp, View, ViewOp};
use std::collections::{HashMap, HashSet};

/// Schedules the unrealized graph behind `targets` (realized targets are skipped).
pub fn build(targets: &[NodeRef]) -> Result<Schedule> {
    let pending: Vec<NodeRef> = targets.iter().filter(|t| !t.is_realized()).cloned().collect();
    let order = topo_order(&pending)?;
    let mut b = Builder {
        kernels: Vec::new(),
        slots: Vec::new(),
        input_slots: HashMap::new(),
        repr: HashMap::new(),
        consumers: HashMap::new(),
        targets: pending.iter().map(|t| t.id()).collect(),
        linear: HashSet::new(),
        layouts: HashMap::new(),
    };
    for n in &order {
        if !n.is_realized() {
            // Distinct consumers: `y * y` reads y twice but needs no buffer for it.
            let mut ids: Vec<usize> = n.inputs.iter().map(|i| i.id()).collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                *b.consumers.entry(id).or_default() += 1;
            }
        }
    }
    b.layouts = layouts(&order);
    for n in &order {
        b.visit(n);
    }
    let mut outputs = Vec::new();
    for t in &pending {
        match b.repr[&t.id()].clone() {
            Expr::Load { slot, view, .. } => outputs.push((t.clone(), slot, view)),
            _ => unreachable!("targets are always materialized"),
        }
    }
    let (slots, buffers) = plan_buffers(&b.kernels, b.slots, &outputs);
    Ok(Schedule {
        kernels: b.kernels.into(),
        memo: Default::default(),
        slots,
        buffers,
        outputs,
    })
}

/// A reduction of a few elements per output (pooling windows) as one elementwise
/// combination of shifted reads: each read runs along the kept dims, where a reduction
/// loop would step through the window a couple of elements at a time. `expr` is over
/// `[kept.., reduced..]` with the last `n_axes` dims reduced.
fn unrolled(expr: &Expr, op: ReduceOp, n_axes: usize, n_red: usize, dtype: DType) -> Option<Expr> {
    if !(2..=9).contains(&n_red) || expr.dtype() != dtype {
        return None;
    }
    let combine = match op {
        ReduceOp::Sum => BinaryOp::Add,
        ReduceOp::Prod => BinaryOp::Mul,
        ReduceOp::Max => BinaryOp::Max,
        ReduceOp::Min => BinaryOp::Min,
    };
    let mut acc: Option<Expr> = None;
    for r in 0..n_red {
        let part = expr.map_views(&|v| {
            let k = v.shape.len() - n_axes;
            let (mut rem, mut offset) = (r, v.offset);
            for d in (k..v.shape.len()).rev() {
                offset += (rem % v.shape[d]) as isize * v.strides[d];
                rem /= v.shape[d];
            }
            Some(View {
                shape: v.shape[..k].to_vec(),
                strides: v.strides[..k].to_vec(),
                offset,
            })
        })?;
        acc = Some(match acc {
            Some(a) => Expr::Binary(combine, Box::new(a), Box::new(part), dtype),
            None => part,
        });
    }
    acc
}

/// More than a few ops or loads: worth a buffer rather than recomputation per broadcast copy.
fn expensive(e: &Expr) -> bool {
    let (mut ops, mut loads) = (Vec::new(), Vec::new());
    e.op_names(&mut ops);
    e.slots(&mut loads);
    ops.len() > 3 || loads.len() > 3
}

/// At most four ops over at most two streamed buffers, no padding (a bias add and a ReLU,
/// a comparison, a pooling mask): when several kernels read it, each recomputes it from
/// its inputs instead of writing it to a buffer and reading that back (a full pass over
/// memory for a few instructions).
fn cheap(e: &Expr) -> bool {
    let (mut ops, mut loads) = (Vec::new(), Vec::new());
    e.op_names(&mut ops);
    // Streamed: read other than as a few values spread wide (a constant, a bias over a
    // batch of images: they stay in cache and cost no memory traffic).
    e.reads(&mut |slot, view| {
        let distinct: usize = view
            .shape
            .iter()
            .zip(&view.strides)
            .filter(|&(_, &s)| s != 0)
            .map(|(&n, _)| n)
            .product();
        if distinct * 8 > view.numel() {
            loads.push(slot)
        }
    });
    loads.sort_unstable();
    loads.dedup();
    ops.len() <= 4 && loads.len() <= 2 && !ops.iter().any(|o| o == "pad")
}

/// Elementwise nodes better stored permuted: read through a permutation (maybe after a
/// reshape) by something that needs a buffer in that order (a matmul operand: the weight
/// gradient of a convolution reads its output gradient channel-major). Storing the node
/// in that order saves a copy; its other readers read it through the inverse. Per node:
/// the shape the permutation applies to, and the permutation.
fn layouts(order: &[NodeRef]) -> HashMap<usize, (Vec<usize>, Vec<usize>)> {
    let mut readers: HashMap<usize, Vec<&NodeRef>> = HashMap::new();
    for n in order.iter().filter(|n| !n.is_realized()) {
        for i in &n.inputs {
            readers.entry(i.id()).or_default().push(n);
        }
    }
    let readers_of = |n: &NodeRef| readers.get(&n.id()).cloned().unwrap_or_default();
    let elementwise = |n: &NodeRef| {
        matches!(
            n.kind,
            OpKind::Unary(_) | OpKind::Binary(_) | OpKind::Where | OpKind::Cast(_)
        )
    };
    // A permutation whose result something reads as a buffer.
    let wanted = |r: &NodeRef| match &r.kind {
        OpKind::View(ViewOp::Permute(p)) => readers_of(r)
            .iter()
            .any(|rr| matches!(rr.kind, OpKind::MatMul | OpKind::View(ViewOp::Reshape(_))))
            .then(|| p.clone()),
        _ => None,
    };
    let mut out = HashMap::new();
    for n in order.iter().filter(|n| !n.is_realized() && elementwise(n)) {
        for r in readers_of(n) {
            let found = match &r.kind {
                OpKind::View(ViewOp::Reshape(to)) => {
                    readers_of(r).iter().find_map(|rr| wanted(rr)).map(|p| (to.clone(), p))
                }
                _ => wanted(r).map(|p| (n.shape.clone(), p)),
            };
            if let Some(layout) = found {
                out.insert(n.id(), layout);
            }
        }
    }
    out
}

/// An expression over the row-major index of `shape` (its reads may have other shapes:
/// see `Builder::linear`) read in the order of `shape` permuted by `p`: every read is split to the finest shape
/// all of them and `shape` share, and the groups of dims that make up `shape`'s dims are
/// permuted. `None` when the shapes share no such split.
fn permute_linear(e: &Expr, shape: &[usize], p: &[usize]) -> Option<Expr> {
    let mut shapes = vec![shape.to_vec()];
    e.reads(&mut |_, v| shapes.push(v.shape.clone()));
    let fine = crate::shape::common_refinement(shapes.iter().map(|s| s.as_slice()), shape.iter().product())?;
    // The fine dims making up each dim of `shape` (size-1 dims make up none).
    let mut groups: Vec<Vec<usize>> = Vec::with_capacity(shape.len());
    let mut next = 0;
    for &d in shape {
        let mut group = Vec::new();
        let mut size = 1;
        while size < d {
            size *= fine[next];
            group.push(next);
            next += 1;
        }
        groups.push(group);
    }
    let order: Vec<usize> = p.iter().flat_map(|&d| groups[d].iter().copied()).collect();
    let (split, permute) = (ViewOp::Reshape(fine), ViewOp::Permute(order));
    e.map_views(&|v| v.apply(&split)?.apply(&permute))
}

struct Builder {
    kernels: Vec<Kernel>,
    /// `None` for kernel outputs (planned later), `Some` for existing buffers.
    slots: Vec<Option<SlotSource>>,
    input_slots: HashMap<usize, Slot>,
    /// Each visited node as an expression over slots (a materialized node is a plain load).
    repr: HashMap<usize, Expr>,
    consumers: HashMap<usize, usize>,
    targets: Vec<usize>,
    /// Nodes whose expression is in the shape of an earlier node (a reshape no strides
    /// could express). Elementwise kernels run over the row-major linear index, which a
    /// reshape keeps, so such an expression still fuses into elementwise consumers and
    /// kernels; anything that needs its own shape (a movement, a reduction, another
    /// kernel's operand) materializes it first.
    linear: HashSet<usize>,
    /// See [`layouts`].
    layouts: HashMap<usize, (Vec<usize>, Vec<usize>)>,
}

impl Builder {
    fn visit(&mut self, n: &NodeRef) {
        if let Some(r) = n.realized() {
            let key = std::sync::Arc::as_ptr(&r.buffer) as usize;
            let slot = *self.input_slots.entry(key).or_insert_with(|| {
                self.slots.push(Some(SlotSource::Input(r.buffer.clone())));
                self.slots.len() - 1
            });
            self.repr.insert(
                n.id(),
                Expr::Load {
                    slot,
                    view: r.view,
                    dtype: n.dtype,
                },
            );
            return;
        }
        let is_target = self.targets.contains(&n.id());
        let shared = self.consumers.get(&n.id()).copied().unwrap_or(0) > 1;
        let elementwise = matches!(
            n.kind,
            OpKind::Unary(_) | OpKind::Binary(_) | OpKind::Where | OpKind::Cast(_)
        );
        // A matmul, or a permutation on the way to one, reads a linear load in place when
        // its dims group into the node's (the im2col matrix: see `grouped_load`).
        let reads_grouped = matches!(n.kind, OpKind::MatMul | OpKind::View(ViewOp::Permute(_)));
        let mut linear = false;
        for i in &n.inputs {
            if self.linear.contains(&i.id()) {
                if elementwise {
                    linear = true;
                } else if !(reads_grouped && self.grouped_load(i).is_some()) {
                    self.materialize(i);
                }
            }
        }
        if linear {
            self.linear.insert(n.id());
        }
        let input = |b: &Self, i: usize| b.repr[&n.inputs[i].id()].clone();
        let expr = match &n.kind {
            OpKind::Leaf => unreachable!("leaves are realized"),
            OpKind::Unary(u) => Expr::Unary(*u, Box::new(input(self, 0))),
            OpKind::Binary(op) => Expr::Binary(*op, Box::new(input(self, 0)), Box::new(input(self, 1)), n.dtype),
            OpKind::Where => Expr::Where(
                Box::new(input(self, 0)),
                Box::new(input(self, 1)),
                Box::new(input(self, 2)),
            ),
            OpKind::Cast(d) => Expr::Cast(Box::new(input(self, 0)), *d),
            OpKind::View(v) => {
                let src = input(self, 0);
                if let Some(e) = self.permuted_grouped(n, v) {
                    // Still a plain strided read, in an earlier shape: the node stays linear.
                    self.linear.insert(n.id());
                    self.repr.insert(n.id(), e);
                    if is_target {
                        self.materialize(n);
                    }
                    return;
                }
                // A broadcast of a big computed expression would evaluate it once per copy
                // (reading its inputs through stride-0 views): compute it once into a buffer.
                // Small ones (a max shift, a normalizer) stay fused: recomputing is cheaper
                // than a kernel and a buffer.
                let recompute = matches!(v, ViewOp::Expand(_)) && expensive(&src);
                let mut went_linear = false;
                let viewed = if recompute {
                    None
                } else {
                    src.map_views(&|view| view.apply(v))
                };
                let e = match viewed {
                    Some(e) => e,
                    // Strides cannot say it, but the linear order is the same: keep the
                    // expression in its own shape (see `linear`).
                    None if matches!(v, ViewOp::Reshape(_)) && !recompute => {
                        went_linear = true;
                        self.linear.insert(n.id());
                        src
                    }
                    None => {
                        // The strides cannot express this movement: copy the input first.
                        let src = self.materialize(&n.inputs[0]);
                        let contiguous = View::contiguous(&n.inputs[0].shape);
                        Expr::Load {
                            slot: src,
                            view: contiguous
                                .apply(v)
                                .expect("any movement of a contiguous view is a view"),
                            dtype: n.dtype,
                        }
                    }
                };
                // A target needs a buffer in its own shape, which a linear load is not.
                let keep_fused = (matches!(e, Expr::Load { .. }) && !went_linear) || (!is_target && cheap(&e));
                self.repr.insert(n.id(), e);
                if !keep_fused && (is_target || shared) {
                    self.materialize(n);
                }
                return;
            }
            OpKind::Pad { pads, value } => {
                // Padding is a masked read: it fuses into whatever reads it.
                let src = self.source(&n.inputs[0]);
                self.repr.insert(
                    n.id(),
                    Expr::PadLoad {
                        slot: src.slot,
                        view: src.view,
                        dtype: n.dtype,
                        pads: pads.clone(),
                        fill: *value,
                    },
                );
                if is_target || shared {
                    self.materialize(n);
                }
                return;
            }
            OpKind::Reduce(op, axes) => {
                let src = input(self, 0);
                let shape = n.inputs[0].shape.clone();
                let mut perm: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
                perm.extend(axes.iter().copied());
                let n_red: usize = axes.iter().map(|&a| shape[a]).product();
                let permute = ViewOp::Permute(perm);
                let expr = match src.map_views(&|v| v.apply(&permute)) {
                    Some(e) => e,
                    None => Expr::Load {
                        slot: self.materialize(&n.inputs[0]),
                        view: View::contiguous(&shape)
                            .apply(&permute)
                            .expect("permutation is always a view"),
                        dtype: n.inputs[0].dtype,
                    },
                };
                let n_out = n.shape.iter().product();
                if let Some(e) = unrolled(&expr, *op, axes.len(), n_red, n.dtype) {
                    self.emit(n, KernelOp::Elementwise(e));
                    return;
                }
                self.emit(
                    n,
                    KernelOp::Reduce {
                        op: *op,
                        expr,
                        n_out,
                        n_red,
                    },
                );
                return;
            }
            OpKind::MatMul => {
                let (a, b) = (self.matmul_operand(&n.inputs[0]), self.matmul_operand(&n.inputs[1]));
                self.emit(n, KernelOp::MatMul { a, b });
                return;
            }
            other => {
                let srcs: Vec<Src> = n.inputs.iter().map(|i| self.source(i)).collect();
                let mut srcs = srcs.into_iter();
                let mut next = || srcs.next().expect("arity checked at build");
                let op = match other {
                    OpKind::ArgReduce { max, axis } => KernelOp::ArgReduce {
                        src: next(),
                        axis: *axis,
                        max: *max,
                    },
                    OpKind::Cat { axis } => KernelOp::Cat {
                        srcs: (0..n.inputs.len()).map(|_| next()).collect(),
                        axis: *axis,
                    },
                    OpKind::Gather { axis } => KernelOp::Gather {
                        src: next(),
                        index: next(),
                        axis: *axis,
                    },
                    OpKind::Scatter { axis, add } => KernelOp::Scatter {
                        src: next(),
                        index: next(),
                        values: next(),
                        axis: *axis,
                        add: *add,
                    },
                    OpKind::Argsort { axis, descending } => KernelOp::Argsort {
                        src: next(),
                        axis: *axis,
                        descending: *descending,
                    },
                    OpKind::Cumsum { axis } => KernelOp::Cumsum {
                        src: next(),
                        axis: *axis,
                    },
                    _ => unreachable!("handled above"),
                };
                self.emit(n, op);
                return;
            }
        };
        let recompute = shared && !is_target && cheap(&expr);
        self.repr.insert(n.id(), expr);
        if !is_target && shared && !recompute && self.materialize_permuted(n) {
            return;
        }
        if is_target || (shared && !recompute) {
            self.materialize(n);
        }
    }

    /// Stores `n` in the order of its preferred permutation (see [`layouts`]), when it
    /// has one and its expression can be read that way; `n` becomes a permuted load.
    fn materialize_permuted(&mut self, n: &NodeRef) -> bool {
        let Some((split, p)) = self.layouts.get(&n.id()).cloned() else {
            return false;
        };
        let shape: Vec<usize> = p.iter().map(|&i| split[i]).collect();
        let mut inverse = vec![0; p.len()];
        for (i, &d) in p.iter().enumerate() {
            inverse[d] = i;
        }
        // How `n` reads the stored buffer: back through the permutation and the reshape.
        let Some(view) = View::contiguous(&shape)
            .apply(&ViewOp::Permute(inverse))
            .and_then(|v| v.apply(&ViewOp::Reshape(n.shape.clone())))
        else {
            return false;
        };
        let Some(e) = permute_linear(&self.repr[&n.id()], &split, &p) else {
            return false;
        };
        self.linear.remove(&n.id());
        self.slots.push(None);
        let out = self.slots.len() - 1;
        self.kernels.push(Kernel {
            op: KernelOp::Elementwise(e),
            out,
            shape,
            dtype: n.dtype,
        });
        self.repr.insert(
            n.id(),
            Expr::Load {
                slot: out,
                view,
                dtype: n.dtype,
            },
        );
        true
    }

    /// Appends a kernel writing `n`'s data into a fresh slot; `n` becomes a load of it.
    fn emit(&mut self, n: &NodeRef, op: KernelOp) -> Slot {
        self.slots.push(None);
        let out = self.slots.len() - 1;
        self.kernels.push(Kernel {
            op,
            out,
            shape: n.shape.clone(),
            dtype: n.dtype,
        });
        self.repr.insert(
            n.id(),
            Expr::Load {
                slot: out,
                view: View::contiguous(&n.shape),
                dtype: n.dtype,
            },
        );
        out
    }

    /// A linear node (see `linear`) that is a plain strided read whose dims group, in
    /// order, into the node's own: `[C, KH, KW, N, OH, OW]` windows read as the im2col
    /// matrix `[C·KH·KW, N·OH·OW]`. The matmul reads it in place, through offset tables,
    /// where the im2col copy would write and read back every window.
    fn grouped_load(&self, n: &NodeRef) -> Option<(Slot, View, DType, Vec<std::ops::Range<usize>>)> {
        if !self.linear.contains(&n.id()) {
            return None;
        }
        match &self.repr[&n.id()] {
            Expr::Load { slot, view, dtype } => {
                let groups = crate::shape::dim_groups(&view.shape, &n.shape)?;
                Some((*slot, view.clone(), *dtype, groups))
            }
            _ => None,
        }
    }

    /// A permutation of a grouped load (the im2col matrix transposed for the weight
    /// gradient): the groups permuted, still a strided read in place.
    fn permuted_grouped(&self, n: &NodeRef, v: &ViewOp) -> Option<Expr> {
        let ViewOp::Permute(perm) = v else {
            return None;
        };
        let (slot, view, dtype, groups) = self.grouped_load(&n.inputs[0])?;
        let dims: Vec<usize> = perm.iter().flat_map(|&g| groups[g].clone()).collect();
        Some(Expr::Load {
            slot,
            view: view.apply(&ViewOp::Permute(dims))?,
            dtype,
        })
    }

    /// A matmul operand: a grouped load in place (the backend groups its dims), else a
    /// buffer read through a view of the operand's own shape.
    fn matmul_operand(&mut self, n: &NodeRef) -> Src {
        match self.grouped_load(n) {
            Some((slot, view, ..)) => Src { slot, view },
            None => self.source(n),
        }
    }

    /// Makes sure `n` has its own contiguous buffer and returns its slot.
    fn materialize(&mut self, n: &NodeRef) -> Slot {
        if self.linear.remove(&n.id()) {
            let e = self.repr[&n.id()].clone();
            return self.emit(n, KernelOp::Elementwise(e));
        }
        match self.repr[&n.id()].clone() {
            Expr::Load { slot, view, .. } if view == View::contiguous(&n.shape) => slot,
            e => self.emit(n, KernelOp::Elementwise(e)),
        }
    }

    /// `n` as a strided buffer read, copying only when it is a computation.
    fn source(&mut self, n: &NodeRef) -> Src {
        if self.linear.contains(&n.id()) {
            self.materialize(n);
        }
        match self.repr[&n.id()].clone() {
            Expr::Load { slot, view, .. } => Src { slot, view },
            _ => Src {
                slot: self.materialize(n),
                view: View::contiguous(&n.shape),
            },
        }
    }
}

/// Assigns physical buffers: a temporary whose last reader has run is free for
/// the next kernel output of the same dtype and length.
fn plan_buffers(
    kernels: &[Kernel],
    slots: Vec<Option<SlotSource>>,
    outputs: &[(NodeRef, Slot, View)],
) -> (Vec<SlotSource>, Vec<PhysicalBuffer>) {
    let mut last_use = vec![0usize; slots.len()];
    for (k, kernel) in kernels.iter().enumerate() {
        for s in kernel.op.reads() {
            last_use[s] = k;
        }
    }
    let escapes: Vec<bool> = (0..slots.len())
        .map(|s| outputs.iter().any(|(_, o, _)| *o == s))
        .collect();
    let mut buffers: Vec<PhysicalBuffer> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut phys_of: HashMap<Slot, usize> = HashMap::new();
    for (k, kernel) in kernels.iter().enumerate() {
        let len = kernel.shape.iter().product();
        let reuse = (!escapes[kernel.out])
            .then(|| {
                free.iter()
                    .position(|&p| buffers[p].dtype == kernel.dtype && buffers[p].len == len)
            })
            .flatten();
        let phys = match reuse {
            Some(i) => free.swap_remove(i),
            None => {
                buffers.push(PhysicalBuffer {
                    dtype: kernel.dtype,
                    len,
                    escapes: escapes[kernel.out],
                });
                buffers.len() - 1
            }
        };
        phys_of.insert(kernel.out, phys);
        let mut reads = kernel.op.reads();
        reads.push(kernel.out);
        reads.sort_unstable();
        reads.dedup();
        for s in reads {
            let done = last_use[s] <= k;
            if let Some(&p) = phys_of.get(&s) {
                if done && !escapes[s] && !free.contains(&p) {
                    free.push(p);
                }
            }
        }
    }
    let slots = slots
        .into_iter()
        .enumerate()
        .map(|(s, src)| src.unwrap_or_else(|| SlotSource::Computed { phys: phys_of[&s] }))
        .collect();
    (slots, buffers)
}
