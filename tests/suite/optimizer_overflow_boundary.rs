//! A step is refused, changing nothing, exactly when a value it would
//! write is not finite: learning rates swept across the point where
//! Adam's first update of a parameter overflows `f32`, on both sides of
//! it, with the update computed here from the documented formula in the
//! same `f32` operations.

use tapeflow::optimizers::{Adam, Optimizer};
use tapeflow::{Gradients, Param, Tensor};

/// Adam's first step (`t = 1`, `m = v = 0`) on `p` with gradient `g`, in
/// the kernel's `f32` operations and constants (PyTorch's formula, the
/// type's docs).
fn first_adam_step(lr: f64, p: f32, g: f32) -> f32 {
    let (b1, b2) = (0.9f32, 0.999f32);
    let step_size = (lr / (1.0 - 0.9f64.powf(1.0))) as f32;
    let bias_2_sqrt = (1.0 - 0.999f64.powf(1.0)).sqrt() as f32;
    let m = 0.0 + (1.0 - b1) * (g - 0.0);
    let v = b2 * 0.0 + (1.0 - b2) * g * g;
    p - step_size * m / (v.sqrt() / bias_2_sqrt + 1e-7f32)
}

#[test]
fn adam_refuses_a_step_exactly_when_its_update_overflows() {
    // One element far from the limit, one at -3.3e38 whose update (about
    // `lr`) crosses -f32::MAX (3.4028e38) for a learning rate near 1.03e37.
    let (p0, g) = ([0.5f32, -3.3e38f32], [1.0f32, 1.0f32]);
    let (mut accepted, mut refused) = (0, 0);
    let mut lr = 1.0e37;
    while lr < 1.06e37 {
        let mut p = Param::new("p", Tensor::from_vec(p0.to_vec(), &[2]).expect("2"));
        let mut grads = Gradients::default();
        grads.insert_param(p.id(), Tensor::from_vec(g.to_vec(), &[2]).expect("2"));
        let mut opt = Adam::new(lr);
        let want: Vec<f32> = p0
            .iter()
            .zip(g)
            .map(|(&p, g)| first_adam_step(lr, p, g))
            .collect();
        let result = opt.apply_gradients(&grads, &mut [&mut p]);
        if want.iter().all(|x| x.is_finite()) {
            result.expect("a finite update is accepted");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(p.value().as_slice()), bits(&want), "lr {lr}");
            assert_eq!(opt.iterations(), 1);
            accepted += 1;
        } else {
            let err = result.expect_err("a non-finite update is refused");
            assert!(err.to_string().contains("non-finite"), "{err}");
            assert_eq!(p.value().to_vec(), p0.to_vec(), "lr {lr}: nothing written");
            assert_eq!(opt.iterations(), 0);
            assert_eq!(opt.state().len(), 1, "only the step count: no state");
            refused += 1;
        }
        lr *= 1.0 + 1e-3;
    }
    // The sweep crosses the boundary.
    assert!(
        accepted > 3 && refused > 3,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn adam_after_ordinary_steps_still_refuses_exactly_at_the_boundary() {
    // Ordinary steps first (decided by the bounds the optimizer keeps),
    // then a parameter set from outside at the limit: a step that would
    // overflow it is refused and changes nothing; a small one, which
    // rounds back to -f32::MAX, is accepted.
    let mut p = Param::new("p", Tensor::from_vec(vec![0.5f32; 40], &[40]).expect("40"));
    let mut grads = Gradients::default();
    grads.insert_param(
        p.id(),
        Tensor::from_vec(vec![0.25f32; 40], &[40]).expect("40"),
    );
    let mut opt = Adam::new(0.01);
    for _ in 0..3 {
        opt.apply_gradients(&grads, &mut [&mut p])
            .expect("ordinary step");
    }
    p.value_mut().as_mut_slice()[33] = -f32::MAX;
    let before = p.value().to_vec();
    let state = format!("{:?}", opt.state());
    opt.set_learning_rate(1e33);
    let err = opt.apply_gradients(&grads, &mut [&mut p]).unwrap_err();
    assert!(err.to_string().contains("at index 33"), "{err}");
    assert_eq!(p.value().to_vec(), before);
    assert_eq!(format!("{:?}", opt.state()), state);
    assert_eq!(opt.iterations(), 3);
    opt.set_learning_rate(0.01);
    opt.apply_gradients(&grads, &mut [&mut p])
        .expect("a small step");
    assert_eq!(p.value().as_slice()[33], -f32::MAX);
    assert!(p.value().as_slice().iter().all(|x| x.is_finite()));
    assert_eq!(opt.iterations(), 4);
}
