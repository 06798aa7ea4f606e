//! Digits (UCI optical digits, as bundled with scikit-learn): 1797 images of
//! 8x8 pixels with values 0..16, digits 0-9. A 64-128-10 ReLU MLP with
//! dropout 0.2 on standardised pixels reaches a test accuracy of at least
//! 0.96 on a stratified, seeded 80/20 split.
//!
//! The pipeline: load `data/digits.csv`, split (stratified, seed 42), fit a
//! `StandardScaler` on the training split only, build and compile the MLP,
//! fit with a progress bar, evaluate on the test split, print the test
//! metrics and the per-class report; exit with status 1 if the test
//! accuracy is below the threshold.
//!
//! Run it with `cargo run --release --example digits`.
//! (`tests/examples_accuracy.rs` runs the same `run` function.)

use tapeflow::data::{Dataset, SplitOptions, StandardScaler, class_indices, train_test_split};
use tapeflow::metrics::classification_report;
use tapeflow::prelude::*;

/// The test accuracy this example must reach.
pub const THRESHOLD: f64 = 0.96;

/// What a run produced.
pub struct Outcome {
    /// Test accuracy.
    pub accuracy: f64,
    /// Test loss (sparse categorical cross-entropy).
    pub loss: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// The per-class report on the test split.
    pub report: String,
}

/// Loads, splits, scales, trains and evaluates; `verbose` as in `fit`.
pub fn run(verbose: u8) -> tapeflow::Result<Outcome> {
    let data = Dataset::from_csv(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv"),
        "target",
    )?;
    let (train, test) = train_test_split(&data, SplitOptions::new(0.2).seed(42).stratify(true))?;
    let (train, test) = StandardScaler::new().fit_transform_split(&train, &test)?;

    let mut model = Sequential::new(&[64])
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10))
        .seed(42)
        .name("digits_mlp");
    model.compile(
        Adam::new(0.002),
        SparseCategoricalCrossentropy::from_logits(),
        &[Metric::Accuracy],
    )?;
    if verbose > 0 {
        println!("{}", model.summary());
    }
    let epochs = 40;
    model.fit(
        train.features(),
        train.targets(),
        FitOptions::default()
            .epochs(epochs)
            .batch_size(32)
            .verbose(verbose),
    )?;

    let eval = model.evaluate(test.features(), test.targets())?;
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let y_true = class_indices(test.targets())?;
    let y_pred = model.predict_classes(test.features())?;
    Ok(Outcome {
        accuracy: eval.metric(Metric::Accuracy).unwrap_or(0.0),
        loss: eval.loss,
        epochs,
        report: classification_report(&y_true, &y_pred, Some(&names))?,
    })
}

fn main() -> tapeflow::Result<()> {
    // A progress bar on a terminal; one line per epoch otherwise.
    let verbose = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        1
    } else {
        2
    };
    let out = run(verbose)?;
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
