//! Finite-difference checks of every differentiable op on [`Var`], in `f64`,
//! through the public [`check_gradient`] (a random cotangent, never a plain
//! sum). Inputs are drawn away from kinks: magnitudes in `[0.1, 2]` with a
//! random sign, strictly positive where the op needs it, away from clamp and
//! hard-sigmoid bounds, and distinct values for `max_axis`.

use proptest::prelude::*;
use tapeflow::testing::{GradCheck, check_gradient};
use tapeflow::{GradientTape, Result, Tensor, Var};

type Tf = Tensor<f64>;

/// Runs [`check_gradient`] with the default tolerances, as a proptest failure.
fn check<F>(f: F, inputs: &[Tf]) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(&'t GradientTape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    check_gradient(f, inputs, GradCheck::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(format!("{e} (input shapes {shapes:?})")))
}

/// `|x|` in `[0.1, 2]` with a random sign: away from the kinks at 0.
fn signed() -> impl Strategy<Value = f64> + Clone {
    (0.1f64..2.0, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

fn positive() -> impl Strategy<Value = f64> + Clone {
    0.1f64..2.0
}

/// Shapes of rank `min_rank..=max_rank`, extents 1 to 3.
fn shape(min_rank: usize, max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, min_rank..=max_rank)
}

fn tensor_of<S>(shape: Vec<usize>, elem: S) -> impl Strategy<Value = Tf>
where
    S: Strategy<Value = f64>,
{
    let n: usize = shape.iter().product();
    prop::collection::vec(elem, n)
        .prop_map(move |v| Tensor::from_vec(v, &shape).expect("length matches shape"))
}

/// A tensor of rank 0 to 3 with elements from `elem`.
fn tensor<S>(elem: S) -> impl Strategy<Value = Tf>
where
    S: Strategy<Value = f64> + Clone,
{
    shape(0, 3).prop_flat_map(move |s| tensor_of(s, elem.clone()))
}

/// An operand shape that broadcasts to `out`: some leading dims dropped,
/// some of the rest replaced by 1.
fn broadcast_operand(out: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let r = out.len();
    (0..=r, prop::collection::vec(any::<bool>(), r)).prop_map(move |(drop, ones)| {
        (drop..r)
            .map(|d| if ones[d] { 1 } else { out[d] })
            .collect()
    })
}

/// Two operands whose shapes broadcast together (either side may broadcast).
fn broadcast_pair<S>(lhs: S, rhs: S) -> impl Strategy<Value = (Tf, Tf)>
where
    S: Strategy<Value = f64> + Clone,
{
    shape(0, 3)
        .prop_flat_map(|out| (broadcast_operand(out.clone()), broadcast_operand(out)))
        .prop_flat_map(move |(a, b)| (tensor_of(a, lhs.clone()), tensor_of(b, rhs.clone())))
}

/// A tensor of rank 1 to 3 and one of its axes.
fn with_axis() -> impl Strategy<Value = (Tf, usize)> {
    shape(1, 3).prop_flat_map(|s| {
        let r = s.len();
        (tensor_of(s, signed()), 0..r)
    })
}

/// A tensor of rank 1 to 3 with distinct elements (at least 0.3 apart, so
/// `max_axis` has no ties within a finite-difference step) and an axis.
fn distinct_with_axis() -> impl Strategy<Value = (Tf, usize)> {
    shape(1, 3).prop_flat_map(|s| {
        let n: usize = s.iter().product();
        let r = s.len();
        let values = Just((0..n).collect::<Vec<usize>>())
            .prop_shuffle()
            .prop_map(move |perm| {
                let data = perm.iter().map(|&k| k as f64 * 0.3 - 1.5).collect();
                Tensor::from_vec(data, &s).expect("length matches shape")
            });
        (values, 0..r)
    })
}

/// `|x|` drawn from `[0.1, 5)` with a random sign, at least 0.05 from each
/// point of `kinks` (in magnitude).
fn signed_away_from(kinks: &'static [f64]) -> impl Strategy<Value = f64> + Clone {
    (0.1f64..5.0, any::<bool>())
        .prop_filter("away from the kinks", |(m, _)| {
            kinks.iter().all(|k| (m - k).abs() > 0.05)
        })
        .prop_map(|(m, neg)| if neg { -m } else { m })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn add_sub_mul_broadcasting((a, b) in broadcast_pair(signed(), signed())) {
        check(|_, v| v[0].add(&v[1]), &[a.clone(), b.clone()])?;
        check(|_, v| v[0].sub(&v[1]), &[a.clone(), b.clone()])?;
        check(|_, v| v[0].mul(&v[1]), &[a, b])?;
    }

    #[test]
    fn div_broadcasting((a, b) in broadcast_pair(signed(), signed())) {
        check(|_, v| v[0].div(&v[1]), &[a, b])?;
    }

    #[test]
    fn scalar_ops(x in tensor(signed()), c in signed()) {
        check(|_, v| Ok(v[0].add_scalar(c)), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].sub_scalar(c)), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].mul_scalar(c)), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].div_scalar(c)), &[x])?;
    }

    #[test]
    fn powf_on_positive_inputs(x in tensor(positive()), p in -2.0f64..3.0) {
        check(|_, v| Ok(v[0].powf(p)), &[x])?;
    }

    #[test]
    fn smooth_unary_math(x in tensor(signed())) {
        check(|_, v| Ok(v[0].neg()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].exp()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].square()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].abs()), &[x])?;
    }

    #[test]
    fn ln_and_sqrt_on_positive_inputs(x in tensor(positive())) {
        check(|_, v| Ok(v[0].ln()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].sqrt()), &[x])?;
    }

    #[test]
    fn clamp_away_from_the_bounds(x in tensor(signed_away_from(&[1.0]))) {
        check(|_, v| Ok(v[0].clamp(-1.0, 1.0)), &[x])?;
    }

    #[test]
    fn piecewise_activations_away_from_zero(x in tensor(signed()), alpha in 0.05f64..2.0) {
        check(|_, v| Ok(v[0].relu()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].leaky_relu(alpha)), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].elu(alpha)), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].selu()), &[x])?;
    }

    #[test]
    fn smooth_activations(x in tensor(signed())) {
        check(|_, v| Ok(v[0].gelu()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].silu()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].softplus()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].softsign()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].sigmoid()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].tanh()), &[x])?;
    }

    #[test]
    fn hard_sigmoid_away_from_three(x in tensor(signed_away_from(&[3.0]))) {
        check(|_, v| Ok(v[0].hard_sigmoid()), &[x])?;
    }

    #[test]
    fn softmax_and_log_softmax_on_each_axis((x, axis) in with_axis()) {
        check(|_, v| v[0].softmax(axis), std::slice::from_ref(&x))?;
        check(|_, v| v[0].log_softmax(axis), &[x])?;
    }

    #[test]
    fn matmul_2d((m, k, n) in (1usize..=4, 1usize..=4, 1usize..=4), seed in any::<u64>()) {
        let (a, b) = (fixed(&[m, k], seed), fixed(&[k, n], seed ^ 1));
        check(|_, v| v[0].matmul(&v[1]), &[a, b])?;
    }

    #[test]
    fn matmul_batched_and_shared_rhs(
        (bt, m, k, n) in (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3),
        seed in any::<u64>(),
    ) {
        let a = fixed(&[bt, m, k], seed);
        check(|_, v| v[0].matmul(&v[1]), &[a.clone(), fixed(&[bt, k, n], seed ^ 1)])?;
        check(|_, v| v[0].matmul(&v[1]), &[a, fixed(&[k, n], seed ^ 2)])?;
    }

    #[test]
    fn linear_with_and_without_bias(
        lead in prop::collection::vec(1usize..=3, 1..=2),
        (fan_in, fan_out) in (1usize..=4, 1usize..=4),
        seed in any::<u64>(),
    ) {
        let mut xs = lead.clone();
        xs.push(fan_in);
        let (x, w, b) = (fixed(&xs, seed), fixed(&[fan_in, fan_out], seed ^ 1), fixed(&[fan_out], seed ^ 2));
        check(|_, v| v[0].linear(&v[1], None), &[x.clone(), w.clone()])?;
        check(|_, v| v[0].linear(&v[1], Some(&v[2])), &[x, w, b])?;
    }

    #[test]
    fn transpose_2d_and_3d(s in shape(2, 3), seed in any::<u64>()) {
        check(|_, v| v[0].transpose(), &[fixed(&s, seed)])?;
    }

    #[test]
    fn reshape_flat_and_reversed(x in tensor(signed())) {
        let flat = [x.len()];
        let reversed: Vec<usize> = x.shape().iter().rev().copied().collect();
        check(|_, v| v[0].reshape(&flat), std::slice::from_ref(&x))?;
        check(|_, v| v[0].reshape(&reversed), &[x])?;
    }

    #[test]
    fn sum_and_mean(x in tensor(signed())) {
        check(|_, v| Ok(v[0].sum()), std::slice::from_ref(&x))?;
        check(|_, v| Ok(v[0].mean()), &[x])?;
    }

    #[test]
    fn sum_axis_and_mean_axis((x, axis) in with_axis(), keepdim in any::<bool>()) {
        check(|_, v| v[0].sum_axis(axis, keepdim), std::slice::from_ref(&x))?;
        check(|_, v| v[0].mean_axis(axis, keepdim), &[x])?;
    }

    #[test]
    fn max_axis_without_ties((x, axis) in distinct_with_axis(), keepdim in any::<bool>()) {
        check(|_, v| v[0].max_axis(axis, keepdim), &[x])?;
    }

    #[test]
    fn concat_on_each_axis(
        (base, axis) in shape(1, 3).prop_flat_map(|s| { let r = s.len(); (Just(s), 0..r) }),
        extents in prop::collection::vec(1usize..=3, 2..=3),
        seed in any::<u64>(),
    ) {
        let inputs: Vec<Tf> = extents
            .iter()
            .enumerate()
            .map(|(i, &e)| {
                let mut s = base.clone();
                s[axis] = e;
                fixed(&s, seed ^ i as u64)
            })
            .collect();
        check(|_, v| Var::concat(v, axis), &inputs)?;
    }

    #[test]
    fn select_rows_with_repeats(
        (x, idx) in shape(1, 3).prop_flat_map(|s| {
            let rows = s[0];
            (tensor_of(s, signed()), prop::collection::vec(0..rows, 1..=5))
        }),
    ) {
        check(|_, v| v[0].select_rows(&idx), &[x])?;
    }
}

/// A tensor of `shape` with elements of magnitude in `[0.1, 2]` and random
/// signs, drawn from `seed` (for strategies whose shapes are drawn first).
fn fixed(shape: &[usize], seed: u64) -> Tf {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let m: f64 = rng.random_range(0.1..2.0);
            if rng.random_bool(0.5) { -m } else { m }
        })
        .collect();
    Tensor::from_vec(data, shape).expect("length matches shape")
}

#[test]
fn select_rows_repeats_accumulate_exactly() {
    // y = x[[1, 1, 0]] (x is [2, 2]); upstream r; d x_0 = r_2, d x_1 = r_0 + r_1.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    let y = x.select_rows(&[1, 1, 0]).unwrap();
    let r = Tensor::from_vec(vec![1.0, 2.0, 10.0, 20.0, 100.0, 200.0], &[3, 2]).unwrap();
    let g = tape.gradient_with(&y, &r, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().to_vec(), vec![100.0, 200.0, 11.0, 22.0]);
}
