//! Parameter initializers (PyTorch's `torch.nn.init`), drawing from the runtime's
//! generator (seed it with [`crate::manual_seed`]). They return plain f32 tensors; layers
//! mark them with `requires_grad()`.

use crate::dtype::DType;
use crate::tensor::Tensor;

/// `(fan_in, fan_out)` of a weight shape: `[out, in, k...]` as in PyTorch.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => (shape[1] * receptive, shape[0] * receptive),
    }
}

/// Uniform samples in `[-bound, bound)`, f32 (`torch.nn.init.uniform_(w, -bound, bound)`).
pub fn uniform(shape: &[usize], bound: f64) -> Tensor {
    Tensor::uniform(shape.to_vec(), -bound, bound, DType::F32).realize()
}

/// Kaiming (He) uniform init with negative slope `a` for the fan-in:
/// `U(-b, b)`, `b = sqrt(6 / ((1 + a²) · fan_in))`. With `a = sqrt(5)` this is PyTorch's
/// default layer init, `b = 1 / sqrt(fan_in)`. The bound is computed in PyTorch's order of
/// operations, so the same seed gives the same weights.
pub fn kaiming_uniform(shape: &[usize], a: f64) -> Tensor {
    let (fan_in, _) = fans(shape);
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    uniform(shape, 3f64.sqrt() * (gain / (fan_in as f64).sqrt()))
}

/// Xavier (Glorot) uniform init: `U(-b, b)`, `b = gain · sqrt(6 / (fan_in + fan_out))`
/// (computed as PyTorch does, `sqrt(3) · gain · sqrt(2 / (fan_in + fan_out))`).
pub fn xavier_uniform(shape: &[usize], gain: f64) -> Tensor {
    let (fan_in, fan_out) = fans(shape);
    uniform(shape, 3f64.sqrt() * (gain * (2.0 / (fan_in + fan_out) as f64).sqrt()))
}

/// PyTorch's default init of a layer whose weight has `shape` (`Linear`, `Conv2d`):
/// Kaiming uniform with `a = sqrt(5)` for the weight, then `U(-1/sqrt(fan_in), …)` for
/// the bias, drawn in that order.
pub fn default_layer(shape: &[usize], bias: bool) -> (Tensor, Option<Tensor>) {
    let weight = kaiming_uniform(shape, 5f64.sqrt());
    let (fan_in, _) = fans(shape);
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    (weight, bias.then(|| uniform(&[shape[0]], bound)))
}

/// Zeros, f32 (realized data, ready to become a parameter).
pub fn zeros(shape: &[usize]) -> Tensor {
    crate::autograd::no_grad(|| Tensor::zeros(shape.to_vec(), DType::F32).contiguous().realize())
}

/// Ones, f32 (realized data, ready to become a parameter).
pub fn ones(shape: &[usize]) -> Tensor {
    crate::autograd::no_grad(|| Tensor::ones(shape.to_vec(), DType::F32).contiguous().realize())
}
