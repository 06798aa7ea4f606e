//! The fused `scaled_dot_product_attention` against the unfused chain of
//! ops it replaces (values and gradients, several row blocks, causal with
//! cached queries, a padding mask with fully masked rows), its
//! finite-difference check in `f64`, and bit-identical results on one and
//! two threads.

use tapeflow::ops::{SoftmaxMask, causal_mask};
use tapeflow::testing::{GradCheck, check_gradient};
use tapeflow::{GradientTape, Result, Tensor, Var};

/// A deterministic pseudo-random tensor in [-2, 2).
fn noise(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect();
    Tensor::from_vec(data, shape).unwrap()
}

/// The unfused reference: split, `q kᵀ / √d`, masked softmax, `· v`, merge.
fn unfused<'t>(
    q: Var<'t, f64>,
    k: Var<'t, f64>,
    v: Var<'t, f64>,
    heads: usize,
    mask: Option<&Tensor<f64>>,
    causal: bool,
) -> Result<Var<'t, f64>> {
    let (tq, tk) = (q.shape()[1], k.shape()[1]);
    let d = q.shape()[2] / heads;
    let s = q
        .split_heads(heads)?
        .bmm_nt(&k.split_heads(heads)?)?
        .mul_scalar(1.0 / (d as f64).sqrt());
    let mut keep = Tensor::ones(&[1, 1, tq, tk])?;
    if causal {
        keep = keep.mul(&causal_mask(tq, tk)?)?;
    }
    if let Some(m) = mask {
        let m = match m.ndim() {
            2 => m.reshape(&[1, 1, tq, tk])?,
            _ => m.reshape(&[m.shape()[0], 1, m.shape()[1], tk])?,
        };
        keep = keep.mul(&m)?;
    }
    s.softmax_masked(SoftmaxMask::Keep(&keep))?
        .bmm(&v.split_heads(heads)?)?
        .merge_heads()
}

/// Value and gradients of `Σ r ⊙ attention(q, k, v)` by both paths agree.
fn same_as_unfused(
    b: usize,
    tq: usize,
    tk: usize,
    heads: usize,
    mask: Option<&Tensor<f64>>,
    causal: bool,
) {
    let (dk, dv) = (3, 2);
    let q = noise(&[b, tq, heads * dk], 1);
    let k = noise(&[b, tk, heads * dk], 2);
    let v = noise(&[b, tk, heads * dv], 3);
    let r = noise(&[b, tq, heads * dv], 4);
    let run = |fused: bool| {
        let tape = GradientTape::<f64>::new();
        let (qv, kv, vv) = (tape.watch(&q), tape.watch(&k), tape.watch(&v));
        let y = if fused {
            qv.scaled_dot_product_attention(&kv, &vv, heads, mask, causal)
        } else {
            unfused(qv, kv, vv, heads, mask, causal)
        }
        .unwrap();
        let g = tape.gradient_with(&y, &r, [qv, kv, vv]).unwrap();
        let mut all = vec![y.value().to_vec()];
        all.extend([qv, kv, vv].map(|x| g.get(x).unwrap().to_vec()));
        all
    };
    let (fused, reference) = (run(true), run(false));
    for (which, (a, e)) in ["y", "dq", "dk", "dv"]
        .iter()
        .zip(fused.iter().zip(&reference))
    {
        assert_eq!(a.len(), e.len());
        for (i, (x, y)) in a.iter().zip(e).enumerate() {
            assert!(
                (x - y).abs() < 1e-12 && x.is_finite(),
                "{which}[{i}]: fused {x}, unfused {y} (b {b}, tq {tq}, tk {tk}, causal {causal})"
            );
        }
    }
}

#[test]
fn fused_attention_matches_the_unfused_ops() {
    // Several row blocks of 32 queries, causal and not.
    same_as_unfused(2, 70, 70, 2, None, true);
    same_as_unfused(2, 70, 70, 2, None, false);
    // Fewer queries than keys (generation with a cache): offset causal band.
    same_as_unfused(1, 3, 40, 2, None, true);
    same_as_unfused(2, 5, 9, 3, None, false);
}

#[test]
fn fused_attention_matches_under_a_padding_mask_with_fully_masked_rows() {
    // Batch 0 keeps keys 0..3; batch 1 keeps none: every row of batch 1 is
    // fully masked and must give zeros and zero gradients, not NaN.
    let mut keep = vec![0.0; 2 * 6];
    keep[..3].fill(1.0);
    let pad = Tensor::from_vec(keep, &[2, 1, 6]).unwrap();
    same_as_unfused(2, 6, 6, 2, Some(&pad), true);
    same_as_unfused(2, 6, 6, 2, Some(&pad), false);
    let tape = GradientTape::<f64>::new();
    let q = tape.watch(&noise(&[2, 6, 4], 5));
    let y = q
        .scaled_dot_product_attention(&q, &q, 2, Some(&pad), false)
        .unwrap();
    assert!(y.value().to_vec()[24..].iter().all(|&x| x == 0.0));
    // A [t_q, t_k] mask shared by the batch.
    let band = causal_mask::<f64>(6, 6).unwrap();
    same_as_unfused(2, 6, 6, 2, Some(&band), false);
}

#[test]
fn fused_attention_finite_differences() {
    // Key 0 and query row 1 of batch 1 masked out: a fully masked row.
    let mut keep = vec![1.0; 2 * 5 * 5];
    for i in 0..10 {
        keep[i * 5] = 0.0;
    }
    keep[25 + 5..25 + 10].fill(0.0);
    let mask = Tensor::from_vec(keep, &[2, 5, 5]).unwrap();
    for (m, causal) in [(None, true), (Some(&mask), true), (Some(&mask), false)] {
        let inputs = [
            noise(&[2, 5, 4], 6),
            noise(&[2, 5, 4], 7),
            noise(&[2, 5, 6], 8),
        ];
        check_gradient(
            |_, v| v[0].scaled_dot_product_attention(&v[1], &v[2], 2, m, causal),
            &inputs,
            GradCheck::default(),
        )
        .unwrap();
    }
}

#[test]
fn fused_attention_rejects_bad_shapes() {
    let tape = GradientTape::<f32>::new();
    let q = tape.watch(&Tensor::zeros(&[2, 3, 4]).unwrap());
    let k = tape.watch(&Tensor::zeros(&[2, 5, 4]).unwrap());
    let v = tape.watch(&Tensor::zeros(&[2, 4, 4]).unwrap());
    let msg = |r: Result<Var<'_, f32>>| r.unwrap_err().to_string();
    assert_eq!(
        msg(q.scaled_dot_product_attention(&k, &v, 2, None, false)),
        "scaled_dot_product_attention: shape mismatch, lhs [2, 3, 4], rhs [2, 4, 4]"
    );
    assert_eq!(
        msg(q.scaled_dot_product_attention(&q, &q, 3, None, false)),
        "scaled_dot_product_attention: 3 heads do not divide the query/key features 4 and value features 4"
    );
    assert_eq!(
        msg(k.scaled_dot_product_attention(&q, &q, 2, None, true)),
        "scaled_dot_product_attention: 5 causal queries for 3 keys; a causal query needs its key"
    );
    let bad = Tensor::ones(&[3, 4]).unwrap();
    assert_eq!(
        msg(q.scaled_dot_product_attention(&k, &k, 2, Some(&bad), false)),
        "scaled_dot_product_attention: shape mismatch, lhs [2, 3, 5], rhs [3, 4]"
    );
}

/// Forward and backward of a causal, padded GPT-sized attention on `threads`.
fn run_on(threads: usize) -> Vec<Vec<f32>> {
    tapeflow::set_num_threads(threads);
    let f32s = |t: Tensor<f64>| {
        Tensor::from_vec(t.to_vec().iter().map(|&x| x as f32).collect(), t.shape()).unwrap()
    };
    let (q, k, v, r) = (
        f32s(noise(&[4, 40, 16], 9)),
        f32s(noise(&[4, 40, 16], 10)),
        f32s(noise(&[4, 40, 16], 11)),
        f32s(noise(&[4, 40, 16], 12)),
    );
    let mut keep = vec![1.0f32; 4 * 40];
    keep[3 * 40 + 30..].fill(0.0);
    let pad = Tensor::from_vec(keep, &[4, 1, 40]).unwrap();
    let tape = GradientTape::<f32>::new();
    let (qv, kv, vv) = (tape.watch(&q), tape.watch(&k), tape.watch(&v));
    let y = qv
        .scaled_dot_product_attention(&kv, &vv, 4, Some(&pad), true)
        .unwrap();
    let g = tape.gradient_with(&y, &r, [qv, kv, vv]).unwrap();
    let mut all = vec![y.value().to_vec()];
    all.extend([qv, kv, vv].map(|x| g.get(x).unwrap().to_vec()));
    all
}

#[test]
fn fused_attention_is_bit_identical_on_one_and_two_threads() {
    let one = run_on(1);
    let two = run_on(2);
    tapeflow::set_num_threads(0);
    for (a, b) in one.iter().zip(&two) {
        let (a, b): (Vec<u32>, Vec<u32>) = (
            a.iter().map(|x| x.to_bits()).collect(),
            b.iter().map(|x| x.to_bits()).collect(),
        );
        assert_eq!(a, b);
    }
}
