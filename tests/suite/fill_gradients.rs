//! The gradient of a full sum flows as one value over its input's shape (a
//! fill), written out only where a rule or the result needs a tensor. These
//! tests check that every path a fill takes gives, bit for bit, what the
//! written-out spread gives: the same graph with `sum_axis(0, false)` in
//! place of `sum()` (whose backward writes the spread out) or gradients
//! computed by hand.

use tapeflow::{GradientTape, Tensor};

fn vector(values: &[f32]) -> Tensor<f32> {
    Tensor::from_vec(values.to_vec(), &[values.len()]).expect("vector")
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.as_slice().iter().map(|x| x.to_bits()).collect()
}

const A: [f32; 8] = [0.3, -1.7, 2.5, 1e-3, -0.0, 7.25, -3.1, 0.9];
const B: [f32; 8] = [1.1, 0.2, -4.0, 3.3, 5.5, -0.6, 1e4, -2.2];

/// `(a*b).sum()`'s gradients and those of `(a*b).sum_axis(0)`, which
/// spreads its gradient as a tensor: the same bits, with a seed of 1 and
/// with another output gradient.
#[test]
fn product_under_a_sum_matches_the_written_out_spread() {
    let (a, b) = (vector(&A), vector(&B));
    for seed in [1.0f32, -0.37] {
        let tape = GradientTape::new();
        let (va, vb) = (tape.watch(&a), tape.watch(&b));
        let r = Tensor::scalar(seed);
        let fill = va.mul(&vb).expect("same shape").sum();
        let spread = va
            .mul(&vb)
            .expect("same shape")
            .sum_axis(0, false)
            .expect("axis 0");
        let gf = tape.gradient_with(&fill, &r, [va, vb]).expect("fill");
        let gs = tape.gradient_with(&spread, &r, [va, vb]).expect("spread");
        for v in [va, vb] {
            assert_eq!(bits(gf.get(v).unwrap()), bits(gs.get(v).unwrap()));
        }
        // d/da = seed·b and d/db = seed·a, element by element
        let want_a: Vec<f32> = B.iter().map(|&x| seed * x).collect();
        let want_b: Vec<f32> = A.iter().map(|&x| seed * x).collect();
        assert_eq!(gf.get(va).unwrap().to_vec(), want_a);
        assert_eq!(gf.get(vb).unwrap().to_vec(), want_b);
    }
}

/// `(x*x).sum()`: both of the product's gradients flow into one node (a
/// fill's two products accumulated in the rule's order): `x + x` = 2x.
#[test]
fn square_under_a_sum_accumulates_both_sides() {
    let x = vector(&A);
    let tape = GradientTape::new();
    let vx = tape.watch(&x);
    let g = tape
        .gradient(&vx.mul(&vx).expect("same shape").sum(), [vx])
        .expect("scalar");
    let want: Vec<f32> = A.iter().map(|&v| v + v).collect();
    assert_eq!(
        bits(g.get(vx).unwrap()),
        want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}

/// A broadcast product under a sum: the fill is over the result's shape, not
/// the rhs's, so it is written out and summed back to the rhs's shape.
#[test]
fn broadcast_product_under_a_sum_writes_the_fill_out() {
    let a = Tensor::from_vec(A.to_vec(), &[2, 4]).expect("2x4");
    let b = vector(&B[..4]);
    let tape = GradientTape::new();
    let (va, vb) = (tape.watch(&a), tape.watch(&b));
    let g = tape
        .gradient(&va.mul(&vb).expect("broadcast").sum(), [va, vb])
        .expect("scalar");
    // d/da[i, j] = b[j]; d/db[j] = a[0, j] + a[1, j]
    let want_a: Vec<f32> = B[..4].iter().chain(&B[..4]).copied().collect();
    let want_b: Vec<f32> = (0..4).map(|j| A[j] + A[4 + j]).collect();
    assert_eq!(g.get(va).unwrap().shape(), &[2, 4]);
    assert_eq!(g.get(va).unwrap().to_vec(), want_a);
    assert_eq!(g.get(vb).unwrap().shape(), &[4]);
    assert_eq!(g.get(vb).unwrap().to_vec(), want_b);
}

/// Sums, differences and scalar products pass a fill through; a target
/// reached only by fills gets it written out over its own shape.
#[test]
fn fills_through_add_sub_and_scalar_ops() {
    let (a, b) = (vector(&A), vector(&B));
    let tape = GradientTape::new();
    let (va, vb) = (tape.watch(&a), tape.watch(&b));
    let y = va
        .sub(&vb)
        .expect("same shape")
        .mul_scalar(3.0)
        .add_scalar(1.0)
        .add(&va)
        .expect("same shape")
        .mean();
    let g = tape.gradient(&y, [va, vb]).expect("scalar");
    // mean: 1/8 everywhere; through add: 1/8 to both; mul_scalar: 3/8;
    // sub: 3/8 and -3/8; a accumulates 3/8 + 1/8 in the sweep's order.
    let eighth = 1.0f32 / 8.0;
    let three = eighth * 3.0;
    assert_eq!(g.get(va).unwrap().to_vec(), vec![three + eighth; 8]);
    assert_eq!(g.get(vb).unwrap().to_vec(), vec![-three; 8]);
    assert_eq!(g.get(va).unwrap().shape(), &[8]);
}

/// A fill meeting a tensor in one slot, in both orders. The sweep runs
/// from the last op recorded down: with `Σx` recorded first, `x` gets the
/// product's two gradients and then the fill, `(x + x) + 1`; recorded last,
/// the fill comes first, `(1 + x) + x` (what a written-out spread gives).
#[test]
fn a_fill_and_a_tensor_accumulate_in_either_order() {
    let x = vector(&A);
    for fill_first in [true, false] {
        let tape = GradientTape::new();
        let vx = tape.watch(&x);
        let (s, sq) = if fill_first {
            let s = vx.sum();
            (s, vx.mul(&vx).expect("same shape").sum())
        } else {
            let sq = vx.mul(&vx).expect("same shape").sum();
            (vx.sum(), sq)
        };
        let y = s.add(&sq).expect("scalars");
        let g = tape.gradient(&y, [vx]).expect("scalar");
        let want: Vec<u32> = A
            .iter()
            .map(|&v| {
                if fill_first {
                    (v + v) + 1.0
                } else {
                    (1.0 + v) + v
                }
            })
            .map(f32::to_bits)
            .collect();
        assert_eq!(bits(g.get(vx).unwrap()), want, "fill first: {fill_first}");
    }
}

/// An intermediate node asked for as a target: its fill is written out over
/// its shape; a non-fill rule (`exp`) below a sum gets the spread.
#[test]
fn intermediate_targets_and_other_rules_see_the_spread() {
    let x = vector(&A);
    let tape = GradientTape::new();
    let vx = tape.watch(&x);
    let e = vx.exp();
    let p = e.mul_scalar(2.0);
    let g = tape.gradient(&p.sum(), [vx, p, e]).expect("scalar");
    assert_eq!(g.get(p).unwrap().to_vec(), vec![1.0; 8]);
    assert_eq!(g.get(p).unwrap().shape(), &[8]);
    assert_eq!(g.get(e).unwrap().to_vec(), vec![2.0; 8]);
    let want: Vec<f32> = A.iter().map(|&v| 2.0 * v.exp()).collect();
    assert_eq!(g.get(vx).unwrap().to_vec(), want);
}

/// The loss itself as a target: its gradient is 1, a tensor of its shape.
#[test]
fn the_loss_as_its_own_target() {
    let tape = GradientTape::new();
    let x = tape.watch(&Tensor::from_vec(vec![2.0f32], &[1, 1]).expect("1x1"));
    let y = x.mul_scalar(3.0);
    let g = tape.gradient(&y, [y, x]).expect("one element");
    assert_eq!(g.get(y).unwrap().shape(), &[1, 1]);
    assert_eq!(g.get(y).unwrap().to_vec(), vec![1.0]);
    assert_eq!(g.get(x).unwrap().to_vec(), vec![3.0]);
}

/// A result list kept from one sweep's dropped gradients serves the next
/// sweeps, on the same tape and on new ones, with the right entries.
#[test]
fn kept_result_lists_carry_nothing_over() {
    let (a, b) = (vector(&A), vector(&B));
    for round in 0..4 {
        let tape = GradientTape::new();
        let (va, vb) = (tape.watch(&a), tape.watch(&b));
        let y = va.mul(&vb).expect("same shape").sum();
        let only_a = tape.gradient(&y, [va]).expect("scalar");
        assert_eq!(only_a.len(), 1, "round {round}");
        assert!(only_a.get(vb).is_none());
        drop(only_a);
        let both = tape.gradient(&y, [vb, va]).expect("scalar");
        assert_eq!(both.len(), 2, "round {round}");
        assert_eq!(both.get(va).unwrap().to_vec(), B.to_vec());
        assert_eq!(both.get(vb).unwrap().to_vec(), A.to_vec());
    }
}
