//! MNIST explanations: trains a 784-128-10 ReLU MLP on MNIST, then explains
//! its prediction for the first test digits with saliency, integrated
//! gradients (zero baseline, 64 Gauss–Legendre steps) and SmoothGrad over
//! the gradient, prints each digit's convergence delta, and writes one SVG
//! per digit and method (the digit beside its attribution map) into a
//! folder, `target/explain_mnist/` unless one is given as the argument.
//! Exits with status 1 if a delta is not below 1 % of `f(x) − f(0)`.
//!
//! Run it with `cargo run --release --example explain_mnist [out_dir]`.
//! (`tests/suite/examples_explain.rs` runs the same `run` on a subset.)

use std::path::{Path, PathBuf};

use tapeflow::data::Mnist;
use tapeflow::explain::{IntegratedGradients, Method, Output, SmoothGrad, attribution_svg};
use tapeflow::prelude::*;

/// How much data and training a run uses.
pub struct Config {
    /// Training images used (the first ones).
    pub train_rows: usize,
    /// Epochs.
    pub epochs: usize,
    /// Test digits explained (the first ones).
    pub digits: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            train_rows: 60_000,
            epochs: 3,
            digits: 4,
        }
    }
}

/// What a run produced.
pub struct Outcome {
    /// Test accuracy of the model on the first 2,000 test images.
    pub accuracy: f64,
    /// Each explained digit's label and predicted class.
    pub digits: Vec<(usize, usize)>,
    /// Each digit's integrated-gradients convergence delta and the output
    /// gap `f(x) − f(0)` it should be small against.
    pub deltas: Vec<(f32, f32)>,
    /// The pictures written.
    pub files: Vec<PathBuf>,
}

/// Trains, explains and writes the pictures into `out_dir`.
pub fn run(config: &Config, out_dir: &Path, verbose: u8) -> tapeflow::Result<Outcome> {
    let Mnist { train, test } = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?
        .take(config.train_rows, 2000);
    let mut model = Sequential::new(&[784])
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(42);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    let options = FitOptions::default()
        .epochs(config.epochs)
        .batch_size(128)
        .verbose(verbose);
    model.fit(train.features(), train.targets(), options)?;
    let eval = model.evaluate(test.features(), test.targets())?;

    // Explain each digit's predicted class.
    let digits = test.take(config.digits).features().clone();
    let predicted = model.predict_classes(&digits)?;
    let output = Output::Classes(predicted.clone());
    let ig = IntegratedGradients::default().steps(64);
    let ig_out = model.integrated_gradients(&digits, &output, &ig)?;
    let saliency = model.attribute(&Method::Saliency, &digits, &output)?;
    let smooth = SmoothGrad::default().samples(25).noise_level(0.15).seed(1);
    let smooth = model.smooth_grad(&Method::Gradient, &digits, &output, &smooth)?;

    let logits = model.predict(&digits)?;
    let at_zero = model.predict(&Tensor::zeros(&[config.digits, 784])?)?;
    std::fs::create_dir_all(out_dir).map_err(|source| tapeflow::Error::Io {
        op: "explain_mnist",
        path: out_dir.display().to_string(),
        source,
    })?;
    let mut files = Vec::new();
    let mut deltas = Vec::new();
    let mut labels = Vec::new();
    for (i, &class) in predicted.iter().enumerate() {
        let label = test.targets().as_slice()[i] as usize;
        labels.push((label, class));
        let gap = logits.as_slice()[i * 10 + class] - at_zero.as_slice()[i * 10 + class];
        deltas.push((ig_out.delta.as_slice()[i], gap));
        let image = digits.slice_rows(i..i + 1)?;
        for (name, attr) in [
            ("integrated_gradients", &ig_out.attributions),
            ("saliency", &saliency),
            ("smoothgrad", &smooth),
        ] {
            let path = out_dir.join(format!("digit{i}_label{label}_{name}.svg"));
            attribution_svg(&path, &image, &attr.slice_rows(i..i + 1)?, 28, 28)?;
            files.push(path);
        }
    }
    Ok(Outcome {
        accuracy: eval.metric(Metric::Accuracy).unwrap_or(0.0),
        digits: labels,
        deltas,
        files,
    })
}

fn main() -> tapeflow::Result<()> {
    let out_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/explain_mnist"))
        });
    let out = run(&Config::default(), &out_dir, 2)?;
    println!("test accuracy (first 2,000 images): {:.4}", out.accuracy);
    for (i, ((label, class), (delta, gap))) in out.digits.iter().zip(&out.deltas).enumerate() {
        println!(
            "digit {i}: label {label}, predicted {class}, IG delta {delta:+.2e} for f(x) - f(0) = {gap:.3}"
        );
    }
    println!(
        "wrote {} pictures to {}",
        out.files.len(),
        out_dir.display()
    );
    Ok(())
}
