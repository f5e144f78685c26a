//! Trains the MLP 784-128-10 (ReLU) of `../shared/bench/train_fashion.py` and prints
//! per-epoch loss, test accuracy and seconds.
//!
//! `cargo run --release -p born --example mnist_mlp -- --dataset fashion-mnist`
//! (`--dataset mnist-test-split` trains on the real MNIST test digits: first 8,000 / last 2,000).

mod common;

use born::prelude::*;

fn main() {
    let o = common::Options::from_args(3);
    let data = o.load();
    manual_seed(o.seed);
    let mut model = nn::Sequential::new()
        .add(nn::Linear::new(784, 128))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(128, 10));
    common::train("mlp", &mut model, &data, &[784], &o);
}
