//! The tape's conventions, through the public API: non-differentiable points,
//! ties, stopped gradients, accumulation, parameters, errors, inference, deep
//! graphs and repeated sweeps.

use tapeflow::{Error, GradientTape, Param, Tensor, Var};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn relu_gradient_is_zero_at_zero() {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(&[-1.0, 0.0, -0.0, 2.0], &[4]));
    let r = t(&[5.0, 7.0, 11.0, 13.0], &[4]);
    let g = tape.gradient_with(&x.relu(), &r, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 0.0, 0.0, 13.0]);
}

#[test]
fn max_axis_ties_share_the_gradient_equally() {
    // Columns of [[4, 1, 4], [4, 1, 0]]: max along axis 0 is [4, 1, 4];
    // column 0 ties twice, column 1 ties twice, column 2 is unique.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(&[4.0, 1.0, 4.0, 4.0, 1.0, 0.0], &[2, 3]));
    for keepdim in [false, true] {
        let y = x.max_axis(0, keepdim).unwrap();
        let shape = if keepdim { vec![1, 3] } else { vec![3] };
        let r = t(&[2.0, 6.0, 3.0], &shape);
        let g = tape.gradient_with(&y, &r, [x]).unwrap();
        assert_eq!(
            g.get(x).unwrap().to_vec(),
            vec![1.0, 3.0, 3.0, 1.0, 3.0, 0.0]
        );
    }
}

#[test]
fn detach_stops_gradients() {
    // y = x · stop(x²) + stop(x): dy/dx = x² = 4 at x = 2, not 3x² + 1 = 13
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(2.0));
    let stopped = x.square().detach();
    assert!(!stopped.requires_grad());
    let y = x.mul(&stopped).unwrap().add(&x.detach()).unwrap();
    assert_eq!(y.value().item().unwrap(), 10.0);
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 4.0);
}

#[test]
fn reused_variable_accumulates_over_three_uses() {
    // y = Σ (x ⊙ c + eˣ + 3x²) with c = [1, 2]: dy/dx = c + eˣ + 6x
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(&[0.5, -1.0], &[2]));
    let c = tape.constant(&t(&[1.0, 2.0], &[2]));
    let y = x
        .mul(&c)
        .unwrap()
        .add(&x.exp())
        .unwrap()
        .add(&x.square().mul_scalar(3.0))
        .unwrap()
        .sum();
    let g = tape.gradient(&y, [x]).unwrap();
    let got = g.get(x).unwrap().to_vec();
    let want = [1.0 + 0.5f64.exp() + 3.0, 2.0 + (-1.0f64).exp() - 6.0];
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-14, "{got:?} vs {want:?}");
    }
}

#[test]
fn variable_not_influencing_the_loss_gets_zeros_of_its_shape() {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(3.0));
    let unused = tape.watch(&Tensor::ones(&[2, 3]).unwrap());
    let later = tape.watch(&Tensor::ones(&[4]).unwrap());
    let y = x.square();
    let after = tape.watch(&Tensor::ones(&[5]).unwrap()); // recorded after the loss
    let g = tape.gradient(&y, [x, unused, later, after]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 6.0);
    assert_eq!(g.get(unused).unwrap(), &Tensor::zeros(&[2, 3]).unwrap());
    assert_eq!(g.get(later).unwrap(), &Tensor::zeros(&[4]).unwrap());
    assert_eq!(g.get(after).unwrap(), &Tensor::zeros(&[5]).unwrap());
    assert_eq!(g.len(), 4);
}

#[test]
fn gradient_with_respect_to_an_intermediate_value() {
    // h = x², y = 3h: dy/dh = 3, dy/dx = 6x = 12 at x = 2
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(2.0));
    let h = x.square();
    let y = h.mul_scalar(3.0);
    let g = tape.gradient(&y, [h, x]).unwrap();
    assert_eq!(g.get(h).unwrap().item().unwrap(), 3.0);
    assert_eq!(g.get(x).unwrap().item().unwrap(), 12.0);
}

#[test]
fn param_gradients_are_keyed_by_the_param() {
    // loss = Σ (x·W + b) with x = [[1, 2]]: dW = xᵀ·1 = [[1, 1], [2, 2]], db = [1, 1]
    let w = Param::new("kernel", t(&[0.1, 0.2, 0.3, 0.4], &[2, 2]));
    let b = Param::new("bias", t(&[0.0, 0.0], &[2]));
    let absent = Param::new("absent", Tensor::<f64>::ones(&[3]).unwrap());
    let tape = GradientTape::new();
    let x = tape.constant(&t(&[1.0, 2.0], &[1, 2]));
    let loss = x
        .linear(&tape.param(&w), Some(&tape.param(&b)))
        .unwrap()
        .sum();
    let g = tape.gradient(&loss, [&w, &b, &absent]).unwrap();
    assert_eq!(g.get(&w).unwrap().to_vec(), vec![1.0, 1.0, 2.0, 2.0]);
    assert_eq!(g.get(w.id()).unwrap().to_vec(), vec![1.0, 1.0, 2.0, 2.0]);
    assert_eq!(g.get(&b).unwrap().to_vec(), vec![1.0, 1.0]);
    assert_eq!(g.get(&absent).unwrap(), &Tensor::zeros(&[3]).unwrap());
    let ids: Vec<_> = g.params().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&w.id()) && ids.contains(&b.id()));
}

#[test]
fn same_param_twice_is_one_node_and_accumulates() {
    // loss = w · w (both from tape.param(&w)): dw = 2w = 6
    let w = Param::new("w", Tensor::scalar(3.0f64));
    let tape = GradientTape::new();
    let a = tape.param(&w);
    let len = tape.len();
    let b = tape.param(&w);
    assert_eq!(tape.len(), len, "the second param() call adds no node");
    let loss = a.mul(&b).unwrap();
    let g = tape.gradient(&loss, [&w]).unwrap();
    assert_eq!(g.get(&w).unwrap().item().unwrap(), 6.0);
}

#[test]
fn frozen_param_gets_zeros_and_records_nothing() {
    let mut w = Param::new("w", t(&[1.0, 2.0], &[2]));
    w.set_trainable(false);
    let tape = GradientTape::new();
    let x = tape.constant(&t(&[3.0, 4.0], &[2]));
    let wv = tape.param(&w);
    assert!(!wv.requires_grad());
    let loss = x.mul(&wv).unwrap().tanh().sum();
    assert_eq!(tape.recorded_ops(), 0);
    let g = tape.gradient(&loss, [&w]).unwrap();
    assert_eq!(g.get(&w).unwrap(), &Tensor::zeros(&[2]).unwrap());
}

#[test]
fn non_scalar_loss_without_output_gradient_is_an_error() {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::ones(&[2, 3]).unwrap());
    let err = tape.gradient(&x.exp(), [x]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "gradient", .. }));
    assert!(
        err.to_string()
            .starts_with("gradient: the loss must hold one element, got shape [2, 3]"),
        "{err}"
    );
    // One element in any rank is a valid loss.
    let one = tape.watch(&Tensor::ones(&[1, 1]).unwrap());
    let g = tape.gradient(&one.exp(), [one]).unwrap();
    assert_eq!(g.get(one).unwrap().shape(), &[1, 1]);
}

#[test]
fn operands_on_different_tapes_are_an_error() {
    let (t1, t2) = (GradientTape::<f64>::new(), GradientTape::<f64>::new());
    let a = t1.watch(&Tensor::ones(&[2, 2]).unwrap());
    let b = t2.watch(&Tensor::ones(&[2, 2]).unwrap());
    let msg = |r: tapeflow::Result<Var<'_, f64>>| r.unwrap_err().to_string();
    assert_eq!(msg(a.add(&b)), "add: operands are on different tapes");
    assert_eq!(msg(a.sub(&b)), "sub: operands are on different tapes");
    assert_eq!(msg(a.mul(&b)), "mul: operands are on different tapes");
    assert_eq!(msg(a.div(&b)), "div: operands are on different tapes");
    assert_eq!(msg(a.matmul(&b)), "matmul: operands are on different tapes");
    assert_eq!(
        msg(a.linear(&b, None)),
        "linear: operands are on different tapes"
    );
    assert_eq!(
        msg(Var::concat(&[a, b], 0)),
        "concat: operands are on different tapes"
    );
    let loss = a.sum();
    assert!(matches!(
        t2.gradient(&loss, [b]),
        Err(Error::TapeMismatch { op: "gradient" })
    ));
    assert!(matches!(
        t1.gradient(&loss, [b]),
        Err(Error::TapeMismatch { op: "gradient" })
    ));
}

#[test]
fn inference_on_constants_records_no_backward_rules() {
    let w = Param::new("w", Tensor::<f64>::ones(&[3, 2]).unwrap());
    let tape = GradientTape::new();
    let x = tape.constant(&Tensor::ones(&[4, 3]).unwrap());
    let c = tape.constant(&Tensor::ones(&[2]).unwrap());
    let y = x
        .linear(&tape.constant(w.value()), Some(&c))
        .unwrap()
        .relu()
        .softmax(1)
        .unwrap()
        .mul(&c)
        .unwrap()
        .sum_axis(0, false)
        .unwrap()
        .mean();
    assert_eq!(tape.recorded_ops(), 0);
    // 3 leaves; linear, relu, softmax, mul, sum_axis; mean = sum and a scale
    assert_eq!(tape.len(), 10);
    // every row of the softmax is [1/2, 1/2], summed over 4 rows and averaged
    assert!((y.value().item().unwrap() - 2.0).abs() < 1e-15);
}

#[test]
fn chain_of_100k_unary_ops_does_not_overflow_the_stack() {
    // y = ((x + 1) · 1) + 1 … : dy/dx = 1
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(0.0));
    let mut y = x;
    for i in 0..100_000 {
        y = if i % 2 == 0 {
            y.add_scalar(1.0)
        } else {
            y.mul_scalar(1.0)
        };
    }
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 1.0);
    assert_eq!(y.value().item().unwrap(), 50_000.0);
}

#[test]
fn chain_of_100k_binary_ops_mixing_two_vars_does_not_overflow_the_stack() {
    // Alternately y ← y + a and y ← y · b with a = 1, b = 1, starting at y = 0.
    // dy/da = 50,000 (each addition, times later b's = 1);
    // dy/db = Σ of y before each product = 1 + 2 + … + 50,000.
    let tape = GradientTape::<f64>::new();
    let a = tape.watch(&Tensor::scalar(1.0));
    let b = tape.watch(&Tensor::scalar(1.0));
    let mut y = tape.constant(&Tensor::scalar(0.0));
    for i in 0..100_000 {
        y = if i % 2 == 0 {
            y.add(&a).unwrap()
        } else {
            y.mul(&b).unwrap()
        };
    }
    let g = tape.gradient(&y, [a, b]).unwrap();
    assert_eq!(g.get(a).unwrap().item().unwrap(), 50_000.0);
    assert_eq!(g.get(b).unwrap().item().unwrap(), 50_000.0 * 50_001.0 / 2.0);
}

#[test]
fn gradient_twice_gives_the_same_result() {
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&t(&[0.3, -0.7, 1.2], &[3]));
    let w = tape.watch(&t(&[0.5, 0.1, -0.4, 2.0, 0.3, -1.0], &[3, 2]));
    let y = x
        .reshape(&[1, 3])
        .unwrap()
        .matmul(&w)
        .unwrap()
        .log_softmax(1)
        .unwrap()
        .sum();
    let first = tape.gradient(&y, [x, w]).unwrap();
    let second = tape.gradient(&y, [x, w]).unwrap();
    assert_eq!(first.get(x), second.get(x));
    assert_eq!(first.get(w), second.get(w));
    assert!(first.get(x).unwrap().as_slice().iter().any(|&v| v != 0.0));
}

#[test]
fn gradients_of_one_tape_do_not_answer_for_another_tapes_var() {
    let (t1, t2) = (GradientTape::<f64>::new(), GradientTape::<f64>::new());
    let a = t1.watch(&Tensor::scalar(2.0));
    let b = t2.watch(&Tensor::scalar(2.0)); // same node index as `a`
    let g = t1.gradient(&a.square(), [a]).unwrap();
    assert_eq!(g.get(a).unwrap().item().unwrap(), 4.0);
    assert!(g.get(b).is_none());
}

#[test]
fn constant_loss_gives_zero_gradients() {
    let mut w = Param::new("w", Tensor::<f64>::ones(&[2]).unwrap());
    let tape = GradientTape::new();
    let x = tape.watch(&Tensor::ones(&[3]).unwrap());
    let loss = tape.constant(&Tensor::scalar(5.0)).exp();
    let g = tape.gradient(&loss, [x]).unwrap();
    assert_eq!(g.get(x).unwrap(), &Tensor::zeros(&[3]).unwrap());
    let g = tape.gradient(&loss, [&mut w]).unwrap();
    assert_eq!(g.get(&w).unwrap(), &Tensor::zeros(&[2]).unwrap());
}

#[test]
fn concat_of_nothing_is_an_error() {
    let err = Var::<f64>::concat(&[], 0).unwrap_err();
    assert_eq!(err.to_string(), "concat: needs at least one tensor");
}
