//! Convolution speed, side by side with `benches/compare/conv_torch.py`
//! (same shapes, same work), on one thread and on two.
//!
//! - `conv2d_fwd_bwd/mnist/{1,2}`: x `[64, 28, 28, 1]` → Conv2D 32 filters
//!   3×3 → Conv2D 64 filters 3×3 (valid, stride 1, with bias), then the
//!   gradients of both kernels and biases (not of x, which a first layer
//!   never needs) for a fixed upstream gradient. Throughput: 64 images.
//! - `conv2d_fwd_bwd/cifar/{1,2}`: x `[32, 32, 32, 3]` → 64 filters 3×3 →
//!   128 filters 3×3, likewise. Throughput: 32 images.
//! - `train_step/mnist_cnn/{1,2}`: one training step of
//!   `examples/mnist_cnn.rs`'s network on a batch of 64 (forward in
//!   training mode, sparse cross-entropy from logits, gradients, Adam
//!   update, moving-statistics update). Throughput: 64 images.
//!
//! Run: `cargo bench --bench conv` and `python3 benches/compare/conv_torch.py`
//! on a quiet machine; compare images per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::layers::Mode;
use tapeflow::losses::{Loss, SparseCategoricalCrossentropy};
use tapeflow::ops::ConvSpec;
use tapeflow::optimizers::{Adam, Optimizer};
use tapeflow::{GradientTape, Param, Tensor};

#[allow(dead_code)]
#[path = "../examples/mnist_cnn.rs"]
mod mnist_cnn;

fn uniform(shape: &[usize], seed: u64) -> Tensor {
    Tensor::rand_uniform_with_rng(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
        .expect("a small shape")
}

/// Two convolutions, forward and the kernel/bias gradients.
fn two_convs(c: &mut Criterion, name: &str, x_shape: [usize; 4], filters: [usize; 2]) {
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(x_shape[0] as u64));
    let x = uniform(&x_shape, 0);
    let w1 = Param::new(
        "w1",
        uniform(&[3, 3, x_shape[3], filters[0]], 1).mul_scalar(0.1),
    );
    let b1 = Param::new("b1", uniform(&[filters[0]], 2));
    let w2 = Param::new(
        "w2",
        uniform(&[3, 3, filters[0], filters[1]], 3).mul_scalar(0.1),
    );
    let b2 = Param::new("b2", uniform(&[filters[1]], 4));
    let out = [x_shape[0], x_shape[1] - 4, x_shape[2] - 4, filters[1]];
    let g = uniform(&out, 5);
    for threads in [1, 2] {
        tapeflow::set_num_threads(threads);
        group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, _| {
            b.iter(|| {
                let tape = GradientTape::new();
                let h = tape
                    .constant(black_box(&x))
                    .conv2d(&tape.param(&w1), Some(&tape.param(&b1)), ConvSpec::new())
                    .expect("shapes fit");
                let y = h
                    .conv2d(&tape.param(&w2), Some(&tape.param(&b2)), ConvSpec::new())
                    .expect("shapes fit");
                tape.gradient_with(&y, &g, [&w1, &b1, &w2, &b2])
                    .expect("gradients")
            });
        });
    }
    tapeflow::set_num_threads(0);
    group.finish();
}

fn conv_layers(c: &mut Criterion) {
    two_convs(c, "mnist", [64, 28, 28, 1], [32, 64]);
    two_convs(c, "cifar", [32, 32, 32, 3], [64, 128]);
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(64));
    let x = uniform(&[64, 28, 28, 1], 0).map(|v| v.abs());
    let y = Tensor::from_vec((0..64).map(|i| (i % 10) as f32).collect(), &[64]).expect("64 labels");
    let loss = SparseCategoricalCrossentropy { from_logits: true };
    for threads in [1, 2] {
        tapeflow::set_num_threads(threads);
        let mut model = mnist_cnn::model();
        model.build().expect("the example's model builds");
        let mut adam = Adam::new(0.001);
        group.bench_with_input(BenchmarkId::new("mnist_cnn", threads), &threads, |b, _| {
            b.iter(|| {
                let tape = GradientTape::new();
                let pred = model
                    .forward(&tape, black_box(&x), Mode::Train)
                    .expect("forward");
                let l = loss
                    .per_sample(pred, tape.constant(&y))
                    .expect("loss")
                    .mean();
                let grads = tape
                    .gradient(&l, model.trainable_params())
                    .expect("gradients");
                drop(tape);
                adam.apply_gradients(&grads, &mut model.params_mut())
                    .expect("update");
                model.apply_state_updates().expect("statistics");
            });
        });
    }
    tapeflow::set_num_threads(0);
    group.finish();
}

criterion_group!(benches, conv_layers, train_step);
criterion_main!(benches);
