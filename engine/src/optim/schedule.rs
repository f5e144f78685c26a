//! Learning-rate schedules: each `step` (usually once an epoch, or once a step for warmup)
//! sets the optimizer's learning rate from a closed form of the step count.

use super::Optimizer;

/// A learning-rate schedule.
pub trait LrScheduler {
    /// Advances one step and sets the optimizer's learning rate.
    fn step(&mut self, opt: &mut dyn Optimizer);
}

/// Multiplies the learning rate by `gamma` every `step_size` steps (`StepLR`):
/// `lr = base · gamma^⌊t / step_size⌋`.
pub struct StepLR {
    base: f64,
    step_size: usize,
    gamma: f64,
    t: usize,
}

impl StepLR {
    /// A schedule starting from the optimizer's current learning rate.
    pub fn new(opt: &dyn Optimizer, step_size: usize, gamma: f64) -> StepLR {
        StepLR {
            base: opt.lr(),
            step_size: step_size.max(1),
            gamma,
            t: 0,
        }
    }
}

impl LrScheduler for StepLR {
    fn step(&mut self, opt: &mut dyn Optimizer) {
        self.t += 1;
        opt.set_lr(self.base * self.gamma.powi((self.t / self.step_size) as i32));
    }
}

/// Cosine annealing from the base rate to `eta_min` over `t_max` steps
/// (`CosineAnnealingLR`): `lr = eta_min + (base - eta_min)·(1 + cos(π·t/t_max))/2`.
pub struct CosineAnnealingLR {
    base: f64,
    t_max: usize,
    eta_min: f64,
    t: usize,
}

impl CosineAnnealingLR {
    /// A schedule starting from the optimizer's current learning rate.
    pub fn new(opt: &dyn Optimizer, t_max: usize, eta_min: f64) -> CosineAnnealingLR {
        CosineAnnealingLR {
            base: opt.lr(),
            t_max: t_max.max(1),
            eta_min,
            t: 0,
        }
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn step(&mut self, opt: &mut dyn Optimizer) {
        self.t += 1;
        let t = self.t.min(self.t_max) as f64;
        let cos = (std::f64::consts::PI * t / self.t_max as f64).cos();
        opt.set_lr(self.eta_min + (self.base - self.eta_min) * (1.0 + cos) / 2.0);
    }
}

/// Linear warmup from `start_factor · base` to `base` over `warmup_steps` steps, then
/// constant (`LinearLR`): `lr = base · (s + (1 - s)·min(t, W)/W)`. Set the optimizer's
/// rate to the start value on creation.
pub struct LinearWarmup {
    base: f64,
    warmup: usize,
    start: f64,
    t: usize,
}

impl LinearWarmup {
    /// Warmup towards the optimizer's current learning rate; sets it to `start_factor · lr` now.
    pub fn new(opt: &mut dyn Optimizer, warmup_steps: usize, start_factor: f64) -> LinearWarmup {
        let base = opt.lr();
        opt.set_lr(base * start_factor);
        LinearWarmup {
            base,
            warmup: warmup_steps.max(1),
            start: start_factor,
            t: 0,
        }
    }
}

impl LrScheduler for LinearWarmup {
    fn step(&mut self, opt: &mut dyn Optimizer) {
        self.t += 1;
        let f = self.t.min(self.warmup) as f64 / self.warmup as f64;
        opt.set_lr(self.base * (self.start + (1.0 - self.start) * f));
    }
}
