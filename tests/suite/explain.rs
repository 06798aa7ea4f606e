//! Explanations on models built here: completeness of integrated gradients,
//! batching (paths through the model as batches give the per-row answers),
//! SmoothGrad's determinism, every existing layer kind, and every bad
//! setting named in its error.

use tapeflow::Result;
use tapeflow::explain::{
    IntegratedGradients, Method, Output, Rule, SmoothGrad, forward_fn, gradient,
    integrated_gradients, smooth_grad,
};
use tapeflow::prelude::*;

/// A small non-linear classifier over `[4, 3]` inputs using every layer
/// kind that exists: Flatten, Dense with several activations, Dropout.
fn model() -> Result<Sequential<f64>> {
    let mut m = Sequential::new_typed(&[4, 3])
        .add(Flatten::new())
        .add(Dense::new(16).activation(Activation::Tanh))
        .add(Dropout::new(0.5))
        .add(Dense::new(8).activation(Activation::Gelu))
        .add(Dense::new(5))
        .seed(3);
    m.build()?;
    Ok(m)
}

fn inputs(rows: usize) -> Result<Tensor<f64>> {
    let data = (0..rows * 12)
        .map(|i| ((i * 29 % 17) as f64 - 8.0) / 5.0)
        .collect();
    Tensor::from_vec(data, &[rows, 4, 3])
}

#[test]
fn integrated_gradients_are_complete_on_every_rule() -> Result<()> {
    let (m, x) = (model()?, inputs(3)?);
    let out = Output::Class(2);
    for rule in [
        Rule::GaussLegendre,
        Rule::RiemannMiddle,
        Rule::RiemannTrapezoid,
        Rule::RiemannLeft,
        Rule::RiemannRight,
    ] {
        let ig = IntegratedGradients::default().steps(64).rule(rule);
        let a = m.integrated_gradients(&x, &out, &ig)?;
        assert_eq!(a.attributions.shape(), &[3, 4, 3]);
        let fx = m.predict(&x)?;
        let f0 = m.predict(&Tensor::zeros(&[3, 4, 3])?)?;
        for i in 0..3 {
            let gap = fx.as_slice()[i * 5 + 2] - f0.as_slice()[i * 5 + 2];
            let sum: f64 = a.attributions.as_slice()[i * 12..(i + 1) * 12].iter().sum();
            let delta = a.delta.as_slice()[i];
            assert!((sum - gap - delta).abs() < 1e-12, "{rule:?} row {i}");
            let bound = if rule == Rule::GaussLegendre || rule == Rule::RiemannMiddle {
                1e-3
            } else {
                // First-order rules: error O(1/n).
                5e-2
            };
            assert!(
                delta.abs() < bound * gap.abs(),
                "{rule:?} row {i}: delta {delta}, gap {gap}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_baseline_row_is_shared_and_a_full_baseline_is_used_per_row() -> Result<()> {
    let (m, x) = (model()?, inputs(2)?);
    let row = Tensor::full(&[4, 3], 0.25)?;
    let full = Tensor::full(&[2, 4, 3], 0.25)?;
    let a = m.integrated_gradients(
        &x,
        &Output::Class(0),
        &IntegratedGradients::default().baseline(row),
    )?;
    let b = m.integrated_gradients(
        &x,
        &Output::Class(0),
        &IntegratedGradients::default().baseline(full),
    )?;
    assert_eq!(a, b);
    // The baseline matters: a zero baseline gives other attributions.
    let z = m.integrated_gradients(&x, &Output::Class(0), &IntegratedGradients::default())?;
    assert_ne!(a.attributions, z.attributions);
    Ok(())
}

#[test]
fn batched_paths_give_the_per_row_answers() -> Result<()> {
    let (m, x) = (model()?, inputs(3)?);
    let out = Output::Classes(vec![0, 4, 1]);
    let ig = IntegratedGradients::default().steps(20);
    let batch = m.integrated_gradients(&x, &out, &ig)?;
    // Chunked passes (2 path points of 3 rows per pass) agree too.
    let chunked = m.integrated_gradients(&x, &out, &ig.clone().internal_batch_size(6))?;
    for (a, b) in batch
        .attributions
        .as_slice()
        .iter()
        .zip(chunked.attributions.as_slice())
    {
        assert!((a - b).abs() < 1e-12);
    }
    for (i, c) in [0, 4, 1].into_iter().enumerate() {
        let xi = x.slice_rows(i..i + 1)?;
        let one = m.integrated_gradients(&xi, &Output::Class(c), &ig)?;
        let got = &batch.attributions.as_slice()[i * 12..(i + 1) * 12];
        for (a, b) in got.iter().zip(one.attributions.as_slice()) {
            assert!((a - b).abs() < 1e-12, "row {i}: {a} vs {b}");
        }
    }
    Ok(())
}

#[test]
fn gradient_matches_finite_differences_through_every_layer() -> Result<()> {
    let (m, x) = (model()?, inputs(1)?);
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let g = gradient(f, &x, &Output::Class(3))?;
    let h = 1e-6;
    for k in [0, 5, 11] {
        let (mut up, mut down) = (x.to_vec(), x.to_vec());
        up[k] += h;
        down[k] -= h;
        let fu = m.predict(&Tensor::from_vec(up, &[1, 4, 3])?)?.as_slice()[3];
        let fd = m.predict(&Tensor::from_vec(down, &[1, 4, 3])?)?.as_slice()[3];
        let fd_grad = (fu - fd) / (2.0 * h);
        assert!((g.as_slice()[k] - fd_grad).abs() < 1e-6, "feature {k}");
    }
    // Saliency is its absolute value; gradient × input its product with x.
    let s = m.attribute(&Method::Saliency, &x, &Output::Class(3))?;
    let gx = m.attribute(&Method::GradientXInput, &x, &Output::Class(3))?;
    for k in 0..12 {
        assert_eq!(s.as_slice()[k], g.as_slice()[k].abs());
        assert_eq!(gx.as_slice()[k], g.as_slice()[k] * x.as_slice()[k]);
    }
    Ok(())
}

#[test]
fn smooth_grad_is_seeded_and_averages_noisy_gradients() -> Result<()> {
    let (m, x) = (model()?, inputs(2)?);
    let out = Output::Class(1);
    let sg = SmoothGrad::default().samples(8).noise_level(0.2).seed(5);
    let a = m.smooth_grad(&Method::Gradient, &x, &out, &sg)?;
    assert_eq!(a, m.smooth_grad(&Method::Gradient, &x, &out, &sg)?);
    assert_ne!(
        a,
        m.smooth_grad(&Method::Gradient, &x, &out, &sg.clone().seed(6))?
    );
    // Without noise it is the plain gradient.
    let plain = m.attribute(&Method::Gradient, &x, &out)?;
    let quiet = m.smooth_grad(&Method::Gradient, &x, &out, &sg.clone().noise_level(0.0))?;
    for (p, q) in plain.as_slice().iter().zip(quiet.as_slice()) {
        assert!((p - q).abs() < 1e-12);
    }
    // Over integrated gradients too.
    let ig = Method::IntegratedGradients(IntegratedGradients::default().steps(8));
    assert_eq!(m.smooth_grad(&ig, &x, &out, &sg)?.shape(), &[2, 4, 3]);
    assert_ne!(a, plain);
    Ok(())
}

#[test]
fn output_value_explains_a_regression_model() -> Result<()> {
    let mut m = Sequential::<f64>::new_typed(&[2]).add(Dense::new(1));
    m.build()?;
    m.set_weights(vec![
        Tensor::from_vec(vec![2.0, -3.0], &[2, 1])?,
        Tensor::ones(&[1])?,
    ])?;
    let x = Tensor::from_vec(vec![1.0, 1.0, 0.5, -2.0], &[2, 2])?;
    let ig =
        m.integrated_gradients(&x, &Output::Value, &IntegratedGradients::default().steps(4))?;
    // Linear: IG = w ⊙ (x − 0) exactly.
    let want = [2.0, -3.0, 1.0, 6.0];
    for (a, w) in ig.attributions.as_slice().iter().zip(want) {
        assert!((a - w).abs() < 1e-12);
    }
    Ok(())
}

#[test]
fn bad_settings_are_errors_naming_the_setting() -> Result<()> {
    let (m, x) = (model()?, inputs(2)?);
    let msg = |e: tapeflow::Error| e.to_string();
    let ig = IntegratedGradients::default();
    // A target class outside the model's 5 outputs.
    let e = m
        .integrated_gradients(&x, &Output::Class(5), &ig)
        .unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: target class 5 is out of range for a model with 5 outputs"
    );
    let e = m
        .attribute(&Method::Saliency, &x, &Output::Classes(vec![0, 9]))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "saliency: target class 9 (row 1) is out of range for a model with 5 outputs"
    );
    let e = m
        .attribute(&Method::Saliency, &x, &Output::Classes(vec![0]))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "saliency: Output::Classes needs one class per row, got 1 for 2 rows"
    );
    let e = m
        .attribute(&Method::Gradient, &x, &Output::Value)
        .unwrap_err();
    assert!(msg(e).starts_with("gradient: Output::Value needs one output per row"));
    // A baseline of the wrong shape.
    let bad = IntegratedGradients::default().baseline(Tensor::zeros(&[3, 4])?);
    let e = m
        .integrated_gradients(&x, &Output::Class(0), &bad)
        .unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: shape mismatch, lhs [2, 4, 3], rhs [3, 4]"
    );
    let nan = IntegratedGradients::default().baseline(Tensor::full(&[4, 3], f64::NAN)?);
    let e = m
        .integrated_gradients(&x, &Output::Class(0), &nan)
        .unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: the baseline holds a non-finite value (NaN)"
    );
    // Zero steps; one step for the trapezoid; a zero internal batch.
    let e = m
        .integrated_gradients(&x, &Output::Class(0), &ig.clone().steps(0))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: steps must be at least 1 for GaussLegendre, got 0"
    );
    let trap = ig.clone().steps(1).rule(Rule::RiemannTrapezoid);
    assert!(
        m.integrated_gradients(&x, &Output::Class(0), &trap)
            .is_err()
    );
    let e = m
        .integrated_gradients(&x, &Output::Class(0), &ig.clone().internal_batch_size(0))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: internal_batch_size must be at least 1, got 0"
    );
    // SmoothGrad: noise level negative or NaN, zero samples.
    for level in [-0.1, f64::NAN] {
        let sg = SmoothGrad::default().noise_level(level);
        let e = m
            .smooth_grad(&Method::Gradient, &x, &Output::Class(0), &sg)
            .unwrap_err();
        assert_eq!(
            msg(e),
            format!("smooth_grad: noise_level must be finite and >= 0, got {level}")
        );
    }
    let sg = SmoothGrad::default().samples(0);
    let e = m
        .smooth_grad(&Method::Gradient, &x, &Output::Class(0), &sg)
        .unwrap_err();
    assert_eq!(msg(e), "smooth_grad: samples must be at least 1, got 0");
    // Bad inputs: a non-finite value, an empty batch, the wrong feature shape.
    let mut v = x.to_vec();
    v[13] = f64::INFINITY;
    let e = m
        .attribute(
            &Method::Gradient,
            &Tensor::from_vec(v, &[2, 4, 3])?,
            &Output::Class(0),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "gradient: input row 1 holds a non-finite value (inf)"
    );
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let e =
        integrated_gradients(f, &Tensor::zeros(&[0, 4, 3])?, &Output::Class(0), &ig).unwrap_err();
    assert_eq!(
        msg(e),
        "integrated_gradients: needs a batch of at least one row, got shape [0, 4, 3]"
    );
    assert!(
        m.attribute(
            &Method::Gradient,
            &Tensor::zeros(&[2, 12])?,
            &Output::Class(0)
        )
        .is_err()
    );
    let e = smooth_grad(
        f,
        &Method::Gradient,
        &x,
        &Output::Class(7),
        &SmoothGrad::default(),
    )
    .unwrap_err();
    let m7 = msg(e);
    assert!(m7.contains("target class 7 is out of range"), "{m7}");
    Ok(())
}

#[test]
fn a_model_with_non_finite_weights_is_an_error_not_a_silent_nan() -> Result<()> {
    let mut m = Sequential::<f64>::new_typed(&[2]).add(Dense::new(2));
    m.build()?;
    m.set_weights(vec![
        Tensor::from_vec(vec![1.0, f64::NAN, 0.0, 1.0], &[2, 2])?,
        Tensor::zeros(&[2])?,
    ])?;
    let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?;
    let e = m
        .attribute(&Method::Saliency, &x, &Output::Class(1))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "saliency: the model's output or its input gradient is not finite"
    );
    Ok(())
}
