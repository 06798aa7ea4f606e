//! Finite-difference checks, in `f64` with a random cotangent, of the
//! attention ops: `permute`, `split_heads`/`merge_heads`, `bmm`, `bmm_nt`,
//! `softmax_masked` (causal, padding, additive, with fully masked rows),
//! `layer_norm` (with and without γ/β) and `embedding`.

use proptest::prelude::*;
use tapeflow::ops::{SoftmaxMask, causal_mask};
use tapeflow::testing::{GradCheck, check_gradient};
use tapeflow::{GradientTape, Result, Tensor, Var};

type Tf = Tensor<f64>;

fn check<F>(f: F, inputs: &[Tf]) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(&'t GradientTape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    check_gradient(f, inputs, GradCheck::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(format!("{e} (input shapes {shapes:?})")))
}

fn tensor_of(shape: Vec<usize>) -> impl Strategy<Value = Tf> {
    let n: usize = shape.iter().product();
    prop::collection::vec(-2.0f64..2.0, n)
        .prop_map(move |v| Tensor::from_vec(v, &shape).expect("length matches shape"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn permute_gradient(x in tensor_of(vec![2, 3, 2, 2]), p in Just(vec![2, 0, 3, 1])) {
        check(|_, v| v[0].permute(&p), &[x])?;
    }

    #[test]
    fn split_and_merge_heads_gradient(x in tensor_of(vec![2, 3, 4])) {
        check(|_, v| v[0].split_heads(2)?.mul_scalar(1.5).merge_heads(), std::slice::from_ref(&x))?;
        check(|_, v| v[0].split_heads(2), &[x])?;
    }

    #[test]
    fn bmm_gradient(a in tensor_of(vec![2, 2, 3, 4]), b in tensor_of(vec![2, 2, 4, 2])) {
        check(|_, v| v[0].bmm(&v[1]), &[a, b])?;
    }

    #[test]
    fn bmm_nt_gradient(a in tensor_of(vec![2, 2, 3, 4]), b in tensor_of(vec![2, 2, 5, 4])) {
        check(|_, v| v[0].bmm_nt(&v[1]), &[a, b])?;
    }

    #[test]
    fn causal_softmax_gradient(z in tensor_of(vec![2, 2, 4, 4])) {
        let mask = causal_mask::<f64>(4, 4).expect("valid size");
        check(|_, v| v[0].softmax_masked(SoftmaxMask::Keep(&mask)), &[z])?;
    }

    #[test]
    fn padding_and_fully_masked_softmax_gradient(z in tensor_of(vec![3, 1, 2, 3])) {
        // Batch entry 0 keeps all keys, 1 keeps the first, 2 keeps none (a
        // fully masked row: zeros and a zero gradient).
        let keep = Tensor::from_vec(
            vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            &[3, 1, 1, 3],
        ).expect("valid");
        check(|_, v| v[0].softmax_masked(SoftmaxMask::Keep(&keep)), std::slice::from_ref(&z))?;
        let tape = GradientTape::new();
        let y = tape.constant(&z).softmax_masked(SoftmaxMask::Keep(&keep)).expect("fits");
        let v = y.value().to_vec();
        prop_assert!(v[12..].iter().all(|&p| p == 0.0));
        prop_assert!(v.iter().all(|p| p.is_finite()));
    }

    #[test]
    fn additive_softmax_gradient(z in tensor_of(vec![2, 3]), a in tensor_of(vec![3])) {
        check(move |_, v| v[0].softmax_masked(SoftmaxMask::Additive(&a)), &[z])?;
    }

    #[test]
    fn layer_norm_gradient(
        x in tensor_of(vec![2, 3, 5]),
        g in tensor_of(vec![5]),
        b in tensor_of(vec![5]),
    ) {
        check(|_, v| v[0].layer_norm(Some(&v[1]), Some(&v[2]), 1e-3), &[x.clone(), g.clone(), b])?;
        check(|_, v| v[0].layer_norm(Some(&v[1]), None, 1e-5), &[x.clone(), g])?;
        check(|_, v| v[0].layer_norm(None, None, 1e-3), &[x])?;
    }

    #[test]
    fn embedding_gradient(
        table in tensor_of(vec![5, 3]),
        ids in prop::collection::vec(0usize..5, 6),
    ) {
        check(|_, v| v[0].embedding(&ids, &[2, 3]), &[table])?;
    }
}
