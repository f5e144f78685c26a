//! Reverse-mode automatic differentiation on the lazy graph.
//!
//! A node carries a `requires_grad` flag: set on a leaf by [`Tensor::requires_grad`]
//! (a parameter), and on every float result of an op over a flagged input, unless the
//! op is built inside [`no_grad`]. [`Tensor::backward`] walks the flagged nodes behind the
//! loss in reverse topological order, applies each primitive's gradient rule (one match
//! arm per [`crate::ops::OpKind`] in `rules.rs`) and adds the result into each leaf's
//! gradient slot ([`Tensor::grad`]). The rules build ordinary tensor ops, so gradients are
//! lazy tensors: forward, backward and a parameter update realize as one schedule, and a
//! forward value that backward also reads is materialized once and shared.
//!
//! Backward builds its ops inside `no_grad`, so gradients never require grad (no
//! higher-order derivatives). Parameters change in place with [`Tensor::assign`] (or
//! [`assign_all`]): the leaf keeps its identity and history never accumulates.

mod rules;

use crate::error::{Error, Result};
use crate::graph::{Node, NodeRef};
use crate::ops::OpKind;
use crate::runtime::runtime;
use crate::tensor::{or_panic, realize_all, Tensor};
use std::collections::{HashMap, HashSet};

/// Runs `f` with graph recording for autograd switched off on this thread: tensors built
/// inside never require grad (`torch.no_grad()`). Scopes nest. The flag lives in the one
/// [`crate::Runtime`], not in a static, so it holds across notebook cells' engine copies.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _scope = NoGradGuard::new();
    f()
}

/// True when ops built on this thread now record what autograd needs (outside every `no_grad`).
pub fn is_grad_enabled() -> bool {
    runtime().grad_enabled()
}

/// A `no_grad` scope that lasts until the guard is dropped (for code that cannot be a closure).
pub struct NoGradGuard(());

impl NoGradGuard {
    /// Switches recording off on this thread until the guard is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        runtime().enter_no_grad();
        NoGradGuard(())
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        runtime().exit_no_grad();
    }
}

/// The same data as a leaf with no history, when realized (cuts the graph behind it).
fn cut(t: NodeRef) -> NodeRef {
    match (t.kind == OpKind::Leaf, t.realized()) {
        (false, Some(r)) => Node::leaf(r.buffer, r.view, t.dtype),
        _ => t,
    }
}

/// Why `v` cannot be assigned to `t`, if it cannot.
fn check_assignable(t: &Tensor, v: &Tensor) -> Result<()> {
    if t.node().kind != OpKind::Leaf {
        return Err(Error::arg(
            "assign",
            format!(
                "needs a leaf tensor (data, or what requires_grad()/detach() returned); this one is the result of `{}`",
                t.node().kind.name()
            ),
        ));
    }
    if t.shape() != v.shape() {
        return Err(Error::shapes(
            "assign",
            t.shape(),
            v.shape(),
            "the new value must have the target's shape",
        ));
    }
    if t.dtype() != v.dtype() {
        return Err(Error::UnsupportedDType {
            op: "assign",
            dtype: v.dtype(),
            reason: format!(
                "the target is {}, the value {}; convert with to_dtype",
                t.dtype(),
                v.dtype()
            ),
        });
    }
    Ok(())
}

/// Realizes every value (and every target's pending gradient, so it is computed from the
/// old data) in one schedule, then makes each target leaf hold its value.
///
/// This is the parameter update of an optimizer: the leaves keep their identity, so a
/// module's handles see the new data, and they stay leaves (no history). A lazy tensor that
/// reads a target and is realized later sees the new data, except the losses whose backward
/// passes made the pending gradients: those are realized here too, from the old data.
pub fn assign_all(pairs: &[(&Tensor, &Tensor)]) -> Result<()> {
    for (t, v) in pairs {
        check_assignable(t, v)?;
    }
    // Deferred updates (BatchNorm's running statistics) join this schedule.
    let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    let mut pairs: Vec<(&Tensor, &Tensor)> = pairs.to_vec();
    for (t, v) in &deferred {
        if !pairs.iter().any(|(p, _)| std::sync::Arc::ptr_eq(p.node(), t.node())) {
            pairs.push((t, v));
        }
    }
    let r = assign_now(&pairs);
    if r.is_err() {
        // Nothing was assigned: keep the deferred updates for the next try.
        DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            let later = std::mem::replace(&mut *d, deferred.clone());
            d.extend(later);
        });
    }
    r
}

fn assign_now(pairs: &[(&Tensor, &Tensor)]) -> Result<()> {
    let grads: Vec<(usize, Tensor)> = pairs
        .iter()
        .enumerate()
        .filter_map(|(i, (t, _))| {
            t.node()
                .grad()
                .filter(|g| !g.is_realized())
                .map(|g| (i, Tensor::from_node(g)))
        })
        .collect();
    // The losses the gradients came from: realized in the same schedule, so reading one
    // after the update gives the value before it (PyTorch's `loss.item()` after `step()`).
    let mut roots: Vec<Tensor> = Vec::new();
    for (t, _) in pairs {
        for r in t.node().take_grad_roots() {
            if !r.is_realized() && !roots.iter().any(|k| std::sync::Arc::ptr_eq(k.node(), &r)) {
                roots.push(Tensor::from_node(r));
            }
        }
    }
    let mut all: Vec<&Tensor> = pairs.iter().map(|(_, v)| *v).collect();
    all.extend(grads.iter().map(|(_, g)| g));
    all.extend(roots.iter());
    realize_all(&all)?;
    for (t, v) in pairs {
        let r = v.node().realized().expect("just realized");
        let replaced = t.node().replace_leaf_data(r);
        debug_assert!(replaced, "checked above");
    }
    for (i, g) in grads {
        pairs[i].0.node().set_grad(Some(cut(g.node().clone())));
    }
    Ok(())
}

thread_local! {
    /// Assignments waiting for the next [`assign_all`] (an optimizer step): (target, value).
    static DEFERRED: std::cell::RefCell<Vec<(Tensor, Tensor)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Assigns `value` to the leaf `target` with the next [`assign_all`] (an optimizer step),
/// so the update realizes in that step's schedule instead of on its own. BatchNorm updates
/// its running statistics this way. A second deferred assignment to the same target first
/// applies the earlier one; [`deferred_value`] is what the target will hold, and
/// [`flush_deferred`] applies every waiting assignment now.
pub fn assign_deferred(target: &Tensor, value: &Tensor) -> Result<()> {
    check_assignable(target, value)?;
    let waiting = DEFERRED.with(|d| {
        d.borrow()
            .iter()
            .any(|(t, _)| std::sync::Arc::ptr_eq(t.node(), target.node()))
    });
    if waiting {
        flush_deferred()?;
    }
    DEFERRED.with(|d| d.borrow_mut().push((target.clone(), value.clone())));
    Ok(())
}

/// The value `target` will hold once its deferred assignment applies (itself if none waits).
pub fn deferred_value(target: &Tensor) -> Tensor {
    DEFERRED.with(|d| {
        d.borrow()
            .iter()
            .find(|(t, _)| std::sync::Arc::ptr_eq(t.node(), target.node()))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| target.clone())
    })
}

/// Applies every deferred assignment now (one schedule); call it before reading a target.
pub fn flush_deferred() -> Result<()> {
    if DEFERRED.with(|d| d.borrow().is_empty()) {
        return Ok(());
    }
    assign_all(&[])
}

impl Tensor {
    /// Marks this tensor as a parameter: gradients of losses computed from it accumulate in
    /// [`Tensor::grad`]. A leaf (data) is marked in place and the same handle returned; any
    /// other tensor is realized first and a new leaf holding its data is marked and returned.
    /// Floats only.
    pub fn try_requires_grad(&self) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                op: "requires_grad",
                dtype: self.dtype(),
                reason: "only float tensors can require gradients".into(),
            });
        }
        if self.node().kind == OpKind::Leaf {
            self.node().set_requires_grad(true);
            return Ok(self.clone());
        }
        if self.node().requires_grad() {
            return Err(Error::arg(
                "requires_grad",
                format!(
                    "this tensor is the result of `{}` on tensors that require grad, not a leaf; use detach() for a leaf copy",
                    self.node().kind.name()
                ),
            ));
        }
        let t = self.try_realize_detached()?;
        t.node().set_requires_grad(true);
        Ok(t)
    }

    /// Like [`Tensor::try_requires_grad`], but panics with the error message.
    #[track_caller]
    pub fn requires_grad(&self) -> Tensor {
        or_panic(self.try_requires_grad())
    }

    /// True when gradients flow into this tensor (a parameter, or computed from one).
    pub fn requires_grad_flag(&self) -> bool {
        self.node().requires_grad()
    }

    /// True for a tensor with no history: data, not the result of an op (`is_leaf`).
    pub fn is_leaf(&self) -> bool {
        self.node().kind == OpKind::Leaf
    }

    /// The gradient accumulated by backward passes (a lazy tensor until realized), if any.
    pub fn grad(&self) -> Option<Tensor> {
        self.node().grad().map(Tensor::from_node)
    }

    /// Forgets the accumulated gradient (`grad()` is `None` until the next backward).
    pub fn zero_grad(&self) {
        self.node().set_grad(None)
    }

    /// Makes this leaf hold `value`'s data from now on (realizing it): the in-place
    /// parameter update. Same node, so every handle sees the new data; shape and dtype
    /// must match. See [`assign_all`] to update several in one schedule.
    pub fn try_assign(&self, value: &Tensor) -> Result<()> {
        assign_all(&[(self, value)])
    }

    /// Like [`Tensor::try_assign`], but panics with the error message.
    #[track_caller]
    pub fn assign(&self, value: &Tensor) {
        or_panic(self.try_assign(value))
    }

    /// Computes the gradient of this one-element loss with respect to every parameter it
    /// was computed from and adds it to their [`Tensor::grad`] (lazily: nothing runs).
    pub fn try_backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::arg(
                "backward",
                format!(
                    "needs a loss with one element, this tensor has shape {:?}; reduce it (sum, mean) or use backward_with",
                    self.shape()
                ),
            ));
        }
        self.try_backward_with(&Tensor::ones(self.shape(), self.dtype()))
    }

    /// Like [`Tensor::try_backward`], but panics with the error message.
    #[track_caller]
    pub fn backward(&self) {
        or_panic(self.try_backward())
    }

    /// Backward pass seeded with `grad` (the gradient of some scalar with respect to this
    /// tensor; its shape must match): `torch.Tensor.backward(gradient)`.
    pub fn try_backward_with(&self, grad: &Tensor) -> Result<()> {
        if !self.requires_grad_flag() {
            return Err(Error::arg(
                "backward",
                format!(
                    "this tensor (shape {:?}) does not require grad: no parameter marked with requires_grad() \
                     reaches it, or it was built inside no_grad",
                    self.shape()
                ),
            ));
        }
        if grad.shape() != self.shape() {
            return Err(Error::shapes(
                "backward",
                self.shape(),
                grad.shape(),
                "the seed gradient must have the tensor's shape",
            ));
        }
        let _scope = NoGradGuard::new();
        let seed = grad.try_to_dtype(self.dtype())?;
        let order = grad_order(self.node());
        let mut grads: HashMap<usize, Tensor> = HashMap::new();
        grads.insert(self.node().id(), seed);
        for node in order.iter().rev() {
            let Some(g) = grads.remove(&node.id()) else {
                continue;
            };
            if node.inputs.iter().all(|i| !i.requires_grad()) {
                let total = match node.grad() {
                    Some(old) => Tensor::from_node(cut(old)).try_add(&g)?,
                    None => g,
                };
                node.set_grad(Some(cut(total.node().clone())));
                node.add_grad_root(self.node());
                continue;
            }
            let parts = rules::input_grads(node, &g)?;
            for (input, part) in node.inputs.iter().zip(parts) {
                let Some(part) = part else { continue };
                if !input.requires_grad() {
                    continue;
                }
                debug_assert_eq!(part.shape(), input.shape.as_slice(), "gradient of {}", node.kind.name());
                let part = part.try_to_dtype(input.dtype)?;
                let sum = match grads.remove(&input.id()) {
                    Some(acc) => acc.try_add(&part)?,
                    None => part,
                };
                grads.insert(input.id(), sum);
            }
        }
        Ok(())
    }

    /// Like [`Tensor::try_backward_with`], but panics with the error message.
    #[track_caller]
    pub fn backward_with(&self, grad: &Tensor) {
        or_panic(self.try_backward_with(grad))
    }
}

/// The nodes that require grad behind `root`, inputs before users (realized nodes are
/// walked through too: they keep their inputs).
fn grad_order(root: &NodeRef) -> Vec<NodeRef> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(node.id()) {
            continue;
        }
        stack.push((node.clone(), true));
        for input in node.inputs.iter().rev() {
            if input.requires_grad() && !seen.contains(&input.id()) {
                stack.push((input.clone(), false));
            }
        }
    }
    order
}
