//! The cache of large buffers (`set_buffer_cache_limit`): results never
//! depend on it, bit for bit, and a repeated training step takes its large
//! buffers from it (counted, not timed).
//!
//! The limit is process-wide, so the tests of this file hold one lock; the
//! other modules of the suite may run at the same time, which can only
//! change which buffers they reuse, never their results.

use std::sync::Mutex;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::layers::Mode;
use tapeflow::optimizers::Optimizer;
use tapeflow::prelude::*;
use tapeflow::tensor::{DEFAULT_BUFFER_CACHE_LIMIT, buffer_cache_counts};

static LIMIT: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LIMIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bits(weights: &[Tensor]) -> Vec<Vec<u32>> {
    weights
        .iter()
        .map(|w| w.as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// A 300-520-10 MLP on a batch of 72 (odd sizes, so no other module asks
/// for the same buffers): its input, activations, their gradients and the
/// first kernel (156,000 elements) are 64 KiB and more.
struct Run {
    model: Sequential,
    opt: Adam,
    x: Tensor,
    y: Tensor,
}

impl Run {
    fn new() -> Run {
        let mut rng = StdRng::seed_from_u64(11);
        let x = Tensor::<f32>::rand_uniform_with_rng(&[72, 300], -1.0, 1.0, &mut rng).expect("x");
        let y = Tensor::from_vec((0..72).map(|i| (i % 10) as f32).collect(), &[72]).expect("y");
        let mut model = Sequential::new(&[300])
            .add(Dense::new(520).activation(Activation::Relu))
            .add(Dropout::new(0.25))
            .add(Dense::new(10))
            .seed(4);
        model.build().expect("build");
        Run {
            model,
            opt: Adam::new(1e-2),
            x,
            y,
        }
    }

    /// One Adam step, on the calling thread.
    fn step(&mut self) {
        let grads = {
            let tape = GradientTape::new();
            let logits = self
                .model
                .forward(&tape, &self.x, Mode::Train)
                .expect("forward");
            let target = tape.constant(&self.y);
            let loss = tapeflow::losses::sparse_categorical_crossentropy(
                &logits,
                &target,
                tapeflow::losses::Predictions::Logits,
            )
            .expect("loss");
            tape.gradient(&loss, self.model.trainable_params())
                .expect("gradient")
        };
        self.opt
            .apply_gradients(&grads, &mut self.model.params_mut())
            .expect("update");
    }
}

/// Four steps and a `fit` epoch: the final weights' bits.
fn train() -> Vec<Vec<u32>> {
    let mut run = Run::new();
    for _ in 0..4 {
        run.step();
    }
    run.model
        .compile(
            Adam::new(1e-3),
            SparseCategoricalCrossentropy::from_logits(),
            &[],
        )
        .expect("compile");
    run.model
        .fit(
            &run.x,
            &run.y,
            FitOptions::default().epochs(2).batch_size(72).verbose(0),
        )
        .expect("fit");
    bits(&run.model.get_weights())
}

/// Drops NaN-filled buffers of the sizes training asks for, so that reused
/// buffers are dirty: a kernel reading one before writing it would change
/// the weights.
fn poison_the_cache() {
    for n in [72 * 300, 72 * 520, 300 * 520, 520 * 10 * 8] {
        drop(Tensor::<f32>::full(&[n], f32::NAN).expect("poison"));
        drop(Tensor::<f32>::full(&[n + n / 8], f32::NAN).expect("poison"));
    }
}

#[test]
fn training_gives_the_same_bits_with_and_without_reuse() {
    let _guard = lock();
    tapeflow::set_buffer_cache_limit(0);
    let without = train();
    tapeflow::set_buffer_cache_limit(DEFAULT_BUFFER_CACHE_LIMIT);
    poison_the_cache();
    let with = train();
    // Again, with the buffers the first run left behind.
    let again = train();
    assert!(
        without
            .iter()
            .flatten()
            .all(|&b| f32::from_bits(b).is_finite()),
        "training diverged"
    );
    assert!(with == without, "weights changed when buffers were reused");
    assert!(again == without, "weights changed on a warm cache");
}

#[test]
fn a_repeated_step_takes_its_large_buffers_from_the_cache() {
    let _guard = lock();
    let counted_step = |run: &mut Run| {
        let (hits, misses) = buffer_cache_counts();
        run.step();
        let (h, m) = buffer_cache_counts();
        (h - hits, m - misses)
    };

    // Reuse off: every large request goes to the allocator.
    tapeflow::set_buffer_cache_limit(0);
    let mut run = Run::new();
    run.step();
    let (hits, misses) = counted_step(&mut run);
    assert_eq!(hits, 0, "a buffer was reused with reuse off");
    // At least the first layer's output [72, 520], its activation and
    // their gradients (the rest depends on which kernels write in place).
    assert!(misses >= 4, "only {misses} requests of 64 KiB and more");

    // Reuse on: after a first step, the next takes them from the cache.
    tapeflow::set_buffer_cache_limit(DEFAULT_BUFFER_CACHE_LIMIT);
    run.step();
    let (reused, new) = counted_step(&mut run);
    assert!(
        reused >= misses && new == 0,
        "a repeated step reused {reused} buffers and allocated {new} (of {misses})"
    );
    tapeflow::clear_buffer_cache();
}
