//! The thread setting: clamped to the cores, and results bit-identical
//! whatever the thread count (products split over output blocks only).
//!
//! One test function on purpose: `set_num_threads` is process-wide, so
//! the steps below must not interleave with each other.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::layers::Mode;
use tapeflow::optimizers::Optimizer;
use tapeflow::prelude::*;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn bits(weights: &[Tensor]) -> Vec<Vec<u32>> {
    weights
        .iter()
        .map(|w| w.as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Three Adam steps of a 64-256-10 MLP on a batch of 128, each step run on
/// the pool (`in_pool`), then one `fit` epoch (products called from the
/// test's own thread, large enough to be split): the final weights' bits.
fn train(threads: usize) -> Vec<Vec<u32>> {
    tapeflow::set_num_threads(threads);
    let mut rng = StdRng::seed_from_u64(7);
    let x = Tensor::<f32>::rand_uniform_with_rng(&[128, 64], -1.0, 1.0, &mut rng).expect("x");
    let y = Tensor::from_vec((0..128).map(|i| (i % 10) as f32).collect(), &[128]).expect("y");
    let mut model = Sequential::new(&[64])
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(3);
    model.build().expect("build");
    let mut opt = Adam::new(1e-2);
    for _ in 0..3 {
        tapeflow::in_pool(|| {
            let grads = {
                let tape = GradientTape::new();
                let logits = model.forward(&tape, &x, Mode::Train).expect("forward");
                let target = tape.constant(&y);
                let loss = tapeflow::losses::sparse_categorical_crossentropy(
                    &logits,
                    &target,
                    tapeflow::losses::Predictions::Logits,
                )
                .expect("loss");
                tape.gradient(&loss, model.trainable_params())
                    .expect("gradient")
            };
            opt.apply_gradients(&grads, &mut model.params_mut())
                .expect("update");
        });
    }
    // A wide product from outside the pool: 256·512·128 = 2^24 multiply-adds.
    let wide =
        Tensor::<f32>::rand_uniform_with_rng(&[256, 512], -1.0, 1.0, &mut rng).expect("wide");
    let mut wide_model = Sequential::new(&[512]).add(Dense::new(128)).seed(5);
    wide_model
        .compile(Sgd::new(0.1), MeanSquaredError, &[])
        .expect("compile");
    let target = Tensor::<f32>::zeros(&[256, 128]).expect("target");
    wide_model
        .fit(
            &wide,
            &target,
            FitOptions::default().epochs(1).batch_size(256).verbose(0),
        )
        .expect("fit");
    let mut weights = model.get_weights();
    weights.extend(wide_model.get_weights());
    bits(&weights)
}

#[test]
fn thread_count_is_clamped_and_never_changes_results() {
    // An absurd count is clamped to the cores; a large product finishes.
    tapeflow::set_num_threads(usize::MAX);
    assert_eq!(tapeflow::num_threads(), cores());
    let mut rng = StdRng::seed_from_u64(1);
    let a = Tensor::<f32>::rand_uniform_with_rng(&[384, 384], -1.0, 1.0, &mut rng).expect("a");
    let many = a.matmul(&a).expect("square");
    tapeflow::set_num_threads(1);
    let one = a.matmul(&a).expect("square");
    assert_eq!(
        many.as_slice()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        one.as_slice()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );

    // The same training run, one thread and two: identical bits.
    let single = train(1);
    let double = train(2);
    tapeflow::set_num_threads(0);
    assert_eq!(tapeflow::num_threads(), cores());
    assert_eq!(single.len(), 6);
    assert!(single == double, "weights differ between 1 and 2 threads");
}
