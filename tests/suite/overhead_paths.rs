//! The per-op fast paths of docs/performance.md ("Issue 11: per-op
//! overhead, fourth pass"): each gives exactly the values of the plain
//! computation it replaces.

use tapeflow::prelude::*;

use crate::small_model_paths::{bits, strict_product, transpose, values};

#[test]
fn small_transposed_products_add_in_order_bit_for_bit() {
    // xᵀ·g with x [b, k] and g [b, n]: the kernel gradient of a small
    // layer, now by the plain loop when b·k·n is small and n ≥ 8 (the first
    // layer of the 1-16-1 MLP is b = 64, k = 1, n = 16); with and without a
    // remainder after the loop's 16-output blocks, columns (n = 1) of 20
    // and 37 outputs, and a larger one that still goes to `gemm` (checked
    // against the strict sum to a tolerance).
    let shapes = [
        (64, 1, 16),
        (64, 2, 20),
        (3, 1, 40),
        (10, 3, 8),
        (200, 1, 16),
        (9, 20, 1),
        (9, 37, 1),
        (300, 2, 16),
    ];
    for (b, k, n) in shapes {
        let x = values(b * k, 4);
        let g = values(b * n, 5);
        let lhs = Tensor::from_vec(x.clone(), &[b, k]).expect("x");
        let rhs = Tensor::from_vec(g.clone(), &[b, n]).expect("g");
        let got = lhs.matmul_tn(&rhs).expect("[b, k]ᵀ·[b, n]");
        assert_eq!(got.shape(), &[k, n]);
        let want = strict_product(&transpose(&x, b, k), &g, k, b, n);
        if b * k * n <= 4096 {
            assert_eq!(bits(got.as_slice()), bits(&want), "{b}x{k}x{n}");
        } else {
            for (a, w) in got.as_slice().iter().zip(&want) {
                assert!(
                    (a - w).abs() <= 1e-3 * w.abs().max(1.0),
                    "{b}x{k}x{n}: {a} vs {w}"
                );
            }
        }
    }
}

#[test]
fn small_products_in_column_blocks_add_in_order_bit_for_bit() {
    // [m, k]·[k, n] with k·n ≤ 256: whole blocks of 16 columns, a block and
    // a remainder, a remainder alone; and the outer product of a column and
    // a row (the backward `g·wᵀ` of a Dense(1) layer after a wide one).
    for (m, k, n) in [
        (5, 16, 16),
        (4, 12, 20),
        (3, 20, 7),
        (64, 1, 16),
        (2, 1, 33),
    ] {
        let a = values(m * k, 6);
        let w = values(k * n, 7);
        let lhs = Tensor::from_vec(a.clone(), &[m, k]).expect("a");
        let rhs = Tensor::from_vec(w.clone(), &[k, n]).expect("w");
        let got = lhs.matmul(&rhs).expect("[m, k]·[k, n]");
        assert_eq!(
            bits(got.as_slice()),
            bits(&strict_product(&a, &w, m, k, n)),
            "{m}x{k}x{n}"
        );
        // The same product with the right operand stored transposed.
        let rt = Tensor::from_vec(transpose(&w, k, n), &[n, k]).expect("wᵀ");
        let got = lhs.matmul_nt(&rt).expect("[m, k]·[n, k]ᵀ");
        assert_eq!(
            bits(got.as_slice()),
            bits(&strict_product(&a, &w, m, k, n)),
            "nt {m}x{k}x{n}"
        );
    }
}

#[test]
fn a_wide_map_of_a_view_maps_the_view_only() {
    // 300 rows of 2, viewed from row 50: above the wide map's threshold,
    // its output starts as a copy of the view, not of the whole storage.
    let x: Vec<f32> = (0..600).map(|i| (i as f32 - 300.0) * 0.01).collect();
    let t = Tensor::from_vec(x.clone(), &[300, 2]).expect("x");
    let view = t.slice_rows(50..250).expect("rows");
    let y = view.map(|v| v * 3.0 + 1.0);
    assert_eq!(y.shape(), &[200, 2]);
    let want: Vec<f32> = x[100..500].iter().map(|&v| v * 3.0 + 1.0).collect();
    assert_eq!(bits(y.as_slice()), bits(&want));
    // The input is untouched.
    assert_eq!(bits(t.as_slice()), bits(&x));
}

#[test]
fn small_op_results_hold_exactly_their_elements() {
    // Outputs of at most 64 elements are written on the stack and copied
    // into their block; check sizes around that bound and both element
    // types.
    for n in [1usize, 7, 8, 63, 64, 65, 200] {
        let a = Tensor::from_vec(values(n, 8), &[n]).expect("a");
        let b = Tensor::from_vec(values(n, 9), &[n]).expect("b");
        let want: Vec<f32> = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| x * y)
            .collect();
        let got = a.mul(&b).expect("same shape");
        assert_eq!(bits(got.as_slice()), bits(&want), "{n}");
        let a64 = a.cast::<f64>();
        let got = a64.add(&a64).expect("same shape");
        let want: Vec<f64> = a64.as_slice().iter().map(|x| x + x).collect();
        assert_eq!(got.to_vec(), want, "f64 {n}");
    }
    // Zero-filled outputs are +0.0 (a product of a zero-width inner
    // dimension, and a recorded sum's gradient of zeros).
    let z = Tensor::<f32>::zeros(&[64, 0])
        .expect("empty")
        .matmul(&Tensor::zeros(&[0, 16]).expect("empty"))
        .expect("k = 0");
    assert_eq!(z.shape(), &[64, 16]);
    assert!(z.as_slice().iter().all(|v| v.to_bits() == 0));
}
