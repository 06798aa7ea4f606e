//! Cost of one optimizer step per parameter, for each of the eight
//! optimizers, single-threaded.
//!
//! `optimizer_step/<name>/<n>`: one `apply_gradients` on a single `f32`
//! parameter of `n` elements with a fixed gradient (n = 1,024, where the
//! per-call bookkeeping shows, and 262,144, about the 235k parameters of
//! the 784-256-128-10 MLP, where the per-element update dominates).
//! Throughput is `n` elements, so criterion's `elem/s` reads as parameters
//! per second; its reciprocal is the time per parameter (ns per parameter
//! = 1e9 / elem/s). Hyperparameters are each optimizer's defaults.
//!
//! Run: `cargo bench --bench optimizers` on a quiet machine; figures go in
//! `docs/performance.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{SeedableRng, rngs::StdRng};
use tapeflow::optimizers::{Adadelta, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RmsProp, Sgd};
use tapeflow::{Gradients, Param, Tensor};

/// The eight optimizers, by name, each with its default settings.
fn optimizers() -> Vec<(&'static str, Box<dyn Optimizer<f32>>)> {
    vec![
        ("sgd", Box::new(Sgd::new(0.01))),
        ("adam", Box::new(Adam::new(1e-3))),
        ("adamw", Box::new(AdamW::new(1e-3))),
        ("nadam", Box::new(Nadam::new(1e-3))),
        ("rmsprop", Box::new(RmsProp::new(1e-3))),
        ("adagrad", Box::new(Adagrad::new(1e-2))),
        ("adadelta", Box::new(Adadelta::new(1.0))),
        ("lion", Box::new(Lion::new(1e-4))),
    ]
}

fn step(c: &mut Criterion) {
    tapeflow::set_num_threads(1);
    let mut group = c.benchmark_group("optimizer_step");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1024usize, 262_144] {
        group.throughput(Throughput::Elements(n as u64));
        let mut rng = StdRng::seed_from_u64(0);
        let value = Tensor::<f32>::rand_uniform_with_rng(&[n], -1.0, 1.0, &mut rng).expect("value");
        let grad = Tensor::<f32>::rand_uniform_with_rng(&[n], -1e-2, 1e-2, &mut rng).expect("grad");
        for (name, mut opt) in optimizers() {
            let mut w = Param::new("w", value.clone());
            let mut grads = Gradients::default();
            grads.insert_param(w.id(), grad.clone());
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    opt.apply_gradients(black_box(&grads), &mut [&mut w])
                        .expect("valid step");
                });
            });
            black_box(w.value().as_slice()[0]);
        }
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
