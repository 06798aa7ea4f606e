//! The small-model fast paths of docs/performance.md ("Issue 11:
//! small-model overhead, third pass"): each must give exactly the values of
//! the plain computation it replaces.

use tapeflow::prelude::*;

/// `Σ_p lhs[i, p] · rhs[p, j]` added in order of `p` from 0, one output at a
/// time: the order the small products promise.
pub(crate) fn strict_product(lhs: &[f32], rhs: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += lhs[i * k + p] * rhs[p * n + j];
            }
            out[i * n + j] = s;
        }
    }
    out
}

pub(crate) fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols * rows)
        .map(|t| x[(t % rows) * cols + t / rows])
        .collect()
}

pub(crate) fn values(len: usize, seed: u32) -> Vec<f32> {
    // Mixed signs and magnitudes, so the order of the additions shows in the bits.
    (0..len)
        .map(|i| {
            let v = ((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000;
            (v as f32 - 500.0) * 0.0137 * if i % 3 == 0 { 1e3 } else { 1.0 }
        })
        .collect()
}

pub(crate) fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn small_matrix_column_products_add_in_order_bit_for_bit() {
    // Row counts with and without a remainder of the four-row loop; the
    // column shapes of a Dense(1) layer's forward ([m, k]·[k, 1]) and of its
    // kernel gradient (xᵀ·g, [k, m]ᵀ·[m, 1]).
    for (m, k) in [(64, 16), (7, 16), (3, 5), (1, 200), (13, 1)] {
        let x = values(m * k, 1);
        let w = values(k, 2);
        let lhs = Tensor::from_vec(x.clone(), &[m, k]).expect("lhs");
        let col = Tensor::from_vec(w.clone(), &[k, 1]).expect("rhs");
        let got = lhs.matmul(&col).expect("[m, k]·[k, 1]");
        assert_eq!(
            bits(got.as_slice()),
            bits(&strict_product(&x, &w, m, k, 1)),
            "{m}x{k}"
        );

        // xᵀ·g: x is [m, k], g is [m, 1]; the result is [k, 1].
        let g = values(m, 3);
        let gt = Tensor::from_vec(g.clone(), &[m, 1]).expect("g");
        let got = lhs.matmul_tn(&gt).expect("[m, k]ᵀ·[m, 1]");
        let want = strict_product(&transpose(&x, m, k), &g, k, m, 1);
        assert_eq!(bits(got.as_slice()), bits(&want), "{m}x{k} transposed");

        // g·wᵀ: [m, 1]·[k, 1]ᵀ = [m, k] (one multiply per output).
        let got = gt.matmul_nt(&col).expect("[m, 1]·[k, 1]ᵀ");
        assert_eq!(
            bits(got.as_slice()),
            bits(&strict_product(&g, &w, m, 1, k)),
            "outer {m}x{k}"
        );
    }
}

#[test]
fn tanh_of_a_large_tensor_is_the_scalar_kernel_bit_for_bit() {
    // 1,030 elements: above the wide map's threshold, with a remainder.
    let x: Vec<f32> = (0..1030).map(|i| (i as f32 - 515.0) * 0.017).collect();
    let t = Tensor::from_vec(x.clone(), &[103, 10]).expect("x");
    let got = t.tanh();
    let want: Vec<f32> = x.iter().map(|&v| tapeflow::Float::tanh_kernel(v)).collect();
    assert_eq!(bits(got.as_slice()), bits(&want));
    // The recorded op and its backward: 1 - y² times the upstream 1.
    let tape = GradientTape::new();
    let vx = tape.watch(&t);
    let y = vx.tanh();
    assert_eq!(bits(y.value().as_slice()), bits(&want));
    let g = tape.gradient(&y.sum(), [vx]).expect("scalar loss");
    let dwant: Vec<f32> = want.iter().map(|&y| 1.0 * (1.0 - y * y)).collect();
    assert_eq!(bits(g.get(vx).expect("asked for").as_slice()), bits(&dwant));
}

fn fit_linear(shuffle: bool, batch_size: usize) -> (Vec<Vec<f32>>, Vec<f64>) {
    let x = Tensor::from_vec((0..50).map(|i| i as f32 / 50.0).collect(), &[50, 1]).expect("x");
    let y = x.map(|v| 0.7 * v - 0.2);
    let mut model = Sequential::new(&[1]).add(Dense::new(1)).seed(3);
    model
        .compile(Sgd::new(0.3), MeanSquaredError, &[])
        .expect("compile");
    let history = model
        .fit(
            &x,
            &y,
            FitOptions::default()
                .epochs(20)
                .batch_size(batch_size)
                .shuffle(shuffle)
                .verbose(0),
        )
        .expect("fit");
    let weights = model.get_weights().iter().map(|w| w.to_vec()).collect();
    let losses = (0..20)
        .map(|e| history.get("loss").expect("loss logged")[e])
        .collect();
    (weights, losses)
}

#[test]
fn one_batch_of_every_row_is_not_shuffled() {
    // Full-batch gradient descent: shuffling could change only the rounding
    // of the batch's sums, so `fit` keeps the rows in order whatever
    // `shuffle` says (FitOptions::shuffle).
    let (w_shuffled, loss_shuffled) = fit_linear(true, 50);
    let (w_in_order, loss_in_order) = fit_linear(false, 50);
    assert_eq!(w_shuffled, w_in_order);
    assert_eq!(loss_shuffled, loss_in_order);
    assert!(
        loss_in_order[19] < loss_in_order[0],
        "the fit did not learn"
    );
    // A batch larger than the data is one batch too.
    assert_eq!(fit_linear(true, 64).0, w_in_order);
    // Smaller batches are still shuffled: the order changes the steps.
    assert_ne!(fit_linear(true, 10).0, fit_linear(false, 10).0);
}

#[test]
fn tapes_of_both_element_types_in_turn_keep_their_own_lists() {
    // Each tape takes the lists the last dropped tape left on this thread;
    // alternating the element type must still give each sweep the right
    // gradients (and never another tape's values).
    for round in 0..3 {
        let a = round as f32 + 1.0;
        let t32 = GradientTape::<f32>::new();
        let x = t32.watch(&Tensor::from_vec(vec![a, 2.0 * a], &[2]).expect("x"));
        let g = t32.gradient(&x.square().sum(), [x]).expect("scalar loss");
        assert_eq!(
            g.get(x).expect("asked for").to_vec(),
            vec![2.0 * a, 4.0 * a]
        );
        drop(t32);

        let b = f64::from(round) + 0.5;
        let t64 = GradientTape::<f64>::new();
        let u = t64.watch(&Tensor::from_vec(vec![b; 3], &[3]).expect("u"));
        let v = t64.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).expect("v"));
        let loss = u.mul(&v).expect("same shape").sum().mul_scalar(2.0);
        let g = t64.gradient(&loss, [v, u, v]).expect("scalar loss");
        assert_eq!(g.get(u).expect("asked for").to_vec(), vec![2.0, 4.0, 6.0]);
        assert_eq!(g.get(v).expect("asked for").to_vec(), vec![2.0 * b; 3]);
    }
}
