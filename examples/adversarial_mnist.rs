//! MNIST robustness: a standard and an adversarially trained MLP
//! (784-256-256-10, ReLU), each evaluated on the test set for clean
//! accuracy and robust accuracy under PGD-20 at ε = 0.1 (L∞, pixels in
//! [0, 1], step 0.01, no random start).
//!
//! Adversarial training (Madry et al. 2017): every training batch is
//! replaced by its PGD-7 adversarial examples (ε = 0.1, step 0.025, random
//! start) made against the current weights with the compiled loss
//! (`FitOptions::adversarial`). The targets, checked at the end (exit
//! status 1 if missed, full data only): the adversarially trained model
//! reaches robust accuracy ≥ 0.80 with clean accuracy ≥ 0.97.
//!
//! Run it with `cargo run --release --example adversarial_mnist`.
//! (`tests/suite/examples_adversarial.rs` runs the same `run` on a subset.)

use std::time::Instant;

use tapeflow::adversarial::{AdversarialTraining, Attack, Norm, RobustAccuracy};
use tapeflow::data::Mnist;
use tapeflow::prelude::*;

/// Robust accuracy the adversarially trained model must reach.
pub const ROBUST_THRESHOLD: f64 = 0.80;
/// Clean accuracy the adversarially trained model must keep.
pub const CLEAN_THRESHOLD: f64 = 0.97;

/// How much data and training a run uses.
pub struct Config {
    /// Training images used (the first ones); 60,000 for all.
    pub train_rows: usize,
    /// Test images evaluated (the first ones); 10,000 for all.
    pub test_rows: usize,
    /// Epochs of each model.
    pub epochs: usize,
    /// PGD steps when making training examples.
    pub train_steps: usize,
    /// Batch size.
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            train_rows: 60_000,
            test_rows: 10_000,
            epochs: 10,
            train_steps: 7,
            batch_size: 128,
        }
    }
}

/// One model's results.
pub struct Scores {
    /// Clean and robust (PGD-20, ε = 0.1) test accuracy.
    pub accuracy: RobustAccuracy,
    /// Training time, seconds.
    pub train_seconds: f64,
}

/// What a run produced.
pub struct Outcome {
    /// The standard model.
    pub standard: Scores,
    /// The adversarially trained model.
    pub adversarial: Scores,
}

/// The evaluation attack: PGD-20 under L∞ at ε = 0.1, step 0.01.
pub fn pgd20() -> Attack {
    Attack::pgd(Norm::Linf, 0.1, 0.01, 20)
}

fn mlp() -> tapeflow::Result<Sequential> {
    let mut model = Sequential::new(&[784])
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(42);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// Loads, trains both models and evaluates them; `verbose` as in `fit`.
pub fn run(config: &Config, verbose: u8) -> tapeflow::Result<Outcome> {
    let Mnist { train, test } = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?
        .take(config.train_rows, config.test_rows);
    let (x, y) = (train.features(), train.targets());
    let (x_test, y_test) = (test.features(), test.targets());
    let options = || {
        FitOptions::default()
            .epochs(config.epochs)
            .batch_size(config.batch_size)
            .seed(7)
            .verbose(verbose)
    };

    let mut standard = mlp()?;
    let start = Instant::now();
    standard.fit(x, y, options())?;
    let standard_seconds = start.elapsed().as_secs_f64();

    let train_attack = Attack::pgd(Norm::Linf, 0.1, 0.025, config.train_steps)
        .random_start(true)
        .seed(11);
    let mut robust = mlp()?;
    let start = Instant::now();
    robust.fit(
        x,
        y,
        options().adversarial(AdversarialTraining::new(train_attack, 1.0)),
    )?;
    let robust_seconds = start.elapsed().as_secs_f64();

    Ok(Outcome {
        standard: Scores {
            accuracy: standard.evaluate_robust(&pgd20(), x_test, y_test)?,
            train_seconds: standard_seconds,
        },
        adversarial: Scores {
            accuracy: robust.evaluate_robust(&pgd20(), x_test, y_test)?,
            train_seconds: robust_seconds,
        },
    })
}

fn main() -> tapeflow::Result<()> {
    let config = Config::default();
    let out = run(&config, 2)?;
    println!(
        "MNIST MLP 784-256-256-10, test set of {} images",
        config.test_rows
    );
    println!("attack: PGD-20, L-inf, eps = 0.1, step 0.01, pixels in [0, 1]");
    println!(
        "{:<24} {:>10} {:>10} {:>12}",
        "model", "clean", "robust", "train (s)"
    );
    for (name, s) in [
        ("standard", &out.standard),
        ("adversarial (PGD-7)", &out.adversarial),
    ] {
        println!(
            "{name:<24} {:>10.4} {:>10.4} {:>12.1}",
            s.accuracy.clean, s.accuracy.robust, s.train_seconds
        );
    }
    let a = out.adversarial.accuracy;
    if a.robust < ROBUST_THRESHOLD || a.clean < CLEAN_THRESHOLD {
        eprintln!(
            "target missed: robust {:.4} (needs {ROBUST_THRESHOLD}), clean {:.4} (needs {CLEAN_THRESHOLD})",
            a.robust, a.clean
        );
        std::process::exit(1);
    }
    Ok(())
}
