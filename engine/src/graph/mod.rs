//! The lazy graph: a [`Node`] is a primitive op over input nodes, plus its
//! data once realized. Nodes are immutable apart from that one slot.

use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{OpKind, View};
use crate::storage::Buffer;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where a tensor's data lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Device {
    /// Host memory, computed by the CPU backend.
    #[default]
    Cpu,
    /// GPU memory on adapter `index` of [`crate::devices`] (discrete GPUs first), computed by
    /// the wgpu backend.
    Gpu(u16),
}

impl Device {
    /// The GPU adapter `index` (0 is the preferred one: a discrete GPU where there is one).
    pub fn gpu(index: usize) -> Device {
        Device::Gpu(index.min(u16::MAX as usize) as u16)
    }

    /// True for a GPU.
    pub fn is_gpu(self) -> bool {
        matches!(self, Device::Gpu(_))
    }

    /// Parses `cpu`, `gpu` (adapter 0) or `gpu:N`, as `:device` and `BORN_DEVICE` take them.
    pub fn parse(s: &str) -> Option<Device> {
        match s.trim() {
            "cpu" => Some(Device::Cpu),
            "gpu" | "cuda" | "wgpu" => Some(Device::Gpu(0)),
            other => other
                .strip_prefix("gpu:")
                .and_then(|n| n.parse::<u16>().ok())
                .map(Device::Gpu),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Gpu(i) => write!(f, "gpu:{i}"),
        }
    }
}

/// Realized data: a buffer and the view of it this node sees.
#[derive(Clone, Debug)]
pub struct Realized {
    /// The shared buffer.
    pub buffer: Arc<Buffer>,
    /// How this node's elements sit in the buffer.
    pub view: View,
}

/// Shared handle to a node.
pub type NodeRef = Arc<Node>;

/// One op in the lazy graph.
#[derive(Debug)]
pub struct Node {
    /// What this node computes.
    pub kind: OpKind,
    /// Its inputs, in the order the op defines.
    pub inputs: Vec<NodeRef>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Output dtype.
    pub dtype: DType,
    /// The device a lazy node computes on (realized data lives where its buffer is: see
    /// [`Node::device`]).
    lazy_device: Device,
    /// See [`Node::is_host_constant`]; fixed when the node is built.
    constant: bool,
    realized: Mutex<Option<Realized>>,
    /// Autograd: gradients flow into this node (set when built, or on a leaf by `requires_grad`).
    requires_grad: AtomicBool,
    /// Autograd: the gradient accumulated into this leaf by backward passes.
    grad: Mutex<Option<NodeRef>>,
    /// Autograd: the outputs (losses) whose backward passes made `grad`. An update realizes
    /// them with the gradient, so `loss.item()` after `opt.step()` reads the loss the step
    /// was computed from, in the same schedule, instead of recomputing it from new data.
    grad_roots: Mutex<Vec<NodeRef>>,
}

impl Node {
    /// A new lazy node; the caller has checked shapes with [`OpKind::infer`].
    pub fn lazy(kind: OpKind, inputs: Vec<NodeRef>, shape: Vec<usize>, dtype: DType) -> NodeRef {
        // A host constant (one element, as `x * 2.0` makes) follows the other inputs' device.
        let device = inputs
            .iter()
            .find(|i| !i.is_host_constant())
            .or(inputs.first())
            .map(|i| i.device())
            .unwrap_or_default();
        let constant = !inputs.is_empty() && inputs.iter().all(|i| i.is_host_constant());
        Arc::new(Node {
            constant,
            kind,
            inputs,
            shape,
            dtype,
            lazy_device: device,
            realized: Mutex::new(None),
            requires_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            grad_roots: Mutex::new(Vec::new()),
        })
    }

    /// A node that is already data.
    pub fn leaf(buffer: Arc<Buffer>, view: View, dtype: DType) -> NodeRef {
        Self::with_data(OpKind::Leaf, vec![], buffer, view, dtype)
    }

    /// A node made by an op whose result already exists (a view of a realized input).
    pub fn with_data(kind: OpKind, inputs: Vec<NodeRef>, buffer: Arc<Buffer>, view: View, dtype: DType) -> NodeRef {
        Arc::new(Node {
            constant: !buffer.device().is_gpu() && buffer.len() == 1,
            kind,
            inputs,
            shape: view.shape.clone(),
            dtype,
            lazy_device: buffer.device(),
            realized: Mutex::new(Some(Realized { buffer, view })),
            requires_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            grad_roots: Mutex::new(Vec::new()),
        })
    }

    /// Identity of the node: its address, unique while it is alive. (A counter
    /// would be a static, and every notebook cell links its own copy of the engine.)
    pub fn id(&self) -> usize {
        self as *const Node as usize
    }

    /// The data, if realized.
    pub fn realized(&self) -> Option<Realized> {
        self.realized.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Where the data is (realized) or will be computed (lazy). A parameter moved by
    /// `Module::to_device` keeps its node and changes device with its buffer.
    pub fn device(&self) -> Device {
        match self.realized() {
            Some(r) => r.buffer.device(),
            None => self.lazy_device,
        }
    }

    /// True for a host constant (one element in host memory: a scalar operand, `zeros`
    /// broadcast) or a node computed from constants alone: kernels on any device may read
    /// it, as PyTorch lets a CPU scalar tensor meet a CUDA tensor.
    pub fn is_host_constant(&self) -> bool {
        self.constant
    }

    /// True once the data exists.
    pub fn is_realized(&self) -> bool {
        self.realized.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Stores the data (first writer wins: a realized node never changes).
    pub fn set_realized(&self, r: Realized) {
        let mut slot = self.realized.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(r);
        }
    }

    /// Replaces the data of a leaf (parameter updates keep the node's identity).
    /// Returns false, changing nothing, for any other kind of node.
    pub fn replace_leaf_data(&self, r: Realized) -> bool {
        if self.kind != OpKind::Leaf || r.view.shape != self.shape {
            return false;
        }
        *self.realized.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        true
    }

    /// True when gradients flow into this node.
    pub fn requires_grad(&self) -> bool {
        self.requires_grad.load(Ordering::Relaxed)
    }

    /// Sets whether gradients flow into this node (autograd sets it; see `Tensor::requires_grad`).
    pub fn set_requires_grad(&self, on: bool) {
        self.requires_grad.store(on, Ordering::Relaxed)
    }

    /// The gradient accumulated into this node, if any.
    pub fn grad(&self) -> Option<NodeRef> {
        self.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the accumulated gradient (`None` clears it, and forgets its roots).
    pub fn set_grad(&self, g: Option<NodeRef>) {
        if g.is_none() {
            self.grad_roots.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        *self.grad.lock().unwrap_or_else(|e| e.into_inner()) = g;
    }

    /// Records that a backward pass from `root` added to this node's gradient.
    pub fn add_grad_root(&self, root: &NodeRef) {
        let mut roots = self.grad_roots.lock().unwrap_or_else(|e| e.into_inner());
        if !roots.iter().any(|r| Arc::ptr_eq(r, root)) {
            roots.push(root.clone());
        }
    }

    /// Takes the recorded roots of the gradient (see [`Node::add_grad_root`]).
    pub fn take_grad_roots(&self) -> Vec<NodeRef> {
        std::mem::take(&mut *self.grad_roots.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The unrealized nodes reachable from `targets`, inputs before users.
/// Realized nodes are included (as sources) but not walked through.
pub fn topo_order(targets: &[NodeRef]) -> Result<Vec<NodeRef>> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative DFS: graphs from training loops are deep enough to overflow a recursive walk.
    let mut stack: Vec<(NodeRef, bool)> = targets.iter().rev().map(|t| (t.clone(), false)).collect();
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(node.id()) {
            continue;
        }
        let leafish = node.is_realized();
        stack.push((node.clone(), true));
        if !leafish {
            for input in node.inputs.iter().rev() {
                if !seen.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    Ok(order)
}
