//! Optimizers (SGD, Adam, AdamW) with PyTorch's formulas and defaults, gradient clipping,
//! and learning-rate schedules. Each `step` builds the update of every parameter (and its
//! state) lazily and realizes all of it in one [`crate::assign_all`] schedule.

mod schedule;

pub use schedule::{CosineAnnealingLR, LinearWarmup, LrScheduler, StepLR};

use crate::autograd::{assign_all, no_grad};
use crate::error::Result;
use crate::tensor::Tensor;

/// An optimizer over a fixed list of parameters.
pub trait Optimizer {
    /// Updates every parameter that has a gradient (one schedule for the whole update).
    fn step(&mut self) -> Result<()>;
    /// Clears the gradients of all parameters.
    fn zero_grad(&mut self);
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (what schedules do).
    fn set_lr(&mut self, lr: f64);
}

/// A zero state tensor like `p`, on `p`'s device: a leaf holding data, updatable with
/// `assign`. (Create optimizers after moving the model, as in PyTorch.)
fn state_like(p: &Tensor) -> Tensor {
    no_grad(|| p.zeros_like().contiguous().to_device(p.device()).realize().detach())
}

fn zero_all(params: &[Tensor]) {
    for p in params {
        p.zero_grad();
    }
}

/// Stochastic gradient descent with momentum, Nesterov momentum and (L2) weight decay
/// (`torch.optim.SGD`): `g = grad + wd·p`; `buf = μ·buf + (1-dampening)·g` (`buf = g` on
/// the first step); `g = g + μ·buf` (Nesterov) or `buf`; `p -= lr·g`.
pub struct SGD {
    params: Vec<Tensor>,
    bufs: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
}

impl SGD {
    /// Plain SGD with learning rate `lr`.
    pub fn new(params: Vec<Tensor>, lr: f64) -> SGD {
        let n = params.len();
        SGD {
            params,
            bufs: vec![None; n],
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
    /// Sets the momentum factor μ.
    pub fn momentum(mut self, momentum: f64) -> SGD {
        self.momentum = momentum;
        self
    }
    /// Sets the dampening of the momentum.
    pub fn dampening(mut self, dampening: f64) -> SGD {
        self.dampening = dampening;
        self
    }
    /// Turns on Nesterov momentum (needs momentum > 0 and no dampening).
    pub fn nesterov(mut self, nesterov: bool) -> SGD {
        self.nesterov = nesterov;
        self
    }
    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, wd: f64) -> SGD {
        self.weight_decay = wd;
        self
    }
}

impl Optimizer for SGD {
    fn step(&mut self) -> Result<()> {
        no_grad(|| {
            let mut targets: Vec<Tensor> = Vec::new();
            let mut values: Vec<Tensor> = Vec::new();
            for (p, buf) in self.params.iter().zip(self.bufs.iter_mut()) {
                let Some(grad) = p.grad() else { continue };
                let mut g = grad.try_to_dtype(p.dtype())?;
                if self.weight_decay != 0.0 {
                    g = g.try_add(&(p * self.weight_decay))?;
                }
                if self.momentum != 0.0 {
                    let new_buf = match buf {
                        None => g.clone(),
                        Some(b) => (&*b * self.momentum).try_add(&(&g * (1.0 - self.dampening)))?,
                    };
                    let b = buf.get_or_insert_with(|| state_like(p)).clone();
                    g = if self.nesterov {
                        g.try_add(&(&new_buf * self.momentum))?
                    } else {
                        new_buf.clone()
                    };
                    targets.push(b);
                    values.push(new_buf);
                }
                targets.push(p.clone());
                values.push(p.try_sub(&(g * self.lr))?);
            }
            let pairs: Vec<(&Tensor, &Tensor)> = targets.iter().zip(values.iter()).collect();
            assign_all(&pairs)
        })
    }
    fn zero_grad(&mut self) {
        zero_all(&self.params)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr
    }
}

/// Adam (`torch.optim.Adam`, L2 weight decay added to the gradient) or AdamW
/// (`torch.optim.AdamW`, decoupled decay `p *= 1 - lr·wd`):
/// `m = β1·m + (1-β1)·g`, `v = β2·v + (1-β2)·g²`,
/// `p -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps)`.
pub struct Adam {
    params: Vec<Tensor>,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
    steps: Vec<u64>,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
}

/// AdamW (`torch.optim.AdamW`): [`Adam`] with decoupled weight decay `p *= 1 - lr·wd`
/// (default 0.01), betas (0.9, 0.999), eps 1e-8.
pub struct AdamW(Adam);

impl AdamW {
    /// AdamW with PyTorch's defaults (weight decay 0.01).
    pub fn new(params: Vec<Tensor>, lr: f64) -> AdamW {
        AdamW(Adam {
            weight_decay: 0.01,
            decoupled: true,
            ..Adam::new(params, lr)
        })
    }
    /// Sets β1 and β2.
    pub fn betas(self, b1: f64, b2: f64) -> AdamW {
        AdamW(self.0.betas(b1, b2))
    }
    /// Sets eps.
    pub fn eps(self, eps: f64) -> AdamW {
        AdamW(self.0.eps(eps))
    }
    /// Sets the decoupled weight decay.
    pub fn weight_decay(self, wd: f64) -> AdamW {
        AdamW(self.0.weight_decay(wd))
    }
}

impl Optimizer for AdamW {
    fn step(&mut self) -> Result<()> {
        self.0.step()
    }
    fn zero_grad(&mut self) {
        self.0.zero_grad()
    }
    fn lr(&self) -> f64 {
        self.0.lr()
    }
    fn set_lr(&mut self, lr: f64) {
        self.0.set_lr(lr)
    }
}

impl Adam {
    /// Adam with PyTorch's defaults (betas (0.9, 0.999), eps 1e-8, no weight decay).
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adam {
        let n = params.len();
        Adam {
            params,
            m: vec![None; n],
            v: vec![None; n],
            steps: vec![0; n],
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
    /// Sets β1 and β2.
    pub fn betas(mut self, b1: f64, b2: f64) -> Adam {
        self.betas = (b1, b2);
        self
    }
    /// Sets eps.
    pub fn eps(mut self, eps: f64) -> Adam {
        self.eps = eps;
        self
    }
    /// Sets the weight decay (L2 for Adam, decoupled for AdamW).
    pub fn weight_decay(mut self, wd: f64) -> Adam {
        self.weight_decay = wd;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        no_grad(|| {
            let (b1, b2) = self.betas;
            let mut targets: Vec<Tensor> = Vec::new();
            let mut values: Vec<Tensor> = Vec::new();
            for i in 0..self.params.len() {
                let p = &self.params[i];
                let Some(grad) = p.grad() else { continue };
                self.steps[i] += 1;
                let t = self.steps[i] as i32;
                let mut g = grad.try_to_dtype(p.dtype())?;
                let mut base = p.clone();
                if self.weight_decay != 0.0 {
                    if self.decoupled {
                        base = p * (1.0 - self.lr * self.weight_decay);
                    } else {
                        g = g.try_add(&(p * self.weight_decay))?;
                    }
                }
                let m = self.m[i].get_or_insert_with(|| state_like(p)).clone();
                let v = self.v[i].get_or_insert_with(|| state_like(p)).clone();
                let new_m = (&m * b1).try_add(&(&g * (1.0 - b1)))?;
                let new_v = (&v * b2).try_add(&(g.try_mul(&g)? * (1.0 - b2)))?;
                let bc1 = 1.0 - b1.powi(t);
                let bc2 = 1.0 - b2.powi(t);
                let denom = (new_v.try_sqrt()? * (1.0 / bc2.sqrt())) + self.eps;
                let new_p = base.try_sub(&(new_m.try_div(&denom)? * (self.lr / bc1)))?;
                targets.extend([m, v, p.clone()]);
                values.extend([new_m, new_v, new_p]);
            }
            let pairs: Vec<(&Tensor, &Tensor)> = targets.iter().zip(values.iter()).collect();
            assign_all(&pairs)
        })
    }
    fn zero_grad(&mut self) {
        zero_all(&self.params)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr
    }
}

/// Scales the gradients of `params` in place so that their global L2 norm is at most
/// `max_norm` (`torch.nn.utils.clip_grad_norm_`, coefficient `max_norm / (norm + 1e-6)`);
/// returns the norm before clipping. Reads the norm on the host (one realization).
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Result<f64> {
    no_grad(|| {
        let grads: Vec<(&Tensor, Tensor)> = params.iter().filter_map(|p| p.grad().map(|g| (p, g))).collect();
        if grads.is_empty() {
            return Ok(0.0);
        }
        let mut total: Option<Tensor> = None;
        for (_, g) in &grads {
            let g = g.try_to_dtype(crate::dtype::DType::F64)?;
            let s = g.try_mul(&g)?.try_sum_all()?;
            total = Some(match total {
                None => s,
                Some(t) => t.try_add(&s)?,
            });
        }
        let norm = total.expect("non-empty").try_item::<f64>()?.sqrt();
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            for (p, g) in &grads {
                let scaled = g * coef;
                p.node().set_grad(Some(scaled.node().clone()));
            }
        }
        Ok(norm)
    })
}
