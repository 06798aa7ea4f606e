use super::*;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("test data matches shape")
}

/// Asserts equal shapes and elements (`Tensor` need not be `Debug`).
#[track_caller]
fn same(got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(got.shape(), want.shape());
    assert_eq!(got.to_vec(), want.to_vec());
}

fn seq(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    t(&(0..n).map(|i| i as f64 - 2.0).collect::<Vec<_>>(), shape)
}

#[test]
fn matmul_2d_golden() {
    // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]
    let c = t(&[1., 2., 3., 4.], &[2, 2])
        .matmul(&t(&[5., 6., 7., 8.], &[2, 2]))
        .unwrap();
    assert_eq!(c.to_vec(), vec![19., 22., 43., 50.]);
}

#[test]
fn batched_matmul_multiplies_each_pair() {
    let a = seq(&[3, 2, 4]);
    let b = seq(&[3, 4, 5]);
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), &[3, 2, 5]);
    for i in 0..3 {
        let ai = a.slice_rows(i..i + 1).unwrap().reshape(&[2, 4]).unwrap();
        let bi = b.slice_rows(i..i + 1).unwrap().reshape(&[4, 5]).unwrap();
        let ci = c.slice_rows(i..i + 1).unwrap().reshape(&[2, 5]).unwrap();
        same(&ci, &ai.matmul(&bi).unwrap());
    }
}

#[test]
fn shared_rhs_matmul_equals_flattened_rows() {
    let a = seq(&[3, 2, 4]);
    let w = seq(&[4, 5]);
    let c = a.matmul(&w).unwrap();
    assert_eq!(c.shape(), &[3, 2, 5]);
    let flat = a.reshape(&[6, 4]).unwrap().matmul(&w).unwrap();
    assert_eq!(c.to_vec(), flat.to_vec());
}

#[test]
fn transposed_variants_match_explicit_transpose() {
    let a = seq(&[4, 3]);
    let b = seq(&[4, 5]);
    let want = a.transpose().unwrap().matmul(&b).unwrap();
    same(&a.matmul_tn(&b).unwrap(), &want);
    let c = seq(&[5, 3]);
    let want = a.matmul(&c.transpose().unwrap()).unwrap();
    same(&a.matmul_nt(&c).unwrap(), &want);
    // Batched and shared-rhs forms.
    let a3 = seq(&[2, 4, 3]);
    let b3 = seq(&[2, 4, 5]);
    let tn = a3.matmul_tn(&b3).unwrap();
    same(&tn, &a3.transpose().unwrap().matmul(&b3).unwrap());
    assert_eq!(tn.shape(), &[2, 3, 5]);
    let tn_shared = a3.matmul_tn(&b).unwrap();
    same(&tn_shared, &a3.transpose().unwrap().matmul(&b).unwrap());
    let nt_shared = seq(&[2, 4, 3]).matmul_nt(&c).unwrap();
    same(
        &nt_shared,
        &seq(&[2, 4, 3]).matmul(&c.transpose().unwrap()).unwrap(),
    );
}

#[test]
fn shared_rhs_gradient_is_flattened_matmul_tn() {
    // y = a·w with a [b, m, k], w [k, n]; dw = Σ_b a_bᵀ·g_b.
    let a = seq(&[3, 2, 4]);
    let g = seq(&[3, 2, 5]).mul_scalar(0.5);
    let dw = a
        .reshape(&[6, 4])
        .unwrap()
        .matmul_tn(&g.reshape(&[6, 5]).unwrap())
        .unwrap();
    let per_batch = a.matmul_tn(&g).unwrap().sum_axis(0, false).unwrap();
    same(&dw, &per_batch);
}

/// The exact product of small integers by a plain loop, as `f32`.
fn exact(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize), nt: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let bv = if nt { b[j * k + p] } else { b[p * n + j] };
                s += f64::from(a[i * k + p]) * f64::from(bv);
            }
            out[i * n + j] = s as f32;
        }
    }
    out
}

#[test]
fn outputs_taken_from_the_buffer_cache_are_overwritten_on_every_gemm_path() {
    // `gemm` writes a product's output without reading it, so a kept
    // buffer full of NaN must not show through, on each of its paths:
    // depth 1 and 2 (`gevv`), one output column (`gemv`), small blocks
    // per batch entry (the horizontal kernels), and the main loop.
    let ints = |n: usize, seed: usize| -> Vec<f32> {
        (0..n).map(|i| ((i * 7 + seed) % 7) as f32 - 3.0).collect()
    };
    // (batch, m, k, n, transposed rhs)
    let cases = [
        (1, 64, 1, 300, false),
        (1, 100, 2, 200, false),
        (1, 17_000, 300, 1, false),
        (300, 8, 40, 8, true),
        (1, 160, 160, 160, false),
    ];
    for (batch, m, k, n, nt) in cases {
        let out = batch * m * n;
        for len in [out, out + out / 8] {
            drop(Tensor::<f32>::full(&[len], f32::NAN).expect("poison"));
        }
        let a = ints(batch * m * k, 1);
        let b = ints(batch * k * n, 2);
        let lhs = Tensor::from_vec(a.clone(), &[batch, m, k]).expect("lhs");
        let got = if nt {
            let rhs = Tensor::from_vec(b.clone(), &[batch, n, k]).expect("rhs");
            lhs.matmul_nt(&rhs).expect("product")
        } else {
            let rhs = Tensor::from_vec(b.clone(), &[batch, k, n]).expect("rhs");
            lhs.matmul(&rhs).expect("product")
        };
        let mut want = Vec::with_capacity(out);
        for e in 0..batch {
            want.extend(exact(
                &a[e * m * k..(e + 1) * m * k],
                &b[e * k * n..(e + 1) * k * n],
                (m, k, n),
                nt,
            ));
        }
        assert_eq!(got.to_vec(), want, "batch {batch}, [{m}, {k}] x [{k}, {n}]");
    }
}

#[test]
fn zero_inner_dimension_gives_zeros() {
    let c = Tensor::<f32>::zeros(&[2, 0])
        .unwrap()
        .matmul(&Tensor::zeros(&[0, 3]).unwrap())
        .unwrap();
    assert_eq!(c.shape(), &[2, 3]);
    assert_eq!(c.to_vec(), vec![0.0; 6]);
    let c = Tensor::<f32>::zeros(&[2, 0, 3])
        .unwrap()
        .matmul_tn(&Tensor::zeros(&[2, 0, 4]).unwrap())
        .unwrap();
    assert_eq!(c.to_vec(), vec![0.0; 24]);
}

#[test]
fn empty_outer_dimensions_give_empty_results() {
    let c = Tensor::<f32>::zeros(&[0, 3])
        .unwrap()
        .matmul(&Tensor::ones(&[3, 4]).unwrap())
        .unwrap();
    assert_eq!(c.shape(), &[0, 4]);
    let c = Tensor::<f32>::ones(&[2, 3])
        .unwrap()
        .matmul_nt(&Tensor::ones(&[0, 3]).unwrap())
        .unwrap();
    assert_eq!(c.shape(), &[2, 0]);
    let c = Tensor::<f32>::zeros(&[0, 2, 3])
        .unwrap()
        .matmul(&Tensor::zeros(&[0, 3, 4]).unwrap())
        .unwrap();
    assert_eq!(c.shape(), &[0, 2, 4]);
}

#[test]
fn operands_may_be_row_slices_of_larger_storage() {
    let big = seq(&[4, 3]);
    let rows = big.slice_rows(1..3).unwrap();
    let c = rows.matmul(&seq(&[3, 2])).unwrap();
    let copied = t(&rows.to_vec(), &[2, 3]).matmul(&seq(&[3, 2])).unwrap();
    same(&c, &copied);
}

fn message(r: Result<Tensor<f64>>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(t) => panic!(
            "shape error expected, got a result of shape {:?}",
            t.shape()
        ),
    }
}

#[test]
fn matmul_rejects_mismatched_inner_dims() {
    let Err(err) = seq(&[2, 3]).matmul(&seq(&[4, 5])) else {
        panic!("inner dims 3 and 4 differ");
    };
    assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }));
    assert_eq!(
        err.to_string(),
        "matmul: shape mismatch, lhs [2, 3], rhs [4, 5]"
    );
    assert_eq!(
        message(seq(&[2, 2, 3]).matmul(&seq(&[2, 4, 5]))),
        "matmul: shape mismatch, lhs [2, 2, 3], rhs [2, 4, 5]"
    );
    assert_eq!(
        message(seq(&[2, 2, 3]).matmul(&seq(&[4, 5]))),
        "matmul: shape mismatch, lhs [2, 2, 3], rhs [4, 5]"
    );
}

#[test]
fn matmul_rejects_mismatched_batches() {
    assert_eq!(
        message(seq(&[2, 2, 3]).matmul(&seq(&[3, 3, 4]))),
        "matmul: shape mismatch, lhs [2, 2, 3], rhs [3, 3, 4]"
    );
    assert_eq!(
        message(seq(&[2, 3]).matmul(&seq(&[2, 3, 4]))),
        "matmul: shape mismatch, lhs [2, 3], rhs [2, 3, 4]"
    );
}

#[test]
fn matmul_rejects_vectors_scalars_and_rank_4() {
    assert_eq!(
        message(seq(&[3]).matmul(&seq(&[3, 2]))),
        "matmul: shape mismatch, lhs [3], rhs [3, 2]"
    );
    assert_eq!(
        message(seq(&[2, 3]).matmul(&seq(&[3]))),
        "matmul: shape mismatch, lhs [2, 3], rhs [3]"
    );
    assert_eq!(
        message(Tensor::scalar(1.0).matmul(&Tensor::scalar(2.0))),
        "matmul: shape mismatch, lhs [], rhs []"
    );
    assert_eq!(
        message(seq(&[1, 2, 2, 3]).matmul(&seq(&[3, 2]))),
        "matmul: shape mismatch, lhs [1, 2, 2, 3], rhs [3, 2]"
    );
}

#[test]
fn transposed_variants_reject_bad_shapes_with_their_own_name() {
    // matmul_tn: the inner dimension is self's leading matrix axis.
    assert_eq!(
        message(seq(&[2, 3]).matmul_tn(&seq(&[3, 4]))),
        "matmul_tn: shape mismatch, lhs [2, 3], rhs [3, 4]"
    );
    assert_eq!(
        message(seq(&[2, 4, 3]).matmul_tn(&seq(&[3, 4, 5]))),
        "matmul_tn: shape mismatch, lhs [2, 4, 3], rhs [3, 4, 5]"
    );
    assert_eq!(
        message(seq(&[4]).matmul_tn(&seq(&[4, 1]))),
        "matmul_tn: shape mismatch, lhs [4], rhs [4, 1]"
    );
    // matmul_nt: the inner dimension is rhs's last axis.
    assert_eq!(
        message(seq(&[2, 3]).matmul_nt(&seq(&[3, 4]))),
        "matmul_nt: shape mismatch, lhs [2, 3], rhs [3, 4]"
    );
    assert_eq!(
        message(seq(&[2, 3]).matmul_nt(&seq(&[1, 4, 3]))),
        "matmul_nt: shape mismatch, lhs [2, 3], rhs [1, 4, 3]"
    );
    assert_eq!(
        message(seq(&[2, 2, 3]).matmul_nt(&seq(&[4]))),
        "matmul_nt: shape mismatch, lhs [2, 2, 3], rhs [4]"
    );
}
