//! Unit tests of the engine: inference, accumulation, errors, frozen
//! parameters, deep chains.

use super::*;

#[test]
fn inference_records_no_rules() {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::ones(&[4]).unwrap());
    let y = x.exp().mul_scalar(2.0).sum();
    assert_eq!(tape.recorded_ops(), 0);
    assert_eq!(y.value().item().unwrap(), 2.0 * 4.0 * 1f32.exp());
}

#[test]
fn reused_variable_accumulates() {
    // y = x·x + x, dy/dx = 2x + 1 = 7 at x = 3
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(3.0));
    let y = x.mul(&x).unwrap().add(&x).unwrap();
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 7.0);
}

#[test]
fn gradient_of_non_scalar_needs_an_output_gradient() {
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::ones(&[2, 3]).unwrap());
    let err = tape.gradient(&x.exp(), [x]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("gradient: the loss must hold one element, got shape [2, 3]")
    );
    let err = tape
        .gradient_with(&x.exp(), &Tensor::ones(&[3]).unwrap(), [x])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradient_with: shape mismatch, lhs [2, 3], rhs [3]"
    );
}

#[test]
fn operands_on_different_tapes_are_an_error() {
    let (t1, t2) = (GradientTape::<f32>::new(), GradientTape::<f32>::new());
    let a = t1.watch(&Tensor::scalar(1.0));
    let b = t2.watch(&Tensor::scalar(1.0));
    assert_eq!(
        a.add(&b).unwrap_err().to_string(),
        "add: operands are on different tapes"
    );
    assert_eq!(
        t1.gradient(&b, [a]).unwrap_err().to_string(),
        "gradient: operands are on different tapes"
    );
    assert_eq!(
        t1.gradient(&a, [b]).unwrap_err().to_string(),
        "gradient: operands are on different tapes"
    );
}

#[test]
fn frozen_param_is_a_constant() {
    let mut w = Param::new("w", Tensor::scalar(2.0f32));
    w.set_trainable(false);
    let tape = GradientTape::new();
    let y = tape.param(&w).square();
    assert_eq!(tape.recorded_ops(), 0);
    let g = tape.gradient(&y, [&w]).unwrap();
    assert_eq!(g.get(&w).unwrap().item().unwrap(), 0.0);
}

#[test]
fn deep_chain_of_100k_ops_does_not_overflow_the_stack() {
    // y = x + 1 + 1 + … (100,000 times), dy/dx = 1
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::scalar(0.0));
    let mut y = x;
    for _ in 0..100_000 {
        y = y.add_scalar(1.0);
    }
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 1.0);
    assert_eq!(y.value().item().unwrap(), 100_000.0);
}
