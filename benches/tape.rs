//! Cost of the tape itself, single-threaded.
//!
//! - `tape_per_op/*`: a chain of 1000 ops on a 1-element `f32` tensor, so
//!   the arithmetic is negligible and what is measured is the tape's
//!   bookkeeping. Throughput is 1000 elements, so criterion's `elem/s` reads
//!   as ops per second (its reciprocal is the time per op). Variants:
//!   `record_backward/{add_scalar,mul}` (record the chain on a fresh tape,
//!   then one `gradient`); `record_only/add_scalar` (no sweep);
//!   `forward_constants/{add_scalar,mul}` (inference: every input is a
//!   constant, so nothing is recorded but values).
//! - `dense_relu/{forward,forward_backward}/batch`: `relu(x · W + b)` summed,
//!   with x `[batch, 784]`, W `[784, 256]`, b `[256]` (a Dense layer on
//!   MNIST-sized input), and for `forward_backward` the gradient with respect
//!   to W and b. Throughput is the batch size (examples per second).
//!
//! Run: `cargo bench --bench tape`; figures are in `docs/tape-performance.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::{GradientTape, Param, Tensor};

const CHAIN: usize = 1000;

fn per_op(c: &mut Criterion) {
    tapeflow::set_num_threads(1);
    let mut group = c.benchmark_group("tape_per_op");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(CHAIN as u64));
    let one = Tensor::<f32>::from_vec(vec![1.0], &[1]).expect("one element");

    group.bench_function("record_backward/add_scalar", |b| {
        b.iter(|| {
            let tape = GradientTape::new();
            let x = tape.watch(black_box(&one));
            let mut y = x;
            for _ in 0..CHAIN {
                y = y.add_scalar(1.0);
            }
            tape.gradient(&y, [x]).expect("scalar loss")
        });
    });
    group.bench_function("record_backward/mul", |b| {
        b.iter(|| {
            let tape = GradientTape::new();
            let x = tape.watch(black_box(&one));
            let w = tape.watch(black_box(&one));
            let mut y = x;
            for _ in 0..CHAIN {
                y = y.mul(&w).expect("same shape");
            }
            tape.gradient(&y, [x, w]).expect("scalar loss")
        });
    });
    group.bench_function("record_only/add_scalar", |b| {
        b.iter(|| {
            let tape = GradientTape::new();
            let mut y = tape.watch(black_box(&one));
            for _ in 0..CHAIN {
                y = y.add_scalar(1.0);
            }
            y.value()
        });
    });
    group.bench_function("forward_constants/add_scalar", |b| {
        b.iter(|| {
            let tape = GradientTape::new();
            let mut y = tape.constant(black_box(&one));
            for _ in 0..CHAIN {
                y = y.add_scalar(1.0);
            }
            y.value()
        });
    });
    group.bench_function("forward_constants/mul", |b| {
        b.iter(|| {
            let tape = GradientTape::new();
            let w = tape.constant(black_box(&one));
            let mut y = tape.constant(black_box(&one));
            for _ in 0..CHAIN {
                y = y.mul(&w).expect("same shape");
            }
            y.value()
        });
    });
    group.finish();
}

fn dense_relu(c: &mut Criterion) {
    tapeflow::set_num_threads(1);
    let mut group = c.benchmark_group("dense_relu");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    let mut rng = StdRng::seed_from_u64(7);
    let w = Param::new(
        "kernel",
        Tensor::<f32>::rand_uniform_with_rng(&[784, 256], -0.05, 0.05, &mut rng)
            .expect("valid range"),
    );
    let bias = Param::new("bias", Tensor::<f32>::zeros(&[256]).unwrap());
    for batch in [32usize, 128] {
        let x =
            Tensor::<f32>::rand_uniform_with_rng(&[batch, 784], 0.0, 1.0, &mut rng).expect("range");
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("forward", batch), &x, |b, x| {
            b.iter(|| {
                let tape = GradientTape::new();
                let xv = tape.constant(black_box(x));
                let (wv, bv) = (tape.constant(w.value()), tape.constant(bias.value()));
                let y = xv.linear(&wv, Some(&bv)).expect("shapes").relu().sum();
                y.value()
            });
        });
        group.bench_with_input(BenchmarkId::new("forward_backward", batch), &x, |b, x| {
            b.iter(|| {
                let tape = GradientTape::new();
                let xv = tape.constant(black_box(x));
                let (wv, bv) = (tape.param(&w), tape.param(&bias));
                let y = xv.linear(&wv, Some(&bv)).expect("shapes").relu().sum();
                tape.gradient(&y, [&w, &bias]).expect("scalar loss")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_op, dense_relu);
criterion_main!(benches);
