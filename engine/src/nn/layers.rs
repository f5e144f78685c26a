//! The layers: Linear, Conv2d, pooling, Flatten, activations, Dropout, Sequential,
//! LayerNorm, BatchNorm1d/2d and Embedding.

use super::{init, prefixed, Module};
use crate::autograd::{self, no_grad};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Pair;
use crate::tensor::Tensor;

/// A parameter from initial data: realized, a leaf, `requires_grad`.
fn param(t: Tensor) -> Tensor {
    t.requires_grad()
}

/// A non-trained state tensor (a leaf holding data, updatable with `assign`).
fn buffer(t: Tensor) -> Tensor {
    t.realize().detach()
}

macro_rules! training_flag {
    () => {
        fn train(&mut self, mode: bool) {
            self.training = mode;
        }
        fn is_training(&self) -> bool {
            self.training
        }
    };
}

/// Fully connected layer `y = x Wᵀ + b` over the last dim (`nn.Linear`).
/// Weight `[out, in]`, bias `[out]`, both `U(-1/sqrt(in), 1/sqrt(in))` like PyTorch.
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    training: bool,
}

impl Linear {
    /// A layer with bias, initialized from the runtime generator.
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear::with_bias(in_features, out_features, true)
    }

    /// A layer with or without bias.
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Linear {
        let (weight, bias) = init::default_layer(&[out_features, in_features], bias);
        Linear {
            weight: param(weight),
            bias: bias.map(param),
            training: true,
        }
    }

    /// `(in_features, out_features)`.
    pub fn features(&self) -> (usize, usize) {
        (self.weight.shape()[1], self.weight.shape()[0])
    }
}

impl Module for Linear {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        let (i, o) = self.features();
        if x.rank() == 0 || x.shape()[x.rank() - 1] != i {
            return Err(Error::shapes(
                "nn::Linear",
                x.shape(),
                self.weight.shape(),
                format!("Linear({i} -> {o}) got input {:?}: the last dim must be {i}", x.shape()),
            ));
        }
        let y = x.try_matmul(&self.weight.try_t()?)?;
        match &self.bias {
            Some(b) => y.try_add(b),
            None => Ok(y),
        }
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
    training_flag!();
}

/// 2-D convolution over `[N, C, H, W]` (`nn.Conv2d`): weight `[out, in/groups, kh, kw]`,
/// bias `[out]`, PyTorch's default init. Set the options with the builder methods.
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Tensor,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    groups: usize,
    training: bool,
}

impl Conv2d {
    /// A convolution with stride 1, no padding, dilation 1, one group and a bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: impl Into<Pair>) -> Conv2d {
        Conv2d::with_options(in_channels, out_channels, kernel, 1, 0, 1, 1, true)
    }

    /// A convolution with every option (`groups` must divide both channel counts).
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Pair>,
        stride: impl Into<Pair>,
        padding: impl Into<Pair>,
        dilation: impl Into<Pair>,
        groups: usize,
        bias: bool,
    ) -> Conv2d {
        let k = kernel.into();
        let g = groups.max(1);
        let (weight, bias) = init::default_layer(&[out_channels, in_channels / g, k.0, k.1], bias);
        Conv2d {
            weight: param(weight),
            bias: bias.map(param),
            stride: stride.into(),
            padding: padding.into(),
            dilation: dilation.into(),
            groups,
            training: true,
        }
    }

    /// Sets the stride.
    pub fn stride(mut self, s: impl Into<Pair>) -> Conv2d {
        self.stride = s.into();
        self
    }
    /// Sets the zero padding.
    pub fn padding(mut self, p: impl Into<Pair>) -> Conv2d {
        self.padding = p.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, d: impl Into<Pair>) -> Conv2d {
        self.dilation = d.into();
        self
    }
}

impl Module for Conv2d {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.shape();
        let cin = w[1] * self.groups;
        if x.rank() != 4 || x.shape()[1] != cin {
            return Err(Error::shapes(
                "nn::Conv2d",
                x.shape(),
                w,
                format!(
                    "Conv2d({cin} -> {}, kernel {}x{}) got input {:?}: expects [N, {cin}, H, W]",
                    w[0],
                    w[2],
                    w[3],
                    x.shape()
                ),
            ));
        }
        x.try_conv2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }
    training_flag!();
}

/// Max pooling over `[N, C, H, W]` windows (`nn.MaxPool2d`); stride defaults to the kernel.
pub struct MaxPool2d {
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    training: bool,
}

impl MaxPool2d {
    /// Pooling with stride = kernel and no padding.
    pub fn new(kernel: impl Into<Pair>) -> MaxPool2d {
        let k = kernel.into();
        MaxPool2d {
            kernel: k,
            stride: k,
            padding: Pair(0, 0),
            training: true,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, s: impl Into<Pair>) -> MaxPool2d {
        self.stride = s.into();
        self
    }
    /// Sets the padding (counts as -inf).
    pub fn padding(mut self, p: impl Into<Pair>) -> MaxPool2d {
        self.padding = p.into();
        self
    }
}

impl Module for MaxPool2d {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_max_pool2d(self.kernel, self.stride, self.padding)
    }
    training_flag!();
}

/// Average pooling over `[N, C, H, W]` windows (`nn.AvgPool2d`); stride defaults to the kernel.
pub struct AvgPool2d {
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    training: bool,
}

impl AvgPool2d {
    /// Pooling with stride = kernel and no padding.
    pub fn new(kernel: impl Into<Pair>) -> AvgPool2d {
        let k = kernel.into();
        AvgPool2d {
            kernel: k,
            stride: k,
            padding: Pair(0, 0),
            training: true,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, s: impl Into<Pair>) -> AvgPool2d {
        self.stride = s.into();
        self
    }
    /// Sets the padding (counts as zeros in the average).
    pub fn padding(mut self, p: impl Into<Pair>) -> AvgPool2d {
        self.padding = p.into();
        self
    }
}

impl Module for AvgPool2d {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_avg_pool2d(self.kernel, self.stride, self.padding)
    }
    training_flag!();
}

/// Flattens dims `start..=end` into one (`nn.Flatten`, default dims 1..=-1).
pub struct Flatten {
    start: isize,
    end: isize,
    training: bool,
}

impl Flatten {
    /// Flattens everything but the batch dim.
    pub fn new() -> Flatten {
        Flatten::dims(1, -1)
    }
    /// Flattens dims `start..=end` (negative counts from the end).
    pub fn dims(start: isize, end: isize) -> Flatten {
        Flatten {
            start,
            end,
            training: true,
        }
    }
}

impl Default for Flatten {
    fn default() -> Flatten {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_flatten(self.start, self.end)
    }
    training_flag!();
}

macro_rules! activation {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        pub struct $name {
            training: bool,
        }
        impl $name {
            /// The activation module.
            pub fn new() -> $name {
                $name { training: true }
            }
        }
        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }
        impl Module for $name {
            fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
                x.$method()
            }
            training_flag!();
        }
    )*};
}

activation! {
    /// `max(x, 0)` (`nn.ReLU`).
    ReLU => try_relu;
    /// GELU, exact erf form (`nn.GELU`).
    GELU => try_gelu;
    /// `tanh(x)` (`nn.Tanh`).
    Tanh => try_tanh;
    /// `1 / (1 + e^-x)` (`nn.Sigmoid`).
    Sigmoid => try_sigmoid;
    /// `x · sigmoid(x)` (`nn.SiLU`).
    SiLU => try_silu;
}

/// Zeroes each element with probability `p` in training and scales the rest by `1/(1-p)`
/// (`nn.Dropout`); the identity in evaluation mode. The mask comes from the runtime generator.
pub struct Dropout {
    p: f64,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`.
    pub fn new(p: f64) -> Dropout {
        assert!((0.0..1.0).contains(&p), "Dropout: p must be in [0, 1), got {p}");
        Dropout { p, training: true }
    }
}

impl Module for Dropout {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let dtype = if x.dtype().is_float() { x.dtype() } else { DType::F32 };
        let keep = Tensor::rand(x.shape().to_vec(), DType::F32)
            .try_to_device(x.device())?
            .try_ge(&Tensor::scalar(self.p as f32))?
            .try_to_dtype(dtype)?;
        x.try_mul(&keep.try_mul(&Tensor::scalar(1.0 / (1.0 - self.p)).try_to_dtype(dtype)?)?)
    }
    training_flag!();
}

/// Modules applied one after another (`nn.Sequential`); child `i`'s parameters are named
/// `"i.weight"`, `"i.bias"`, ...
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    training: bool,
}

impl Sequential {
    /// An empty container (the identity).
    pub fn new() -> Sequential {
        Sequential {
            layers: Vec::new(),
            training: true,
        }
    }

    /// Appends a module (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, m: impl Module + 'static) -> Sequential {
        self.push(Box::new(m));
        self
    }

    /// Appends a boxed module; it takes the container's mode.
    pub fn push(&mut self, mut m: Box<dyn Module>) {
        m.train(self.training);
        self.layers.push(m);
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Child `i`.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|b| b.as_ref())
    }
}

impl Default for Sequential {
    fn default() -> Sequential {
        Sequential::new()
    }
}

impl Module for Sequential {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for m in &self.layers {
            h = m.try_forward(&h)?;
        }
        Ok(h)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, m) in self.layers.iter().enumerate() {
            v.extend(prefixed(&i.to_string(), m.named_parameters()));
        }
        v
    }
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, m) in self.layers.iter().enumerate() {
            v.extend(prefixed(&i.to_string(), m.named_buffers()));
        }
        v
    }
    fn train(&mut self, mode: bool) {
        self.training = mode;
        for m in &mut self.layers {
            m.train(mode);
        }
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// Normalization over the trailing `normalized_shape` dims with a learned elementwise
/// scale (`weight`, ones) and shift (`bias`, zeros) (`nn.LayerNorm`).
pub struct LayerNorm {
    /// Scale, shape `normalized_shape`.
    pub weight: Tensor,
    /// Shift, shape `normalized_shape`.
    pub bias: Tensor,
    shape: Vec<usize>,
    eps: f64,
    training: bool,
}

impl LayerNorm {
    /// LayerNorm over the trailing dims `normalized_shape`, eps 1e-5.
    pub fn new(normalized_shape: &[usize]) -> LayerNorm {
        LayerNorm::with_eps(normalized_shape, 1e-5)
    }
    /// LayerNorm with a given eps.
    pub fn with_eps(normalized_shape: &[usize], eps: f64) -> LayerNorm {
        LayerNorm {
            weight: param(init::ones(normalized_shape)),
            bias: param(init::zeros(normalized_shape)),
            shape: normalized_shape.to_vec(),
            eps,
            training: true,
        }
    }
}

impl Module for LayerNorm {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.shape.len();
        if x.rank() < k || x.shape()[x.rank() - k..] != self.shape[..] {
            return Err(Error::shapes(
                "nn::LayerNorm",
                x.shape(),
                &self.shape,
                format!(
                    "LayerNorm({:?}) got input {:?}: the trailing dims must match",
                    self.shape,
                    x.shape()
                ),
            ));
        }
        let dims: Vec<isize> = (x.rank() - k..x.rank()).map(|d| d as isize).collect();
        let mean = x.try_mean(dims.clone(), true)?;
        let xc = x.try_sub(&mean)?;
        let var = xc.try_mul(&xc)?.try_mean(dims, true)?;
        let inv = var
            .try_add(&Tensor::scalar(self.eps).try_to_dtype(var.dtype())?)?
            .try_rsqrt()?;
        xc.try_mul(&inv)?.try_mul(&self.weight)?.try_add(&self.bias)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".to_string(), self.weight.clone()),
            ("bias".to_string(), self.bias.clone()),
        ]
    }
    training_flag!();
}

/// The shared body of BatchNorm1d/2d: per-channel (dim 1) normalization.
struct BatchNorm {
    name: &'static str,
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    eps: f64,
    momentum: f64,
    training: bool,
}

impl BatchNorm {
    fn new(name: &'static str, c: usize, eps: f64, momentum: f64) -> BatchNorm {
        BatchNorm {
            name,
            weight: param(init::ones(&[c])),
            bias: param(init::zeros(&[c])),
            running_mean: buffer(init::zeros(&[c])),
            running_var: buffer(init::ones(&[c])),
            eps,
            momentum,
            training: true,
        }
    }

    fn forward(&self, x: &Tensor, ranks: &[usize]) -> Result<Tensor> {
        let c = self.weight.shape()[0];
        if !ranks.contains(&x.rank()) || x.shape()[1] != c {
            return Err(Error::shapes(
                "nn::BatchNorm",
                x.shape(),
                &[c],
                format!(
                    "{}({c}) got input {:?}: expects rank {:?} with {c} channels in dim 1",
                    self.name,
                    x.shape(),
                    ranks
                ),
            ));
        }
        let mut bshape = vec![1usize; x.rank()];
        bshape[1] = c;
        let dims: Vec<isize> = (0..x.rank()).filter(|&d| d != 1).map(|d| d as isize).collect();
        let per_channel = |t: &Tensor| t.try_reshape(bshape.clone());
        let dt = x.dtype();
        let (mean, var) = if self.training {
            let mean = x.try_mean(dims.clone(), true)?;
            let xc = x.try_sub(&mean)?;
            let var = xc.try_mul(&xc)?.try_mean(dims.clone(), true)?;
            let n: usize = dims.iter().map(|&d| x.shape()[d as usize]).product();
            // Running statistics: unbiased variance, updated in place (PyTorch's rule).
            no_grad(|| -> Result<()> {
                let m = self.momentum;
                let bm = mean
                    .detach()
                    .try_reshape([c])?
                    .try_to_dtype(self.running_mean.dtype())?;
                let bv = var
                    .detach()
                    .try_reshape([c])?
                    .try_to_dtype(self.running_var.dtype())?
                    .try_mul(
                        &Tensor::scalar(n as f64 / (n.max(2) - 1) as f64).try_to_dtype(self.running_var.dtype())?,
                    )?;
                // Lazy: the update joins the next optimizer step's schedule.
                let old_mean = autograd::deferred_value(&self.running_mean);
                let old_var = autograd::deferred_value(&self.running_var);
                let nm = (&old_mean * (1.0 - m)).try_add(&(bm * m))?;
                let nv = (&old_var * (1.0 - m)).try_add(&(bv * m))?;
                autograd::assign_deferred(&self.running_mean, &nm)?;
                autograd::assign_deferred(&self.running_var, &nv)
            })?;
            (mean, var)
        } else {
            autograd::flush_deferred()?;
            (
                per_channel(&self.running_mean.try_to_dtype(dt)?)?,
                per_channel(&self.running_var.try_to_dtype(dt)?)?,
            )
        };
        let inv = var
            .try_add(&Tensor::scalar(self.eps).try_to_dtype(var.dtype())?)?
            .try_rsqrt()?;
        x.try_sub(&mean)?
            .try_mul(&inv)?
            .try_mul(&per_channel(&self.weight)?)?
            .try_add(&per_channel(&self.bias)?)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".to_string(), self.weight.clone()),
            ("bias".to_string(), self.bias.clone()),
        ]
    }

    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        // Saving or loading reads or replaces the buffers: apply waiting updates first (an
        // error here, an interrupt, leaves them waiting for the next step).
        let _ = autograd::flush_deferred();
        vec![
            ("running_mean".to_string(), self.running_mean.clone()),
            ("running_var".to_string(), self.running_var.clone()),
        ]
    }
}

macro_rules! batchnorm {
    ($($(#[$doc:meta])* $name:ident ranks $ranks:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name(BatchNorm);
        impl $name {
            /// BatchNorm over `num_features` channels, eps 1e-5, momentum 0.1.
            pub fn new(num_features: usize) -> $name {
                $name::with_options(num_features, 1e-5, 0.1)
            }
            /// BatchNorm with a given eps and momentum (weight of the new batch in the running stats).
            pub fn with_options(num_features: usize, eps: f64, momentum: f64) -> $name {
                $name(BatchNorm::new(stringify!($name), num_features, eps, momentum))
            }
            /// The running mean (a buffer, `[C]`), with the last training batch's update
            /// applied (it otherwise waits for the optimizer step).
            pub fn running_mean(&self) -> &Tensor {
                let _ = crate::autograd::flush_deferred();
                &self.0.running_mean
            }
            /// The running (unbiased) variance (a buffer, `[C]`), updated as `running_mean`.
            pub fn running_var(&self) -> &Tensor {
                let _ = crate::autograd::flush_deferred();
                &self.0.running_var
            }
        }
        impl Module for $name {
            fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
                self.0.forward(x, &$ranks)
            }
            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                self.0.named_parameters()
            }
            fn named_buffers(&self) -> Vec<(String, Tensor)> {
                self.0.named_buffers()
            }
            fn train(&mut self, mode: bool) {
                self.0.training = mode;
            }
            fn is_training(&self) -> bool {
                self.0.training
            }
        }
    )*};
}

batchnorm! {
    /// Batch normalization of `[N, C]` or `[N, C, L]` (`nn.BatchNorm1d`): batch statistics in
    /// training (running statistics updated with `assign`), running statistics in evaluation.
    BatchNorm1d ranks [2, 3];
    /// Batch normalization of `[N, C, H, W]` (`nn.BatchNorm2d`): batch statistics in
    /// training (running statistics updated with `assign`), running statistics in evaluation.
    BatchNorm2d ranks [4];
}

/// A lookup table of `num` vectors of size `dim` (`nn.Embedding`), initialized `N(0, 1)`;
/// input: integer ids of any shape, output: `ids.shape + [dim]`.
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Tensor,
    training: bool,
}

impl Embedding {
    /// A table of `num_embeddings` rows of `embedding_dim`.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Embedding {
        let w = no_grad(|| Tensor::randn([num_embeddings, embedding_dim], DType::F32).realize());
        Embedding {
            weight: param(w),
            training: true,
        }
    }
}

impl Module for Embedding {
    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                op: "nn::Embedding",
                dtype: x.dtype(),
                reason: "expects integer ids".to_string(),
            });
        }
        x.try_embedding(&self.weight)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
    training_flag!();
}
