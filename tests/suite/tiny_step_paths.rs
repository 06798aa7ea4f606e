//! The fast paths of docs/performance.md ("Issue 11: the tiny MLP step,
//! fifth pass"): each gives exactly the values of the plain computation it
//! replaces.

use tapeflow::losses::{Loss, MeanSquaredError};
use tapeflow::prelude::*;

use crate::small_model_paths::{bits, values};

#[test]
fn one_row_products_in_column_blocks_are_zero_plus_the_product() {
    // `linear` of a one-feature input: every output is `0 + x·w`; with
    // whole blocks of 16 columns, a block and a remainder, a remainder
    // alone, and a single row.
    for (b, n) in [(64, 16), (64, 32), (5, 20), (7, 9), (1, 16)] {
        let x = values(b, 11);
        let w = values(n, 12);
        let tape = GradientTape::new();
        let xv = tape.constant(&Tensor::from_vec(x.clone(), &[b, 1]).expect("x"));
        let wv = tape.constant(&Tensor::from_vec(w.clone(), &[1, n]).expect("w"));
        let y = xv.linear(&wv, None).expect("[b, 1]·[1, n]");
        let want: Vec<f32> = x
            .iter()
            .flat_map(|&a| w.iter().map(move |&c| 0.0 + a * c))
            .collect();
        assert_eq!(y.shape(), vec![b, n]);
        assert_eq!(bits(y.value().as_slice()), bits(&want), "{b}x{n}");
    }
}

#[test]
fn bias_gradients_are_column_sums_in_row_order_bit_for_bit() {
    // `d bias` of `linear`: one piece of at most 64 rows (summed on the
    // stack for at most 64 columns: whole blocks of 16, a remainder, both),
    // and wider or taller ones (the pieces' path), against `0 + (0 + r₀ +
    // r₁ + …)` per piece of 64 rows, the pieces added in order.
    for (b, out) in [
        (64, 16),
        (64, 64),
        (5, 20),
        (30, 7),
        (3, 2),
        (64, 80),
        (150, 16),
    ] {
        let x = values(b * 3, 13);
        let g = values(b * out, 14);
        let tape = GradientTape::new();
        let xv = tape.constant(&Tensor::from_vec(x, &[b, 3]).expect("x"));
        let w = tape.watch(&Tensor::from_vec(values(3 * out, 15), &[3, out]).expect("w"));
        let bias = tape.watch(&Tensor::from_vec(values(out, 16), &[out]).expect("b"));
        let y = xv.linear(&w, Some(&bias)).expect("linear");
        // d y = g exactly: the sum's 1 times g.
        let gv = tape.constant(&Tensor::from_vec(g.clone(), &[b, out]).expect("g"));
        let loss = y.mul(&gv).expect("same shape").sum();
        let grads = tape.gradient(&loss, [bias]).expect("gradient");
        let got = grads.get(bias).expect("bias gradient");
        let mut want = vec![0.0f32; out];
        for piece in g.chunks(64 * out) {
            let mut sums = vec![0.0f32; out];
            for row in piece.chunks_exact(out) {
                for (s, &v) in sums.iter_mut().zip(row) {
                    *s += v;
                }
            }
            for (w, s) in want.iter_mut().zip(&sums) {
                *w += s;
            }
        }
        assert_eq!(bits(got.as_slice()), bits(&want), "{b}x{out}");
    }
}

#[test]
fn one_value_per_sample_is_its_own_mean_in_one_op() {
    // A one-output model's loss (`[n, 1]`): the per-sample losses are the
    // values themselves, reshaped to `[n]` (one op on the tape, where the
    // mean over the length-1 axis took three); the gradient is the same.
    let (p, t) = (values(10, 17), values(10, 18));
    let tape = GradientTape::new();
    let pv = tape.watch(&Tensor::from_vec(p.clone(), &[10, 1]).expect("p"));
    let tv = tape.constant(&Tensor::from_vec(t.clone(), &[10, 1]).expect("t"));
    let before = tape.len();
    let per = MeanSquaredError.per_sample(pv, tv).expect("per sample");
    // The squared difference, then the reshape.
    assert_eq!(tape.len() - before, 2);
    assert_eq!(per.shape(), vec![10]);
    let want: Vec<f32> = p.iter().zip(&t).map(|(a, b)| (a - b) * (a - b)).collect();
    assert_eq!(bits(per.value().as_slice()), bits(&want));
    let loss = per.sum();
    let g = tape.gradient(&loss, [pv]).expect("gradient");
    let g = g.get(pv).expect("p's gradient");
    assert_eq!(g.shape(), &[10, 1]);
    let want: Vec<f32> = p.iter().zip(&t).map(|(a, b)| 2.0 * (a - b)).collect();
    for (a, w) in g.as_slice().iter().zip(&want) {
        assert!((a - w).abs() <= 1e-6 * w.abs().max(1.0), "{a} vs {w}");
    }
    // Wider samples still take the mean over their values.
    let tape = GradientTape::new();
    let pv = tape.watch(&Tensor::from_vec(p.clone(), &[5, 2]).expect("p"));
    let tv = tape.constant(&Tensor::from_vec(t.clone(), &[5, 2]).expect("t"));
    let per = MeanSquaredError.per_sample(pv, tv).expect("per sample");
    let want: Vec<f32> = p
        .chunks(2)
        .zip(t.chunks(2))
        .map(|(a, b)| ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1])) / 2.0)
        .collect();
    for (a, w) in per.value().as_slice().iter().zip(&want) {
        assert!((a - w).abs() <= 1e-6 * w.abs().max(1.0), "{a} vs {w}");
    }
}

#[test]
fn zeroed_small_product_outputs_reuse_dropped_blocks_as_zeros() {
    // A `[64, 16]` product (4 KiB, a size the thread's cache of medium
    // blocks keeps) after another of the same size was dropped: the
    // reused block holds the new product, with no trace of the old one.
    let a = Tensor::from_vec(values(64, 19), &[64, 1]).expect("a");
    let w = Tensor::from_vec(values(16, 20), &[1, 16]).expect("w");
    let first = a.matmul(&w).expect("[64, 1]·[1, 16]");
    let want = bits(first.as_slice());
    drop(first);
    for _ in 0..3 {
        let again = a.matmul(&w).expect("[64, 1]·[1, 16]");
        assert_eq!(bits(again.as_slice()), want);
        // A product whose inner dimension is empty is all +0.0.
        let z = Tensor::<f32>::zeros(&[64, 0])
            .expect("empty")
            .matmul(&Tensor::zeros(&[0, 16]).expect("empty"))
            .expect("[64, 0]·[0, 16]");
        assert!(z.as_slice().iter().all(|v| v.to_bits() == 0));
        drop(again);
    }
}
