//! Explanations and attacks through the convolution, pooling, normalization
//! and attention layers: input gradients match finite differences, integrated
//! gradients are complete, and an attack stays inside its ball, in f64.

use tapeflow::Result;
use tapeflow::adversarial::{Attack, Norm};
use tapeflow::explain::{IntegratedGradients, Output, Rule, forward_fn, gradient};
use tapeflow::prelude::*;

/// Conv2D → BatchNormalization → MaxPooling2D → Conv2D (depthwise-style
/// groups) → GlobalAveragePooling2D → Dense over `[6, 6, 2]` images.
fn cnn() -> Result<Sequential<f64>> {
    let mut m = Sequential::new_typed(&[6, 6, 2])
        .add(
            Conv2D::new(4, [3, 3])
                .padding(Padding::Same)
                .activation(Activation::Tanh),
        )
        .add(BatchNormalization::new())
        .add(MaxPooling2D::new([2, 2]))
        .add(Conv2D::new(4, [2, 2]).groups(2))
        .add(GlobalAveragePooling2D::default())
        .add(Dense::new(3))
        .seed(5);
    m.build()?;
    Ok(m)
}

/// MultiHeadAttention → LayerNormalization → TransformerBlock → Flatten →
/// Dense over `[4, 6]` sequences of continuous features.
fn attention() -> Result<Sequential<f64>> {
    let mut m = Sequential::new_typed(&[4, 6])
        .add(MultiHeadAttention::new(2, 3).use_causal_mask(true))
        .add(LayerNormalization::new())
        .add(TransformerBlock::new(2).mlp_ratio(2))
        .add(Flatten::new())
        .add(Dense::new(3))
        .seed(7);
    m.build()?;
    Ok(m)
}

fn inputs(shape: &[usize]) -> Result<Tensor<f64>> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 9.0)
        .collect();
    Tensor::from_vec(data, shape)
}

/// The input gradient of output `class` matches central differences at a
/// few features, and, given `steps`, integrated gradients (Gauss–Legendre)
/// sum to `f(x) − f(0)` within 1 %.
fn check(
    m: &Sequential<f64>,
    x: &Tensor<f64>,
    class: usize,
    features: &[usize],
    steps: Option<usize>,
) -> Result<()> {
    let f = forward_fn(|v| m.forward_var(v, Mode::Infer));
    let g = gradient(f, x, &Output::Class(class))?;
    let outputs = m.output_shape()?.iter().product::<usize>();
    let h = 1e-6;
    for &k in features {
        let (mut up, mut down) = (x.to_vec(), x.to_vec());
        up[k] += h;
        down[k] -= h;
        let fu = m.predict(&Tensor::from_vec(up, x.shape())?)?.as_slice()[class];
        let fd = m.predict(&Tensor::from_vec(down, x.shape())?)?.as_slice()[class];
        let numeric = (fu - fd) / (2.0 * h);
        let analytic = g.as_slice()[k];
        assert!(
            (analytic - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
            "feature {k}: gradient {analytic}, finite difference {numeric}"
        );
    }
    let Some(steps) = steps else {
        return Ok(());
    };
    let ig = IntegratedGradients::default()
        .steps(steps)
        .rule(Rule::GaussLegendre);
    let a = m.integrated_gradients(x, &Output::Class(class), &ig)?;
    assert_eq!(a.attributions.shape(), x.shape());
    let fx = m.predict(x)?.as_slice()[class];
    let f0 = m.predict(&Tensor::zeros(x.shape())?)?.as_slice()[class];
    assert_eq!(m.predict(x)?.len(), outputs);
    let delta = a.delta.as_slice()[0];
    assert!(
        delta.abs() < 0.01 * (fx - f0).abs(),
        "delta {delta}, f(x) - f(0) = {}",
        fx - f0
    );
    Ok(())
}

#[test]
fn explanations_through_convolution_pooling_and_batch_norm() -> Result<()> {
    let m = cnn()?;
    check(&m, &inputs(&[1, 6, 6, 2])?, 1, &[0, 13, 40, 71], Some(64))
}

#[test]
fn explanations_through_attention_and_layer_norm() -> Result<()> {
    let m = attention()?;
    // Gradients only. From the zero baseline, the attention output (zero
    // biases at initialization) is tiny near the start of the path, and three
    // layer normalizations in a row (epsilon 1e-3, then 1e-5 twice) amplify
    // it by about 1e6: along the path f(αx) goes 0 → 0.6 → 0 → -1.1 as α
    // goes 0 → 1e-6 → 1e-4 → 1e-3. No quadrature of 32 to 4,096 nodes
    // resolves that spike (deltas of 4 % to 27 % of f(x) - f(0)), although
    // the gradient is right at every point (checked here at x, and along the
    // path while investigating). For normalized models use a baseline away
    // from the normalizations' singular point, or many more steps.
    check(&m, &inputs(&[1, 4, 6])?, 2, &[0, 7, 15, 23], None)
}

#[test]
fn pgd_on_a_cnn_stays_in_its_ball_and_the_valid_range() -> Result<()> {
    let mut m = cnn()?;
    m.compile(
        Sgd::new(0.1),
        SparseCategoricalCrossentropy { from_logits: true },
        &[],
    )?;
    let x = inputs(&[3, 6, 6, 2])?.map(|v| (v + 1.3) / 2.6);
    let y = Tensor::from_vec(vec![0.0, 1.0, 2.0], &[3])?;
    let attack = Attack::pgd(Norm::Linf, 0.05, 0.02, 5).seed(1);
    let adv = m.perturb(&attack, &x, &y)?;
    assert_eq!(adv.shape(), x.shape());
    for (a, b) in adv.as_slice().iter().zip(x.as_slice()) {
        assert!((a - b).abs() <= 0.05 + 1e-12, "{a} vs {b}");
        assert!((0.0..=1.0).contains(a));
    }
    assert_ne!(adv.as_slice(), x.as_slice());
    Ok(())
}
