//! The flagship example: the classic linear regression `y = 0.1·x + 0.3`,
//! learned by one `Dense(1)` unit, the Keras way.
//!
//! It walks the whole pipeline: prepare data (generate, split), build,
//! compile, fit with a progress bar, evaluate on the held-out test set,
//! predict, and print the learned weight and bias.
//!
//! Run it with `cargo run --release --example linear_regression`.

use tapeflow::data::{Dataset, SplitOptions, train_test_split};
use tapeflow::prelude::*;

fn main() -> tapeflow::Result<()> {
    // 1. Prepare data: 1,000 points x in [0, 1), y = 0.1·x + 0.3.
    let x = Tensor::<f32>::rand_uniform(&[1000, 1], 0.0, 1.0, 42)?;
    let y = x.map(|v| 0.1 * v + 0.3);
    let (train, test) = train_test_split(&Dataset::new(x, y)?, SplitOptions::new(0.2).seed(42))?;

    // 2. Build and compile.
    let mut model = Sequential::new(&[1]).add(Dense::new(1));
    model.compile(
        Sgd::new(0.5),
        MeanSquaredError,
        &[Metric::MeanAbsoluteError],
    )?;
    println!("{}", model.summary());

    // 3. Train (a progress bar on a terminal; one line per epoch otherwise).
    let verbose = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        1
    } else {
        2
    };
    let history = model.fit(
        train.features(),
        train.targets(),
        FitOptions::default()
            .epochs(60)
            .batch_size(32)
            .verbose(verbose),
    )?;
    println!(
        "final training loss: {:.3e}",
        history.last("loss").unwrap_or(f64::NAN)
    );

    // 4. Evaluate on the held-out test set.
    let eval = model.evaluate(test.features(), test.targets())?;
    println!(
        "test loss (mse): {:.3e}, test mae: {:.3e}",
        eval.loss,
        eval.metric(Metric::MeanAbsoluteError).unwrap_or(f64::NAN)
    );

    // 5. Predict on new inputs.
    let x_new = Tensor::from_vec(vec![0.0, 0.5, 1.0], &[3, 1])?;
    let y_new = model.predict(&x_new)?;
    println!("predict([0, 0.5, 1]) = {:?}", y_new.to_vec());

    // 6. The learned parameters.
    let weights = model.get_weights();
    let (w, b) = (weights[0].item()?, weights[1].item()?);
    println!("learned weight: {w:.4} (true 0.1), bias: {b:.4} (true 0.3)");
    if (w - 0.1).abs() > 0.01 || (b - 0.3).abs() > 0.01 {
        eprintln!("error: the learned parameters are not within 0.01 of (0.1, 0.3)");
        std::process::exit(1);
    }
    Ok(())
}
