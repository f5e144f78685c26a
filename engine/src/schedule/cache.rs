//! Reuse of schedules: a training loop builds a graph of the same structure every step,
//! and planning it again (fusion, buffer plan) would cost more than running a small
//! step's kernels. A plan is keyed by the graph's structure (ops, shapes, dtypes, edges,
//! the views of its inputs and which inputs share a buffer), never by data, so a cached
//! plan is rebound to the new step's buffers and targets.
//!
//! The cache is per thread and per engine copy: it memoizes only, so a notebook cell that
//! links its own engine copy merely plans its first step again.

use super::{build, Kernel, Memo, PhysicalBuffer, Schedule, Slot, SlotSource};
use crate::dtype::DType;
use crate::error::Result;
use crate::graph::{topo_order, NodeRef};
use crate::ops::{OpKind, View};
use crate::storage::Buffer;
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Plans kept per thread; a loop needs a few (train step, eval step), a notebook more.
const CAPACITY: usize = 128;

thread_local! {
    static PLANS: RefCell<HashMap<u64, Arc<Plan>>> = RefCell::new(HashMap::new());
}

/// One graph node as the plan saw it.
#[derive(Debug, PartialEq)]
enum Desc {
    /// Existing data: which distinct buffer (in walk order), its length and dtype, the view.
    Input {
        buffer: u32,
        len: usize,
        buffer_dtype: DType,
        view: View,
        dtype: DType,
    },
    /// A computation over earlier nodes (positions in the walk).
    Op {
        kind: OpKind,
        shape: Vec<usize>,
        dtype: DType,
        inputs: Vec<u32>,
    },
}

/// A schedule with its inputs and targets abstracted to positions.
struct Plan {
    descs: Vec<Desc>,
    /// Walk position of each pending target, in the caller's order.
    targets: Vec<u32>,
    kernels: Arc<[Kernel]>,
    memo: Arc<Memo>,
    /// `Err(k)`: the k-th distinct input buffer; `Ok(phys)`: computed into `phys`.
    slots: Vec<std::result::Result<usize, usize>>,
    buffers: Vec<PhysicalBuffer>,
    /// (index into the pending targets, slot, view).
    outputs: Vec<(usize, Slot, View)>,
}

/// The graph behind `pending` as positions: the walk, each node's position, the distinct
/// input buffers in walk order, and a hash of the whole structure.
struct Walk {
    order: Vec<NodeRef>,
    position: HashMap<usize, u32>,
    buffers: Vec<Arc<Buffer>>,
    buffer_of: Vec<u32>,
    hash: u64,
}

fn walk(pending: &[NodeRef]) -> Result<Walk> {
    let order = topo_order(pending)?;
    let mut position = HashMap::with_capacity(order.len());
    let mut buffer_index: HashMap<usize, u32> = HashMap::new();
    let mut buffers = Vec::new();
    let mut buffer_of = vec![u32::MAX; order.len()];
    let mut h = DefaultHasher::new();
    for (i, n) in order.iter().enumerate() {
        position.insert(n.id(), i as u32);
        n.dtype.hash(&mut h);
        match n.realized() {
            Some(r) => {
                let key = Arc::as_ptr(&r.buffer) as usize;
                let b = *buffer_index.entry(key).or_insert_with(|| {
                    buffers.push(r.buffer.clone());
                    buffers.len() as u32 - 1
                });
                buffer_of[i] = b;
                (0u8, b, r.buffer.len(), r.buffer.dtype()).hash(&mut h);
                r.view.hash(&mut h);
            }
            None => {
                1u8.hash(&mut h);
                n.kind.hash(&mut h);
                n.shape.hash(&mut h);
                for input in &n.inputs {
                    position[&input.id()].hash(&mut h);
                }
            }
        }
    }
    for t in pending {
        position[&t.id()].hash(&mut h);
    }
    Ok(Walk {
        order,
        position,
        buffers,
        buffer_of,
        hash: h.finish(),
    })
}

impl Walk {
    fn descs(&self) -> Vec<Desc> {
        self.order
            .iter()
            .enumerate()
            .map(|(i, n)| match n.realized() {
                Some(r) => Desc::Input {
                    buffer: self.buffer_of[i],
                    len: r.buffer.len(),
                    buffer_dtype: r.buffer.dtype(),
                    view: r.view,
                    dtype: n.dtype,
                },
                None => Desc::Op {
                    kind: n.kind.clone(),
                    shape: n.shape.clone(),
                    dtype: n.dtype,
                    inputs: n.inputs.iter().map(|x| self.position[&x.id()]).collect(),
                },
            })
            .collect()
    }

    /// Exact comparison with a plan found by hash (no allocation).
    fn matches(&self, plan: &Plan, pending: &[NodeRef]) -> bool {
        if plan.descs.len() != self.order.len() || plan.targets.len() != pending.len() {
            return false;
        }
        let targets_match = pending
            .iter()
            .zip(&plan.targets)
            .all(|(t, &p)| self.position[&t.id()] == p);
        targets_match
            && self
                .order
                .iter()
                .zip(&plan.descs)
                .enumerate()
                .all(|(i, (n, d))| match (n.realized(), d) {
                    (
                        Some(r),
                        Desc::Input {
                            buffer,
                            len,
                            buffer_dtype,
                            view,
                            dtype,
                        },
                    ) => {
                        *buffer == self.buffer_of[i]
                            && r.buffer.len() == *len
                            && r.buffer.dtype() == *buffer_dtype
                            && r.view == *view
                            && n.dtype == *dtype
                    }
                    (
                        None,
                        Desc::Op {
                            kind,
                            shape,
                            dtype,
                            inputs,
                        },
                    ) => {
                        n.kind == *kind
                            && n.shape == *shape
                            && n.dtype == *dtype
                            && n.inputs.len() == inputs.len()
                            && n.inputs.iter().zip(inputs).all(|(x, &p)| self.position[&x.id()] == p)
                    }
                    _ => false,
                })
    }
}

/// Like [`build`], but reuses the plan of an earlier graph with the same structure.
/// Also says whether the plan was reused.
pub fn build_cached(targets: &[NodeRef]) -> Result<(Schedule, bool)> {
    let pending: Vec<NodeRef> = targets.iter().filter(|t| !t.is_realized()).cloned().collect();
    if pending.is_empty() {
        return Ok((build(&pending)?, false));
    }
    let w = walk(&pending)?;
    let hit = PLANS.with(|p| p.borrow().get(&w.hash).cloned());
    if let Some(plan) = hit.filter(|plan| w.matches(plan, &pending)) {
        return Ok((instantiate(&plan, &w, &pending), true));
    }
    let sched = build(&pending)?;
    let plan = Arc::new(abstract_plan(&sched, &w, &pending));
    PLANS.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= CAPACITY {
            p.clear();
        }
        p.insert(w.hash, plan);
    });
    Ok((sched, false))
}

fn abstract_plan(s: &Schedule, w: &Walk, pending: &[NodeRef]) -> Plan {
    let ordinal: HashMap<usize, usize> = w
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| (Arc::as_ptr(b) as usize, i))
        .collect();
    let slots = s
        .slots
        .iter()
        .map(|src| match src {
            SlotSource::Input(b) => Err(ordinal[&(Arc::as_ptr(b) as usize)]),
            SlotSource::Computed { phys } => Ok(*phys),
        })
        .collect();
    let outputs = s
        .outputs
        .iter()
        .map(|(node, slot, view)| {
            let at = pending
                .iter()
                .position(|t| Arc::ptr_eq(t, node))
                .expect("outputs are targets");
            (at, *slot, view.clone())
        })
        .collect();
    Plan {
        descs: w.descs(),
        targets: pending.iter().map(|t| w.position[&t.id()]).collect(),
        kernels: s.kernels.clone(),
        memo: s.memo.clone(),
        slots,
        buffers: s.buffers.clone(),
        outputs,
    }
}

fn instantiate(plan: &Plan, w: &Walk, pending: &[NodeRef]) -> Schedule {
    Schedule {
        kernels: plan.kernels.clone(),
        memo: plan.memo.clone(),
        slots: plan
            .slots
            .iter()
            .map(|s| match *s {
                Err(k) => SlotSource::Input(w.buffers[k].clone()),
                Ok(phys) => SlotSource::Computed { phys },
            })
            .collect(),
        buffers: plan.buffers.clone(),
        outputs: plan
            .outputs
            .iter()
            .map(|(at, slot, view)| (pending[*at].clone(), *slot, view.clone()))
            .collect(),
    }
}
