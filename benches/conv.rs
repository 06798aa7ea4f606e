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
//! Each step runs inside [`tapeflow::in_pool`], as a training loop should
//! call it, so the kernels share work with the pool without a thread
//! hand-over per product.
//!
//! Run: `cargo bench --bench conv` and `python3 benches/compare/conv_torch.py`
//! on a quiet machine; compare images per second (criterion's `thrpt` in
//! elem/s is images per second).
//!
//! Instruction counts, which do not depend on the machine's load: build
//! with `cargo bench --no-run --bench conv` (it prints the executable's
//! path) and run that executable under
//! `valgrind --tool=callgrind <exe> --once <mnist|cifar|mnist_cnn> <steps> [threads]`,
//! which runs the workload `steps` times (on one thread unless `threads`
//! says otherwise) outside criterion;
//! add `--toggle-collect='*TwoConvs::step' --toggle-collect='*TrainStep::step'`
//! to count the steps only (not the set-up).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::layers::Mode;
use tapeflow::losses::{Loss, SparseCategoricalCrossentropy};
use tapeflow::models::Sequential;
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

/// Two 3×3 convolutions with bias, their input and upstream gradient.
struct TwoConvs {
    x: Tensor,
    params: [Param; 4],
    g: Tensor,
}

impl TwoConvs {
    fn new(x_shape: [usize; 4], filters: [usize; 2]) -> Self {
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
        TwoConvs {
            x: uniform(&x_shape, 0),
            params: [w1, b1, w2, b2],
            g: uniform(&out, 5),
        }
    }

    /// Forward through both convolutions and the gradients of the four
    /// parameters, inside the pool. Never inlined, so that callgrind's
    /// `--toggle-collect` can find it.
    #[inline(never)]
    fn step(&self) {
        tapeflow::in_pool(|| {
            let tape = GradientTape::new();
            let [w1, b1, w2, b2] = &self.params;
            let h = tape
                .constant(black_box(&self.x))
                .conv2d(&tape.param(w1), Some(&tape.param(b1)), ConvSpec::new())
                .expect("shapes fit");
            let y = h
                .conv2d(&tape.param(w2), Some(&tape.param(b2)), ConvSpec::new())
                .expect("shapes fit");
            black_box(
                tape.gradient_with(&y, &self.g, [w1, b1, w2, b2])
                    .expect("gradients"),
            );
        });
    }
}

/// One Adam step of the example's CNN on a fixed batch of 64.
struct TrainStep {
    model: Sequential,
    adam: Adam,
    x: Tensor,
    y: Tensor,
}

impl TrainStep {
    fn new() -> Self {
        let mut model = mnist_cnn::model();
        model.build().expect("the example's model builds");
        TrainStep {
            model,
            adam: Adam::new(0.001),
            x: uniform(&[64, 28, 28, 1], 0).map(|v| v.abs()),
            y: Tensor::from_vec((0..64).map(|i| (i % 10) as f32).collect(), &[64])
                .expect("64 labels"),
        }
    }

    /// One step inside the pool (never inlined, as [`TwoConvs::step`]).
    #[inline(never)]
    fn step(&mut self) {
        let loss = SparseCategoricalCrossentropy { from_logits: true };
        let TrainStep { model, adam, x, y } = self;
        tapeflow::in_pool(|| {
            let tape = GradientTape::new();
            let pred = model
                .forward(&tape, black_box(x), Mode::Train)
                .expect("forward");
            let l = loss
                .per_sample(pred, tape.constant(y))
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
    }
}

fn conv_layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, x_shape, filters) in [
        ("mnist", [64, 28, 28, 1], [32, 64]),
        ("cifar", [32, 32, 32, 3], [64, 128]),
    ] {
        group.throughput(Throughput::Elements(x_shape[0] as u64));
        let w = TwoConvs::new(x_shape, filters);
        for threads in [1, 2] {
            tapeflow::set_num_threads(threads);
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, _| {
                b.iter(|| w.step());
            });
        }
    }
    tapeflow::set_num_threads(0);
    group.finish();
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(64));
    for threads in [1, 2] {
        tapeflow::set_num_threads(threads);
        let mut w = TrainStep::new();
        group.bench_with_input(BenchmarkId::new("mnist_cnn", threads), &threads, |b, _| {
            b.iter(|| w.step());
        });
    }
    tapeflow::set_num_threads(0);
    group.finish();
}

/// `--once <workload> <steps> [threads]`: runs one workload `steps` times
/// on `threads` threads (default 1), for instruction counts under
/// callgrind (`--separate-threads=yes` splits them by thread).
fn once(workload: &str, steps: usize, threads: usize) {
    tapeflow::set_num_threads(threads);
    match workload {
        "mnist" => {
            let w = TwoConvs::new([64, 28, 28, 1], [32, 64]);
            (0..steps).for_each(|_| w.step());
        }
        "cifar" => {
            let w = TwoConvs::new([32, 32, 32, 3], [64, 128]);
            (0..steps).for_each(|_| w.step());
        }
        "mnist_cnn" => {
            let mut w = TrainStep::new();
            (0..steps).for_each(|_| w.step());
        }
        other => {
            eprintln!("unknown workload {other:?}: expected mnist, cifar or mnist_cnn");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--once") {
        let workload = args.get(i + 1).map_or("mnist", String::as_str);
        let steps = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(1);
        let threads = args.get(i + 3).and_then(|s| s.parse().ok()).unwrap_or(1);
        once(workload, steps, threads);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    conv_layers(&mut c);
    train_step(&mut c);
    c.final_summary();
}
