//! `Dense(…, activation = gelu)` runs as one fused node (the bias add and
//! GELU in one pass, GELU's backward and the bias gradient in one pass):
//! its output and its gradients for the input, the kernel and the bias are
//! the bits of `linear` followed by `gelu`, on 1 and 2 threads, with an
//! upstream gradient the tape owns alone or shares, on a tape that records
//! gradients and on one that does not, and on the shapes that fall back
//! to the two nodes (a one-row kernel, one unit).
//!
//! One test function for the thread counts on purpose: `set_num_threads`
//! is process-wide, so those runs must not interleave with each other.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::layers::{Dense, Layer, Mode};
use tapeflow::{Activation, GradientTape, Tensor};

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// A built `Dense(units)` with GELU on inputs of `features`, with a
/// non-zero bias.
fn dense(features: usize, units: usize) -> Dense<f32> {
    let mut d = Dense::new(units).activation(Activation::Gelu);
    d.build(&[features], &mut StdRng::seed_from_u64(3))
        .expect("build");
    let mut rng = StdRng::seed_from_u64(4);
    let bias = Tensor::rand_uniform_with_rng(&[units], -0.5, 0.5, &mut rng).expect("draw");
    let mut params = d.params_mut();
    *params[1].value_mut() = bias;
    d
}

/// Output, `dx`, `d kernel`, `d bias` of `layer` on `x` (fused when
/// `fused`, else `linear` then `gelu` on the same parameters), the loss
/// `Σ y ⊙ r`; with `shared`, the upstream gradient is `r` itself, held by
/// the caller too.
fn run(
    layer: &Dense<f32>,
    x0: &Tensor<f32>,
    r: &Tensor<f32>,
    fused: bool,
    shared: bool,
) -> Vec<Vec<u32>> {
    tapeflow::in_pool(|| {
        let tape = GradientTape::new();
        let x = tape.watch(x0);
        let w = tape.param(layer.kernel().expect("built"));
        let b = tape.param(layer.bias().expect("built"));
        let y = if fused {
            layer.forward(x, Mode::Train).expect("forward")
        } else {
            x.linear(&w, Some(&b)).expect("linear").gelu()
        };
        let grads = if shared {
            tape.gradient_with(&y, r, [x, w, b])
        } else {
            let rv = tape.constant(r);
            tape.gradient(&y.mul(&rv).expect("mul").sum(), [x, w, b])
        }
        .expect("gradient");
        let mut out = vec![bits(&y.value())];
        for v in [x, w, b] {
            out.push(bits(grads.get(v).expect("a gradient")));
        }
        out
    })
}

#[test]
fn dense_gelu_gives_the_bits_of_linear_then_gelu_on_one_and_two_threads() {
    // 3 · 64 + 5 rows of 128 features into 512 units: several pieces of
    // 64 rows, the last partial, above the pool's split threshold.
    let layer = dense(128, 512);
    let mut rng = StdRng::seed_from_u64(5);
    let x = Tensor::rand_uniform_with_rng(&[197, 128], -2.0, 2.0, &mut rng).expect("draw");
    let r = Tensor::rand_uniform_with_rng(&[197, 512], -1.0, 1.0, &mut rng).expect("draw");
    let x3 = x.reshape(&[1, 197, 128]).expect("reshape");
    let r3 = r.reshape(&[1, 197, 512]).expect("reshape");
    let mut runs = Vec::new();
    for threads in [1, 2] {
        tapeflow::set_num_threads(threads);
        for shared in [false, true] {
            let want = run(&layer, &x, &r, false, shared);
            let got = run(&layer, &x, &r, true, shared);
            for (k, (a, b)) in want.iter().zip(&got).enumerate() {
                assert!(a == b, "output {k}, {threads} threads, shared {shared}");
            }
            // The same on a 3-D input (`[batch, t, features]`).
            let got3 = run(&layer, &x3, &r3, true, shared);
            assert!(got3 == got, "3-D input, {threads} threads");
            runs.push(got);
        }
    }
    tapeflow::set_num_threads(1);
    assert!(runs.iter().all(|r| *r == runs[0]), "thread counts differ");
    // GELU is not the identity here: the output is not `x · W + b`.
    assert!(runs[0][0].iter().any(|&v| f32::from_bits(v) < 0.0));
}

#[test]
fn dense_gelu_without_gradients_gives_the_recorded_values() {
    let layer = dense(16, 40);
    let mut rng = StdRng::seed_from_u64(6);
    let x0 = Tensor::rand_uniform_with_rng(&[70, 16], -3.0, 3.0, &mut rng).expect("draw");
    let want = {
        let tape = GradientTape::new();
        let (w, b) = (
            tape.param(layer.kernel().expect("built")),
            tape.param(layer.bias().expect("built")),
        );
        let y = tape
            .constant(&x0)
            .linear(&w, Some(&b))
            .expect("linear")
            .gelu();
        bits(&y.value())
    };
    // A tape that records (the parameters need gradients) and one that
    // does not (the output is written over the product in place).
    for (tape, records) in [
        (GradientTape::new(), true),
        (GradientTape::inference(), false),
    ] {
        let y = layer
            .forward(tape.constant(&x0), Mode::Infer)
            .expect("forward");
        assert_eq!(y.requires_grad(), records);
        assert_eq!(bits(&y.value()), want, "recording {records}");
    }
}

#[test]
fn dense_gelu_falls_back_on_one_row_kernels_and_one_unit() {
    let mut rng = StdRng::seed_from_u64(7);
    for (features, units) in [(1, 6), (9, 1), (1, 1)] {
        let layer = dense(features, units);
        let x = Tensor::rand_uniform_with_rng(&[5, features], -2.0, 2.0, &mut rng).expect("draw");
        let r = Tensor::rand_uniform_with_rng(&[5, units], -1.0, 1.0, &mut rng).expect("draw");
        let want = run(&layer, &x, &r, false, false);
        let got = run(&layer, &x, &r, true, false);
        assert!(want == got, "{features} features, {units} units");
    }
}
