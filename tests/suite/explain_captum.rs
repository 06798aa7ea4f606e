//! Explanations agree with Captum on the same weights: a small PyTorch MLP
//! trained on MNIST, imported through `load_weights_from_safetensors`, and
//! Captum's attributions of the first four MNIST test digits, all made by
//! tests/golden/captum_mlp.py (fixtures in tests/fixtures/captum_mlp*.safetensors).

use tapeflow::Result;
use tapeflow::data::load_idx_images;
use tapeflow::explain::{IntegratedGradients, Method, Output, Rule};
use tapeflow::models::WeightMap;
use tapeflow::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The PyTorch MLP, 784-32-16-10 with ReLU, with torch's weights.
pub fn torch_mlp() -> Result<Sequential> {
    let mut model = Sequential::new(&[784])
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dense::new(10));
    model.build()?;
    model.load_weights_from_safetensors(
        format!("{DIR}/captum_mlp.safetensors"),
        &WeightMap::pytorch_linear(&[("0", "dense"), ("2", "dense_1"), ("4", "dense_2")]),
    )?;
    Ok(model)
}

/// One float32 tensor of the expected-values file, flattened.
pub fn expected(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(format!("{DIR}/captum_mlp_expected.safetensors")).expect("fixture");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("fixture parses");
    let view = st.tensor(name).expect("tensor in fixture");
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The four test digits and their labels, as the golden script saw them.
pub fn digits() -> Result<(Tensor, Vec<usize>)> {
    let x = Tensor::from_vec(expected("x"), &[4, 784])?;
    let labels = expected("labels").iter().map(|&l| l as usize).collect();
    Ok((x, labels))
}

fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{name}[{i}]: got {g}, captum {w}");
    }
}

#[test]
fn captum_inputs_are_the_first_mnist_test_digits_and_logits_agree() -> Result<()> {
    let images = load_idx_images(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/mnist/t10k-images-idx3-ubyte.gz"
    ))?;
    let (x, _) = digits()?;
    assert_eq!(images.slice_rows(0..4)?.to_vec(), x.to_vec());
    let logits = torch_mlp()?.predict(&x)?;
    assert_close("logits", logits.as_slice(), &expected("logits"), 1e-5);
    Ok(())
}

#[test]
fn saliency_matches_captum_saliency() -> Result<()> {
    let (model, (x, labels)) = (torch_mlp()?, digits()?);
    let s = model.attribute(&Method::Saliency, &x, &Output::Classes(labels))?;
    assert_eq!(s.shape(), &[4, 784]);
    assert_close("saliency", s.as_slice(), &expected("saliency"), 1e-4);
    Ok(())
}

#[test]
fn gradient_x_input_matches_captum_input_x_gradient() -> Result<()> {
    let (model, (x, labels)) = (torch_mlp()?, digits()?);
    let a = model.attribute(&Method::GradientXInput, &x, &Output::Classes(labels))?;
    assert_close(
        "input_x_gradient",
        a.as_slice(),
        &expected("input_x_gradient"),
        1e-4,
    );
    Ok(())
}

#[test]
fn integrated_gradients_match_captum_for_both_rules() -> Result<()> {
    let (model, (x, labels)) = (torch_mlp()?, digits()?);
    for (rule, name) in [
        (Rule::GaussLegendre, "ig_gausslegendre"),
        (Rule::RiemannMiddle, "ig_riemann_middle"),
    ] {
        let ig = IntegratedGradients::default().steps(50).rule(rule);
        let out = model.integrated_gradients(&x, &Output::Classes(labels.clone()), &ig)?;
        assert_close(name, out.attributions.as_slice(), &expected(name), 1e-4);
        let delta = expected(&format!("{name}_delta"));
        assert_close(&format!("{name}_delta"), out.delta.as_slice(), &delta, 1e-4);
    }
    Ok(())
}

#[test]
fn integrated_gradients_are_complete_with_64_steps() -> Result<()> {
    // Completeness: Σ IG = f(x) − f(0), up to the reported delta, which must
    // be below 1 % of |f(x) − f(0)| with 64 Gauss–Legendre steps.
    let (model, (x, labels)) = (torch_mlp()?, digits()?);
    let ig = IntegratedGradients::default().steps(64);
    let out = model.integrated_gradients(&x, &Output::Classes(labels.clone()), &ig)?;
    let fx = model.predict(&x)?;
    let f0 = model.predict(&Tensor::zeros(&[4, 784])?)?;
    for (i, &c) in labels.iter().enumerate() {
        let gap = fx.as_slice()[i * 10 + c] - f0.as_slice()[i * 10 + c];
        let sum: f32 = out.attributions.as_slice()[i * 784..(i + 1) * 784]
            .iter()
            .sum();
        let delta = out.delta.as_slice()[i];
        assert!(
            (sum - gap - delta).abs() < 1e-4,
            "row {i}: delta {delta} is not Σ − gap"
        );
        assert!(
            delta.abs() < 0.01 * gap.abs(),
            "row {i}: delta {delta}, gap {gap}"
        );
    }
    Ok(())
}
