//! MNIST: a 784-256-128-10 ReLU MLP trained with Adam (cosine-decayed
//! learning rate) on the 60,000 training images reaches a test accuracy of
//! at least 0.98 on the full 10,000-image test set.
//!
//! The pipeline: load the shipped IDX files in `data/mnist/` with
//! `Mnist::load` (pixels already scaled to [0, 1] by the fixed factor 1/255,
//! so no scaler is fitted), build and compile the MLP, fit with a progress
//! bar, evaluate on the test set, print the test metrics and the per-class
//! report; exit with status 1 if the test accuracy is below the threshold.
//!
//! Run it with `cargo run --release --example mnist_mlp`.
//! (`tests/examples_accuracy.rs` runs the same `run` function on a subset.)

use tapeflow::data::{Mnist, class_indices};
use tapeflow::metrics::classification_report;
use tapeflow::optimizers::LearningRateSchedule;
use tapeflow::prelude::*;

/// The test accuracy this example must reach (full data, default config).
pub const THRESHOLD: f64 = 0.98;

/// How much data and training a run uses.
pub struct Config {
    /// Training images used (the first ones); 60,000 for all.
    pub train_rows: usize,
    /// Test images used (the first ones); 10,000 for all.
    pub test_rows: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            train_rows: 60_000,
            test_rows: 10_000,
            epochs: 8,
            batch_size: 128,
        }
    }
}

/// What a run produced.
pub struct Outcome {
    /// Test accuracy.
    pub accuracy: f64,
    /// Test loss (sparse categorical cross-entropy).
    pub loss: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// The per-class report on the test set.
    pub report: String,
}

/// Loads, trains and evaluates; `verbose` as in `fit`.
pub fn run(config: &Config, verbose: u8) -> tapeflow::Result<Outcome> {
    let Mnist { train, test } = Mnist::load(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?
        .take(config.train_rows, config.test_rows);

    let mut model = Sequential::new(&[784])
        .add(Dense::new(256).activation(Activation::Relu))
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(10))
        .seed(42)
        .name("mnist_mlp");
    let steps = (config.epochs * train.len().div_ceil(config.batch_size)) as u64;
    model.compile(
        Adam::new(LearningRateSchedule::cosine_decay(0.002, steps)),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    if verbose > 0 {
        println!("{}", model.summary());
    }
    model.fit(
        train.features(),
        train.targets(),
        FitOptions::default()
            .epochs(config.epochs)
            .batch_size(config.batch_size)
            .verbose(verbose),
    )?;

    let eval = model.evaluate(test.features(), test.targets())?;
    let y_true = class_indices(test.targets())?;
    let y_pred = model.predict_classes(test.features())?;
    Ok(Outcome {
        accuracy: eval.metric(Metric::Accuracy).unwrap_or(0.0),
        loss: eval.loss,
        epochs: config.epochs,
        report: classification_report(&y_true, &y_pred, None)?,
    })
}

fn main() -> tapeflow::Result<()> {
    // A progress bar on a terminal; one line per epoch otherwise.
    let verbose = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        1
    } else {
        2
    };
    let out = run(&Config::default(), verbose)?;
    println!(
        "test loss: {:.4}, test accuracy: {:.4} ({} epochs)\n",
        out.loss, out.accuracy, out.epochs
    );
    println!("{}", out.report);
    if out.accuracy < THRESHOLD {
        eprintln!(
            "error: test accuracy {:.4} is below {THRESHOLD}",
            out.accuracy
        );
        std::process::exit(1);
    }
    Ok(())
}
