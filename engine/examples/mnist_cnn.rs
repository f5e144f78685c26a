//! Trains the CNN of `../shared/bench/train_fashion.py` (conv 1→32 3x3, ReLU, max-pool 2,
//! conv 32→64 3x3, ReLU, max-pool 2, linear 1600→128, ReLU, linear 128→10) and prints
//! per-epoch loss, test accuracy and seconds.
//!
//! `cargo run --release -p born --example mnist_cnn -- --dataset fashion-mnist`

mod common;

use born::prelude::*;

fn main() {
    let o = common::Options::from_args(2);
    let data = o.load();
    manual_seed(o.seed);
    let mut model = nn::Sequential::new()
        .add(nn::Conv2d::new(1, 32, 3))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(32, 64, 3))
        .add(nn::ReLU::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(nn::Linear::new(1600, 128))
        .add(nn::ReLU::new())
        .add(nn::Linear::new(128, 10));
    common::train("cnn", &mut model, &data, &[1, 28, 28], &o);
}
