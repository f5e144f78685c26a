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

/// Uniform samples in `[-bound, bound)`, f32.
pub fn uniform(shape: &[usize], bound: f64) -> Tensor {
    crate::autograd::no_grad(|| (Tensor::rand(shape.to_vec(), DType::F32) * (2.0 * bound) - bound).realize())
}

/// Kaiming (He) uniform init with negative slope `a` for the fan-in:
/// `U(-b, b)`, `b = sqrt(6 / ((1 + a²) · fan_in))`. With `a = sqrt(5)` this is PyTorch's
/// default layer init, `b = 1 / sqrt(fan_in)`.
pub fn kaiming_uniform(shape: &[usize], a: f64) -> Tensor {
    let (fan_in, _) = fans(shape);
    uniform(shape, (6.0 / ((1.0 + a * a) * fan_in.max(1) as f64)).sqrt())
}

/// Xavier (Glorot) uniform init: `U(-b, b)`, `b = gain · sqrt(6 / (fan_in + fan_out))`.
pub fn xavier_uniform(shape: &[usize], gain: f64) -> Tensor {
    let (fan_in, fan_out) = fans(shape);
    uniform(shape, gain * (6.0 / (fan_in + fan_out).max(1) as f64).sqrt())
}

/// Zeros, f32 (realized data, ready to become a parameter).
pub fn zeros(shape: &[usize]) -> Tensor {
    crate::autograd::no_grad(|| Tensor::zeros(shape.to_vec(), DType::F32).contiguous().realize())
}

/// Ones, f32 (realized data, ready to become a parameter).
pub fn ones(shape: &[usize]) -> Tensor {
    crate::autograd::no_grad(|| Tensor::ones(shape.to_vec(), DType::F32).contiguous().realize())
}
