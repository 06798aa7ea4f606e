//! Bad-input battery for callbacks: every setting of `EarlyStopping`,
//! `ReduceLrOnPlateau`, `ModelCheckpoint` (path templates included),
//! `CsvLogger` and `LearningRateScheduler`, driven through `fit`. Each case
//! asserts an `Err` whose message names the callback and the offending
//! setting or value.

use tapeflow::prelude::*;

/// Fits a small regressor for 2 epochs with `callback`; returns the error message.
#[track_caller]
fn fit_with(callback: impl Callback + 'static) -> String {
    let x = Tensor::from_vec(vec![0., 1., 1., 0., 1., 1., 0., 0.], &[4, 2]).expect("x");
    let y = Tensor::from_vec(vec![1., 2., 3., 0.], &[4, 1]).expect("y");
    let mut m = Sequential::new(&[2]).add(Dense::new(1));
    m.compile(Sgd::new(0.1), MeanSquaredError, &[])
        .expect("compile");
    let opts = FitOptions::default()
        .epochs(2)
        .verbose(0)
        .callback(callback);
    m.fit(&x, &y, opts)
        .expect_err("expected an error")
        .to_string()
}

#[track_caller]
fn contains_all(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{msg:?}\n  lacks {part:?}");
    }
}

#[test]
fn early_stopping_settings() {
    let cases: Vec<(EarlyStopping, &str)> = vec![
        (
            EarlyStopping::new().min_delta(f64::NAN),
            "EarlyStopping: min_delta must be finite, got NaN",
        ),
        (
            EarlyStopping::new().min_delta(f64::INFINITY),
            "EarlyStopping: min_delta must be finite, got inf",
        ),
        (
            EarlyStopping::new().min_delta(f64::NEG_INFINITY),
            "EarlyStopping: min_delta must be finite, got -inf",
        ),
        (
            EarlyStopping::new().baseline(f64::NAN),
            "EarlyStopping: baseline must be finite, got NaN",
        ),
        (
            EarlyStopping::new().baseline(f64::INFINITY),
            "EarlyStopping: baseline must be finite, got inf",
        ),
        (
            EarlyStopping::new().baseline(f64::NEG_INFINITY),
            "EarlyStopping: baseline must be finite, got -inf",
        ),
        (
            EarlyStopping::new(),
            "EarlyStopping: monitor \"val_loss\" is not in the logs; available: [loss]",
        ),
        (
            EarlyStopping::new().monitor("accuracy"),
            "EarlyStopping: monitor \"accuracy\" is not in the logs",
        ),
    ];
    for (cb, msg) in cases {
        contains_all(&fit_with(cb), &[msg]);
    }
}

#[test]
fn reduce_lr_on_plateau_settings() {
    let cases: Vec<(ReduceLrOnPlateau, &str)> = vec![
        (
            ReduceLrOnPlateau::new().factor(1.0),
            "ReduceLrOnPlateau: factor must be in [0, 1), got 1",
        ),
        (
            ReduceLrOnPlateau::new().factor(1.5),
            "ReduceLrOnPlateau: factor must be in [0, 1), got 1.5",
        ),
        (
            ReduceLrOnPlateau::new().factor(-0.5),
            "ReduceLrOnPlateau: factor must be in [0, 1), got -0.5",
        ),
        (
            ReduceLrOnPlateau::new().factor(f64::NAN),
            "ReduceLrOnPlateau: factor must be in [0, 1), got NaN",
        ),
        (
            ReduceLrOnPlateau::new().min_lr(-1.0),
            "ReduceLrOnPlateau: min_lr must be finite and non-negative, got -1",
        ),
        (
            ReduceLrOnPlateau::new().min_lr(f64::NAN),
            "ReduceLrOnPlateau: min_lr must be finite and non-negative, got NaN",
        ),
        (
            ReduceLrOnPlateau::new().min_lr(f64::INFINITY),
            "ReduceLrOnPlateau: min_lr must be finite and non-negative, got inf",
        ),
        (
            ReduceLrOnPlateau::new().min_delta(f64::NAN),
            "ReduceLrOnPlateau: min_delta must be finite, got NaN",
        ),
        (
            ReduceLrOnPlateau::new().min_delta(f64::NEG_INFINITY),
            "ReduceLrOnPlateau: min_delta must be finite, got -inf",
        ),
        (
            ReduceLrOnPlateau::new().monitor("val_accuracy"),
            "ReduceLrOnPlateau: monitor \"val_accuracy\" is not in the logs; available: [loss]",
        ),
    ];
    for (cb, msg) in cases {
        contains_all(&fit_with(cb), &[msg]);
    }
}

/// A path in a fresh temp folder (the folder is left empty or removed).
fn ckpt_path(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("tapeflow_bad_ckpt_{}_{name}", std::process::id()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn model_checkpoint_path_templates() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "m-{epoch:070000d}",
            vec!["asks for 70000 digits; at most 255"],
        ),
        ("m-{epoch:065536d}", vec!["asks for 65536 digits"]),
        ("m-{epoch:0256d}", vec!["asks for 256 digits"]),
        (
            "m-{loss:.70000f}",
            vec!["{loss:.70000f}", "asks for 70000 digits"],
        ),
        (
            "m-{loss:.99999999999999999999999f}",
            vec!["unsupported format"],
        ),
        (
            "m-{epoch:0999999999999999999999d}",
            vec!["unsupported format"],
        ),
        ("m-{epoch", vec!["unclosed '{'"]),
        ("m-epoch}", vec!["single '}'"]),
        ("m-{}", vec!["placeholder {} in path", "names nothing"]),
        ("m-{:02d}", vec!["names nothing"]),
        ("m-{epoch:x}", vec!["unsupported format {epoch:x}"]),
        ("m-{epoch:2d}", vec!["unsupported format {epoch:2d}"]),
        ("m-{loss:.2e}", vec!["unsupported format {loss:.2e}"]),
        ("m-{loss:5.2f}", vec!["unsupported format {loss:5.2f}"]),
        (
            "m-{accuracy}",
            vec![
                "path placeholder {accuracy}",
                "names no logged value; available: epoch, loss",
            ],
        ),
        (
            "m-{val_loss:.3f}",
            vec!["path placeholder {val_loss:.3f}", "available: epoch, loss"],
        ),
    ];
    for (template, parts) in cases {
        let path = ckpt_path(template);
        let msg = fit_with(ModelCheckpoint::new(&path).monitor("loss"));
        assert!(msg.starts_with("ModelCheckpoint: "), "{msg}");
        // Every template error names the template.
        if !msg.contains("available") {
            assert!(
                msg.contains(&format!("{path:?}")),
                "{msg} lacks the template"
            );
        }
        contains_all(&msg, &parts);
    }
}

#[test]
fn model_checkpoint_monitor_and_folder() {
    let msg = fit_with(
        ModelCheckpoint::new(ckpt_path("best.safetensors"))
            .monitor("val_loss")
            .save_best_only(true),
    );
    contains_all(
        &msg,
        &["ModelCheckpoint: monitor \"val_loss\" is not in the logs"],
    );
    let missing = std::env::temp_dir()
        .join(format!("tapeflow_no_such_dir_{}", std::process::id()))
        .join("m.safetensors");
    let msg = fit_with(ModelCheckpoint::new(&missing).monitor("loss"));
    contains_all(&msg, &["save: ", &missing.display().to_string()]);
    let msg = fit_with(
        ModelCheckpoint::new(&missing)
            .monitor("loss")
            .save_weights_only(true),
    );
    contains_all(&msg, &["save_weights: ", &missing.display().to_string()]);
}

#[test]
fn csv_logger_settings() {
    let path = std::env::temp_dir().join(format!("tapeflow_bad_csv_{}.csv", std::process::id()));
    for sep in ['"', '\n', '\r', '.', '-', '+', '_', 'e', 'N', '7'] {
        let msg = fit_with(CsvLogger::new(&path).separator(sep));
        contains_all(
            &msg,
            &[
                "CsvLogger: separator",
                &format!("{sep:?}"),
                "can occur in a logged name or number",
            ],
        );
    }
    assert!(!path.exists(), "a refused logger must not create its file");
    let missing = std::env::temp_dir()
        .join(format!("tapeflow_no_such_dir_{}", std::process::id()))
        .join("log.csv");
    let msg = fit_with(CsvLogger::new(&missing));
    contains_all(&msg, &["CsvLogger: ", &missing.display().to_string()]);
}

#[test]
fn learning_rate_schedules_that_return_bad_rates() {
    for (rate, shown) in [(f64::NAN, "NaN"), (-0.1, "-0.1"), (f64::INFINITY, "inf")] {
        let msg = fit_with(LearningRateScheduler::new(move |_, _| rate));
        contains_all(
            &msg,
            &[&format!(
                "LearningRateScheduler: the schedule returned {shown} at epoch 0"
            )],
        );
    }
    // A schedule that goes bad later names that epoch.
    let msg = fit_with(LearningRateScheduler::new(|epoch, _| {
        if epoch == 1 { f64::NAN } else { 0.1 }
    }));
    contains_all(&msg, &["returned NaN at epoch 1"]);
}

#[test]
fn a_lambda_callbacks_error_is_passed_on() {
    let cb = LambdaCallback::new().on_epoch_end(|epoch, _| {
        Err(Error::InvalidArgument {
            op: "my_callback",
            message: format!("refused epoch {epoch}"),
        })
    });
    assert_eq!(fit_with(cb), "my_callback: refused epoch 0");
}
