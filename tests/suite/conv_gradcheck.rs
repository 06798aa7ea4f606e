//! Finite-difference checks in `f64` of the convolution, pooling and batch
//! normalization ops, on random shapes: every combination of padding
//! (`valid`, `same`), stride (1, 2), dilation (1, 2) and groups (1, 2 and
//! depthwise) for `conv2d`; `conv1d` with causal padding; max and average
//! pooling with both paddings; batch normalization in training and
//! inference form. Each uses a random cotangent (`check_gradient`).

use proptest::prelude::*;
use tapeflow::ops::ConvSpec;
use tapeflow::tensor::Padding;
use tapeflow::testing::{GradCheck, check_gradient};
use tapeflow::{GradientTape, Result, Tensor, Var};

type Tf = Tensor<f64>;

fn check<F>(f: F, inputs: &[Tf], what: &str) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(&'t GradientTape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    check_gradient(f, inputs, GradCheck::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(format!("{what}: {e} (input shapes {shapes:?})")))
}

/// Values in `[-1, 1]` from a seed (a cheap deterministic generator, so the
/// strategy only draws shapes and a seed).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tf {
    Tensor::from_vec(values(shape.iter().product(), seed), shape).expect("length matches shape")
}

/// Distinct values (0.05 apart, shuffled by the seed) so max pooling has
/// no ties within a finite-difference step.
fn distinct(shape: &[usize], seed: u64) -> Tf {
    let n: usize = shape.iter().product();
    let keys = values(n, seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut data = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        data[i] = rank as f64 * 0.05 - 1.0;
    }
    Tensor::from_vec(data, shape).expect("length matches shape")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_gradients_match_finite_differences_for_every_setting(
        batch in 1usize..=2,
        h in 4usize..=6,
        w in 4usize..=6,
        kh in 1usize..=3,
        kw in 1usize..=3,
        cg in 1usize..=2,
        fg in 1usize..=2,
        seed in any::<u64>(),
    ) {
        for padding in [Padding::Valid, Padding::Same] {
            for stride in [1, 2] {
                for dilation in [1, 2] {
                    let extent = |k: usize| (k - 1) * dilation + 1;
                    if padding == Padding::Valid && (extent(kh) > h || extent(kw) > w) {
                        continue;
                    }
                    // groups 1, 2, and depthwise (groups = channels, one filter each).
                    for (groups, channels, filters) in [(1, cg, fg), (2, 2 * cg, 2 * fg), (2 * cg, 2 * cg, 2 * cg)] {
                        let spec = ConvSpec::new()
                            .strides([stride, stride])
                            .padding(padding)
                            .dilation([dilation, dilation])
                            .groups(groups);
                        let x = tensor(&[batch, h, w, channels], seed);
                        let k = tensor(&[kh, kw, channels / groups, filters], seed ^ 1);
                        let b = tensor(&[filters], seed ^ 2);
                        let what = format!("{spec:?}");
                        check(|_, v| v[0].conv2d(&v[1], Some(&v[2]), spec), &[x, k, b], &what)?;
                    }
                }
            }
        }
    }

    #[test]
    fn conv1d_gradients_match_finite_differences(
        l in 3usize..=7,
        k in 1usize..=3,
        stride in 1usize..=2,
        dilation in 1usize..=2,
        seed in any::<u64>(),
    ) {
        for padding in [Padding::Valid, Padding::Same, Padding::Causal] {
            let x = tensor(&[2, l, 2], seed);
            let w = tensor(&[k, 2, 3], seed ^ 1);
            let b = tensor(&[3], seed ^ 2);
            if (k - 1) * dilation + 1 > l {
                continue;
            }
            check(
                |_, v| v[0].conv1d(&v[1], Some(&v[2]), stride, padding, dilation, 1),
                &[x, w, b],
                padding.name(),
            )?;
        }
    }

    #[test]
    fn pooling_gradients_match_finite_differences(
        batch in 1usize..=2,
        h in 2usize..=6,
        w in 2usize..=6,
        c in 1usize..=3,
        p in 1usize..=3,
        stride in 1usize..=3,
        seed in any::<u64>(),
    ) {
        for padding in [Padding::Valid, Padding::Same] {
            if padding == Padding::Valid && (p > h || p > w) {
                continue;
            }
            let x = distinct(&[batch, h, w, c], seed);
            check(|_, v| v[0].max_pool2d([p, p], [stride, stride], padding), std::slice::from_ref(&x), "max_pool2d")?;
            check(|_, v| v[0].avg_pool2d([p, p], [stride, stride], padding), std::slice::from_ref(&x), "avg_pool2d")?;
            let seq = distinct(&[batch, h * w, c], seed);
            check(|_, v| v[0].max_pool1d(p, stride, padding), std::slice::from_ref(&seq), "max_pool1d")?;
            check(|_, v| v[0].avg_pool1d(p, stride, padding), &[seq], "avg_pool1d")?;
        }
        let x = distinct(&[batch, h, w, c], seed);
        check(|_, v| v[0].global_avg_pool2d(), std::slice::from_ref(&x), "global_avg_pool2d")?;
        check(|_, v| v[0].global_max_pool2d(), &[x], "global_max_pool2d")?;
    }

    #[test]
    fn batch_norm_gradients_match_finite_differences(
        rows in 2usize..=4,
        h in 1usize..=3,
        c in 1usize..=3,
        seed in any::<u64>(),
    ) {
        let x = tensor(&[rows, h, c], seed);
        let gamma = tensor(&[c], seed ^ 1);
        let beta = tensor(&[c], seed ^ 2);
        check(
            |_, v| Ok(v[0].batch_norm_training(&v[1], &v[2], 1e-3)?.0),
            &[x.clone(), gamma.clone(), beta.clone()],
            "batch_norm_training",
        )?;
        let mean = tensor(&[c], seed ^ 3);
        let var = tensor(&[c], seed ^ 4).map(|v| v.abs() + 0.1);
        check(
            move |_, v| v[0].batch_norm_inference(&v[1], &v[2], &mean, &var, 1e-3),
            &[x, gamma, beta],
            "batch_norm_inference",
        )?;
    }
}
