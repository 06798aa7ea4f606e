//! Outputs taken from the buffer cache without a fill (a product's output,
//! which `gemm` overwrites; the fused attention's output, probabilities and
//! gradients; GELU's value and kept derivative; layer norm's buffers): a
//! forward and backward pass through them gives the same bits when every
//! kept buffer of their sizes holds NaN. A kernel that read an element of
//! such a buffer before writing it would turn a result into NaN or change
//! its bits.
//!
//! The cache's limit is left as it is (other tests count reuse with it):
//! the reference run starts from an emptied cache, so whatever it reuses
//! held finite values of its own step.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::{GradientTape, Tensor};

const BATCH: usize = 4;
const TIME: usize = 64;
const D: usize = 128;
const HEADS: usize = 4;

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// The bits of the output and of every gradient of one pass
/// `x → layer_norm → causal self-attention (+ x) → linear + GELU → linear`.
fn step() -> Vec<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(13);
    let mut draw = |shape: &[usize], scale: f32| {
        Tensor::<f32>::rand_uniform_with_rng(shape, -scale, scale, &mut rng).expect("draw")
    };
    let x0 = draw(&[BATCH, TIME, D], 2.0);
    let (g0, b0) = (draw(&[D], 1.0), draw(&[D], 0.5));
    let (w1, c1) = (draw(&[D, 4 * D], 0.1), draw(&[4 * D], 0.1));
    let (w2, c2) = (draw(&[4 * D, D], 0.1), draw(&[D], 0.1));
    let tape = GradientTape::new();
    let x = tape.watch(&x0);
    let [gamma, beta, w1, c1, w2, c2] = [g0, b0, w1, c1, w2, c2].map(|t| tape.watch(&t));
    let h = x
        .layer_norm(Some(&gamma), Some(&beta), 1e-5)
        .expect("layer_norm");
    let a = h
        .scaled_dot_product_attention(&h, &h, HEADS, None, true)
        .expect("attention");
    let r = a.add(&x).expect("residual");
    let m = r.linear(&w1, Some(&c1)).expect("linear").gelu();
    let y = m.linear(&w2, Some(&c2)).expect("linear");
    let grads = tape
        .gradient(&y.square().sum(), [x, gamma, beta, w1, c1, w2, c2])
        .expect("gradient");
    let mut out = vec![bits(&y.value())];
    for v in [x, gamma, beta, w1, c1, w2, c2] {
        out.push(bits(grads.get(v).expect("a gradient")));
    }
    out
}

/// Fills the cache with NaN buffers of every large size the pass asks for
/// (and a little larger, within the cache's slack).
fn poison_the_cache() {
    let per_head = 32 * 32 + 32 * 64; // the attention's row blocks of 32 queries
    poison_sizes(&[
        BATCH * TIME * D,
        BATCH * TIME * 4 * D,
        BATCH * HEADS * per_head,
    ]);
}

/// Fills the buffer cache with NaN buffers of each of `sizes` elements (six
/// of each, and six an eighth larger, within the cache's slack).
pub(crate) fn poison_sizes(sizes: &[usize]) {
    let mut held = Vec::new();
    for &n in sizes {
        for _ in 0..6 {
            held.push(Tensor::<f32>::full(&[n], f32::NAN).expect("poison"));
            held.push(Tensor::<f32>::full(&[n + n / 8], f32::NAN).expect("poison"));
        }
    }
    // Dropped together, so none of them is taken again for the next.
    drop(held);
}

#[test]
fn buffers_taken_without_a_fill_are_written_before_they_are_read() {
    tapeflow::clear_buffer_cache();
    let reference = step();
    assert!(
        reference
            .iter()
            .flatten()
            .all(|&b| f32::from_bits(b).is_finite()),
        "the reference pass is not finite"
    );
    poison_the_cache();
    let poisoned = step();
    for (k, (a, b)) in reference.iter().zip(&poisoned).enumerate() {
        assert_eq!(a, b, "output {k} changed with NaN in the kept buffers");
    }
}
