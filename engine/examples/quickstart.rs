//! A first look at Born: lazy tensors, fusion made visible, and results.
//! Run: `cargo run --release -p born --example quickstart`.

use born::prelude::*;

fn main() {
    manual_seed(0);
    let x = Tensor::randn([4, 5], DType::F32);
    println!("x = {x}\n");

    // Nothing runs yet: these lines only build a graph.
    let y = ((&x * 2.0).exp() + 1.0).log().sum(1, false);
    println!(
        "the plan for y (mul, exp, add, log and sum fuse into one kernel):\n{}",
        y.schedule()
    );
    println!("y = {y}\n");

    // Broadcasting, matmul and a softmax.
    let w = Tensor::arange(0.0, 15.0, 1.0, DType::F32).reshape([5, 3]);
    let logits = x.matmul(&w) / 10.0;
    let probs = logits.softmax(-1);
    println!("probs = {probs}");
    println!("rows sum to {}", probs.sum(-1, false));
    println!("argmax per row = {}", probs.argmax(-1, false));

    // Views cost nothing: a transpose of realized data is new strides on the same buffer.
    let t = w.t();
    println!("\nw.t() = {t}");

    let big = Tensor::rand([1000, 1000], DType::F32);
    let m = big.mean_all();
    println!("\nmean of 1e6 uniform samples = {:.4}", m.item::<f32>());
    let stats = born::runtime().stats();
    println!("runtime: {} realizes, {} kernels run", stats.realizes, stats.kernels);
}
