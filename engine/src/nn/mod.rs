//! Neural-network building blocks: the [`Module`] trait, layers, losses ([`loss`]),
//! initializers ([`init`]) and `save`/`load` of parameters as safetensors.
//!
//! ```
//! use born::prelude::*;
//! use born::nn::{self, Module};
//! let model = nn::Sequential::new().add(nn::Linear::new(4, 8)).add(nn::ReLU::new()).add(nn::Linear::new(8, 2));
//! let y = model.forward(&Tensor::rand([3, 4], DType::F32));
//! assert_eq!(y.shape(), &[3, 2]);
//! assert_eq!(model.named_parameters()[0].0, "0.weight");
//! ```

mod attention;
pub mod init;
mod layers;
pub mod loss;
mod serialize;

pub use attention::MultiHeadAttention;
pub use layers::{
    AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear, MaxPool2d, ReLU,
    Sequential, SiLU, Sigmoid, Tanh, GELU,
};
pub use serialize::{load, save};

use crate::error::Result;
use crate::tensor::Tensor;

/// A layer or model: a forward function over tensors plus the parameters it trains.
pub trait Module {
    /// Applies the module, or says why the input does not fit (naming the layer and shapes).
    fn try_forward(&self, x: &Tensor) -> Result<Tensor>;

    /// Like [`Module::try_forward`], but panics with the error message.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        crate::tensor::or_panic(self.try_forward(x))
    }

    /// The trainable parameters with their names (`"weight"`, `"0.bias"`, ...), in a fixed order.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// The trainable parameters (what an optimizer updates), in [`Module::named_parameters`] order.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, t)| t).collect()
    }

    /// State that is saved but not trained (BatchNorm's running statistics), with names.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Moves every parameter and buffer to `device` in place (`model.to(device)` in
    /// PyTorch): handles already taken, an optimizer's among them, see the moved data.
    fn try_to_device(&self, device: crate::graph::Device) -> Result<()> {
        for (_, t) in self.named_parameters().into_iter().chain(self.named_buffers()) {
            t.try_move_to(device)?;
        }
        Ok(())
    }

    /// Like [`Module::try_to_device`], but panics with the error message.
    #[track_caller]
    fn to_device(&self, device: crate::graph::Device) {
        crate::tensor::or_panic(self.try_to_device(device))
    }

    /// Switches training mode (`true`) or evaluation mode (`false`): Dropout and BatchNorm
    /// behave differently. Containers pass it on to their children.
    fn train(&mut self, mode: bool);

    /// Evaluation mode: `train(false)`.
    fn eval(&mut self) {
        self.train(false)
    }

    /// Whether the module is in training mode (the default for new modules).
    fn is_training(&self) -> bool;
}

/// Prefixes the names of a child's parameters: `"weight"` of child `0` becomes `"0.weight"`.
pub(crate) fn prefixed(prefix: &str, named: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    named.into_iter().map(|(n, t)| (format!("{prefix}.{n}"), t)).collect()
}
