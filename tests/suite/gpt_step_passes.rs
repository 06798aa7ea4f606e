//! The char-GPT step's own passes (layer norm, GELU, `linear`'s bias add
//! and bias gradient, sparse cross-entropy), split over the pool in fixed
//! pieces of rows: the same bits with 1 and 2 threads, and the same values
//! as their formulas written out element by element, on sizes with several
//! pieces and a partial last piece.
//!
//! One test function for the thread counts on purpose: `set_num_threads`
//! is process-wide, so those runs must not interleave with each other.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::{GradientTape, Tensor};

/// Rows (of 128 features): more than two pieces of 64 rows, the last
/// partial, and above the split threshold of 16,384 elements.
const ROWS: usize = 3 * 64 + 5;
const D: usize = 128;
const CLASSES: usize = 76;

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// The bits of the loss and of every gradient of one forward and backward
/// pass `x → layer_norm → linear + GELU → linear → cross-entropy`, run on
/// the pool with `threads` threads.
fn step(threads: usize) -> Vec<Vec<u32>> {
    tapeflow::set_num_threads(threads);
    let mut rng = StdRng::seed_from_u64(5);
    let mut draw = |shape: &[usize], scale: f32| {
        Tensor::<f32>::rand_uniform_with_rng(shape, -scale, scale, &mut rng).expect("draw")
    };
    let x0 = draw(&[ROWS, D], 2.0);
    let (g0, b0) = (draw(&[D], 1.0), draw(&[D], 0.5));
    let (w1, c1) = (draw(&[D, 4 * D], 0.1), draw(&[4 * D], 0.1));
    let (w2, c2) = (draw(&[4 * D, CLASSES], 0.1), draw(&[CLASSES], 0.1));
    let labels: Vec<usize> = (0..ROWS).map(|i| (i * 7 + 3) % CLASSES).collect();
    tapeflow::in_pool(|| {
        let tape = GradientTape::new();
        let x = tape.watch(&x0);
        let vars = [
            g0.clone(),
            b0.clone(),
            w1.clone(),
            c1.clone(),
            w2.clone(),
            c2.clone(),
        ]
        .map(|t| tape.watch(&t));
        let [gamma, beta, w1, c1, w2, c2] = vars;
        let h = x
            .layer_norm(Some(&gamma), Some(&beta), 1e-5)
            .expect("layer_norm");
        let h = h.linear(&w1, Some(&c1)).expect("linear").gelu();
        let z = h.linear(&w2, Some(&c2)).expect("linear");
        let loss = z
            .sparse_softmax_cross_entropy_with_logits(&labels)
            .expect("loss");
        let total = loss.mean();
        let grads = tape
            .gradient(&total, [x, gamma, beta, w1, c1, w2, c2])
            .expect("gradient");
        let mut out = vec![bits(&loss.value())];
        for v in [x, gamma, beta, w1, c1, w2, c2] {
            out.push(bits(grads.get(v).expect("a gradient")));
        }
        out
    })
}

#[test]
fn the_step_passes_give_the_same_bits_with_one_and_two_threads() {
    let one = step(1);
    let two = step(2);
    tapeflow::set_num_threads(1);
    assert_eq!(one.len(), two.len());
    for (k, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_eq!(a, b, "output {k} differs between 1 and 2 threads");
    }
}

#[test]
fn layer_norm_gradients_over_many_pieces_match_the_formulas() {
    // f64, rows over several pieces: dγ = Σ g ⊙ x̂, dβ = Σ g, and
    // dx = (ĝ - mean ĝ - x̂ mean(ĝ ⊙ x̂)) / σ with ĝ = g ⊙ γ, row by row.
    let (rows, n) = (150, 7);
    let mut rng = StdRng::seed_from_u64(9);
    let x0 = Tensor::<f64>::rand_uniform_with_rng(&[rows, n], -3.0, 3.0, &mut rng).unwrap();
    let up = Tensor::<f64>::rand_uniform_with_rng(&[rows, n], -1.0, 1.0, &mut rng).unwrap();
    let g0 = Tensor::<f64>::rand_uniform_with_rng(&[n], 0.5, 1.5, &mut rng).unwrap();
    let tape = GradientTape::new();
    let x = tape.watch(&x0);
    let gamma = tape.watch(&g0);
    let beta = tape.watch(&Tensor::zeros(&[n]).unwrap());
    let y = x.layer_norm(Some(&gamma), Some(&beta), 1e-3).unwrap();
    let grads = tape.gradient_with(&y, &up, [x, gamma, beta]).unwrap();
    let (xs, gs, gam) = (x0.as_slice(), up.as_slice(), g0.as_slice());
    let mut dgamma = vec![0.0; n];
    let mut dbeta = vec![0.0; n];
    let mut dx = Vec::new();
    for (xr, gr) in xs.chunks(n).zip(gs.chunks(n)) {
        let mean = xr.iter().sum::<f64>() / n as f64;
        let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let r = 1.0 / (var + 1e-3).sqrt();
        let xhat: Vec<f64> = xr.iter().map(|v| (v - mean) * r).collect();
        let ghat: Vec<f64> = gr.iter().zip(gam).map(|(g, s)| g * s).collect();
        let m1 = ghat.iter().sum::<f64>() / n as f64;
        let m2 = ghat.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / n as f64;
        for j in 0..n {
            dgamma[j] += gr[j] * xhat[j];
            dbeta[j] += gr[j];
            dx.push((ghat[j] - m1 - xhat[j] * m2) * r);
        }
    }
    let close = |got: &Tensor<f64>, want: &[f64], what: &str| {
        for (a, b) in got.as_slice().iter().zip(want) {
            assert!(
                (a - b).abs() < 1e-12 * (1.0 + b.abs()),
                "{what}: {a} vs {b}"
            );
        }
    };
    close(grads.get(gamma).unwrap(), &dgamma, "d gamma");
    close(grads.get(beta).unwrap(), &dbeta, "d beta");
    close(grads.get(x).unwrap(), &dx, "d x");
}

#[test]
fn sparse_cross_entropy_gradient_is_softmax_minus_one_hot_over_many_pieces() {
    // f64, 150 rows of 5 classes (several pieces): loss = lse(z) - z[label],
    // dz = g (softmax(z) - onehot), with an upstream gradient per row.
    let (rows, c) = (150, 5);
    let mut rng = StdRng::seed_from_u64(3);
    let z0 = Tensor::<f64>::rand_uniform_with_rng(&[rows, c], -20.0, 20.0, &mut rng).unwrap();
    let up = Tensor::<f64>::rand_uniform_with_rng(&[rows], -1.0, 1.0, &mut rng).unwrap();
    let labels: Vec<usize> = (0..rows).map(|i| (i * 3) % c).collect();
    let tape = GradientTape::new();
    let z = tape.watch(&z0);
    let loss = z.sparse_softmax_cross_entropy_with_logits(&labels).unwrap();
    let dz = tape.gradient_with(&loss, &up, [z]).unwrap();
    let dz = dz.get(z).unwrap().as_slice();
    for (r, zr) in z0.as_slice().chunks(c).enumerate() {
        let m = zr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = zr.iter().map(|v| (v - m).exp()).sum();
        let lse = m + s.ln();
        let got = loss.value().as_slice()[r];
        assert!((got - (lse - zr[labels[r]])).abs() < 1e-12, "row {r}");
        for j in 0..c {
            let p = (zr[j] - m).exp() / s;
            let want = up.as_slice()[r] * (p - if j == labels[r] { 1.0 } else { 0.0 });
            assert!((dz[r * c + j] - want).abs() < 1e-14, "row {r} class {j}");
        }
    }
}
