//! Bad-input battery for models: `Sequential`'s building, `set_weights`,
//! `predict`, `evaluate`, `fit` and every `FitOptions` setting. Each case
//! asserts an `Err` whose message names the operation (or layer) and the
//! offending value or shape, and, for `fit`, that the weights are unchanged
//! bit for bit.

use std::collections::HashMap;

use tapeflow::callbacks::{Callback, TrainingContext};
use tapeflow::prelude::*;

fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape).expect("shape")
}

/// Asserts `r` is an error whose message contains every part.
#[track_caller]
fn err_with<V: std::fmt::Debug>(r: Result<V>, parts: &[&str]) {
    let msg = r.expect_err("expected an error").to_string();
    for part in parts {
        assert!(msg.contains(part), "{msg:?}\n  lacks {part:?}");
    }
}

fn bits(m: &Sequential) -> Vec<Vec<u32>> {
    m.get_weights()
        .iter()
        .map(|w| w.as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// A compiled `[2] → 1` regressor.
fn regressor() -> Sequential {
    let mut m = Sequential::new(&[2]).add(Dense::new(1)).name("reg");
    m.compile(Sgd::new(0.1), MeanSquaredError, &[])
        .expect("compile");
    m
}

/// A compiled `[2] → 3` classifier for sparse labels.
fn sparse_classifier() -> Sequential {
    let mut m = Sequential::new(&[2]).add(Dense::new(3).activation(Activation::Softmax));
    m.compile(Sgd::new(0.1), SparseCategoricalCrossentropy::default(), &[])
        .expect("compile");
    m
}

fn xy() -> (Tensor, Tensor) {
    (
        t(vec![0., 1., 1., 0., 1., 1., 0., 0.], &[4, 2]),
        t(vec![1., 2., 3., 0.], &[4, 1]),
    )
}

fn quiet() -> FitOptions {
    FitOptions::default().verbose(0)
}

/// Runs `fit` expecting an error with every part; the weights must not change.
#[track_caller]
fn fit_err(mut m: Sequential, x: &Tensor, y: &Tensor, opts: FitOptions, parts: &[&str]) {
    let before = bits(&m);
    err_with(m.fit(x, y, opts), parts);
    assert_eq!(bits(&m), before, "a failed fit changed the weights");
}

#[test]
fn building_bad_models() {
    let cases: Vec<(Sequential, Vec<&str>)> = vec![
        (
            Sequential::new(&[2]).name("empty"),
            vec!["build: model \"empty\" has no layers"],
        ),
        (
            Sequential::new(&[2])
                .add(Dense::new(2).name("d"))
                .add(Dense::new(1).name("d")),
            vec!["build: layer name \"d\" is used at positions 0 and 1"],
        ),
        (
            Sequential::new(&[2]).add(Dense::new(1).name("optimizer")),
            vec!["build: layer name \"optimizer\" at position 0 is reserved"],
        ),
        (
            Sequential::new(&[2]).add(Dense::new(1).name("optimizer/x")),
            vec!["build: layer name \"optimizer/x\"", "reserved"],
        ),
        (
            Sequential::new(&[]).add(Dense::new(2)),
            vec!["dense (Dense) at position 0:"],
        ),
        (
            Sequential::new(&[3])
                .add(Flatten::new())
                .add(Dense::new(usize::MAX / 2)),
            vec!["dense (Dense) at position 1"],
        ),
    ];
    for (mut model, parts) in cases {
        err_with(model.build(), &parts);
    }
    // An empty name set after adding (add renames an empty name).
    let mut m = Sequential::new(&[2]).add(Dense::new(1));
    m.layers_mut()[0].set_name("");
    err_with(
        m.build(),
        &["build: the layer at position 0 (Dense) has an empty name"],
    );
}

#[test]
fn unbuilt_models_say_to_build_or_compile() {
    let m = Sequential::new(&[3]).add(Dense::new(2)).name("u");
    let not_built = "model \"u\" is not built; call build or compile first";
    err_with(m.output_shape(), &["output_shape: ", not_built]);
    err_with(
        m.predict(&Tensor::zeros(&[1, 3]).expect("x")),
        &["predict: ", not_built],
    );
    err_with(
        m.predict_classes(&Tensor::zeros(&[1, 3]).expect("x")),
        &["predict: ", not_built],
    );
    let tape = GradientTape::new();
    err_with(
        m.forward(&tape, &Tensor::zeros(&[1, 3]).expect("x"), Mode::Infer),
        &["forward: ", not_built],
    );
    let x = Tensor::zeros(&[1, 3]).expect("x");
    err_with(
        m.evaluate(&x, &x),
        &["evaluate: model \"u\" is not compiled; call compile first"],
    );
    let mut m = m;
    err_with(
        m.set_weights(vec![
            Tensor::zeros(&[3, 2]).expect("w"),
            Tensor::zeros(&[2]).expect("b"),
        ]),
        &["set_weights: ", not_built],
    );
}

#[test]
fn predict_with_bad_inputs() {
    let mut m = Sequential::new(&[3]).add(Dense::new(2).name("first"));
    m.build().expect("build");
    let cases: Vec<(Tensor, Vec<&str>)> = vec![
        (
            Tensor::zeros(&[5, 4]).expect("x"),
            vec!["first (Dense) at position 0: expected input [_, 3], got [5, 4]"],
        ),
        (
            Tensor::zeros(&[3]).expect("x"),
            vec!["expected input [_, 3], got [3]: add a batch axis (reshape to [1, 3])"],
        ),
        (Tensor::scalar(1.0), vec!["expected input [_, 3], got []"]),
        (
            Tensor::zeros(&[2, 3, 1]).expect("x"),
            vec!["expected input [_, 3], got [2, 3, 1]"],
        ),
        (
            Tensor::zeros(&[0, 4]).expect("x"),
            vec!["expected input [_, 3], got [0, 4]"],
        ),
        (
            t(vec![0., 0., 0., 0., 0., f32::NAN], &[2, 3]),
            vec!["predict: x holds NaN at row 1, column 2"],
        ),
        (
            t(vec![f32::INFINITY, 0., 0.], &[1, 3]),
            vec!["predict: x holds inf at row 0, column 0"],
        ),
        (
            t(vec![0., f32::NEG_INFINITY, 0.], &[1, 3]),
            vec!["predict: x holds -inf at row 0, column 1"],
        ),
    ];
    for (x, parts) in cases {
        err_with(m.predict(&x), &parts);
        err_with(m.predict_classes(&x), &parts);
    }
}

#[test]
fn set_weights_with_bad_tensors() {
    let mut m = regressor();
    err_with(
        m.set_weights(vec![Tensor::ones(&[2, 1]).expect("w")]),
        &["set_weights: expected 2 tensors, got 1"],
    );
    err_with(
        m.set_weights(vec![
            Tensor::ones(&[1, 2]).expect("w"),
            Tensor::zeros(&[1]).expect("b"),
        ]),
        &["set_weights", "[2, 1]", "[1, 2]"],
    );
}

#[test]
fn fit_settings_out_of_range() {
    let (x, y) = xy();
    let cases: Vec<(FitOptions, Vec<&str>)> = vec![
        (
            quiet().batch_size(0),
            vec!["fit: batch_size must be at least 1, got 0"],
        ),
        (
            quiet().verbose(3),
            vec![
                "fit: verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got 3",
            ],
        ),
        (
            quiet().epochs(0),
            vec!["fit: epochs must be at least 1, got 0"],
        ),
        (
            quiet().epochs(3).initial_epoch(3),
            vec!["fit: initial_epoch 3 is not below epochs 3"],
        ),
        (
            quiet().epochs(2).initial_epoch(7),
            vec!["fit: initial_epoch 7 is not below epochs 2"],
        ),
        (
            quiet().validation_split(1.0),
            vec!["fit: validation_split must be in [0, 1), got 1"],
        ),
        (
            quiet().validation_split(-0.1),
            vec!["validation_split must be in [0, 1), got -0.1"],
        ),
        (
            quiet().validation_split(f64::NAN),
            vec!["validation_split must be in [0, 1), got NaN"],
        ),
        (
            quiet().validation_split(f64::INFINITY),
            vec!["validation_split must be in [0, 1), got inf"],
        ),
        (
            quiet().validation_split(1e-17),
            vec![
                "fit: validation_split",
                "of 4 rows leaves 4 for training and 0 for validation",
            ],
        ),
        (
            quiet().sample_weight(t(vec![1., 1., 1.], &[3])),
            vec!["fit: sample_weight must have shape [4], got [3]"],
        ),
        (
            quiet().sample_weight(t(vec![1., 1., 1., 1.], &[4, 1])),
            vec!["sample_weight must have shape [4], got [4, 1]"],
        ),
        (
            quiet().sample_weight(t(vec![1., 1., -1., 1.], &[4])),
            vec!["fit: sample_weight must be >= 0, got -1 at row 2"],
        ),
        (
            quiet().sample_weight(t(vec![1., f32::NAN, 1., 1.], &[4])),
            vec!["fit: sample_weight holds NaN at row 1"],
        ),
        (
            quiet().sample_weight(t(vec![1., 1., 1., f32::INFINITY], &[4])),
            vec!["sample_weight holds inf at row 3"],
        ),
        (
            quiet().class_weight(HashMap::from([(2, 1.0)])),
            vec!["fit: class_weight names class 2, but the model's output has 2 classes (0..2)"],
        ),
        (
            quiet().class_weight(HashMap::from([(0, 1.0), (1, -1.0)])),
            vec!["fit: class_weight must be finite and >= 0, got -1 for class 1"],
        ),
        (
            quiet().class_weight(HashMap::from([(1, f64::NAN)])),
            vec!["class_weight must be finite and >= 0, got NaN for class 1"],
        ),
        (
            quiet().class_weight(HashMap::from([(0, f64::INFINITY)])),
            vec!["class_weight must be finite and >= 0, got inf for class 0"],
        ),
        (
            quiet().class_weight(HashMap::from([(1, 1e39)])),
            vec!["fit: class_weight 1e39 for class 1 overflows f32"],
        ),
    ];
    for (opts, parts) in cases {
        fit_err(regressor(), &x, &y, opts, &parts);
    }
    // One row cannot be split.
    fit_err(
        regressor(),
        &x.slice_rows(0..1).expect("x"),
        &y.slice_rows(0..1).expect("y"),
        quiet().validation_split(0.5),
        &["validation_split 0.5 of 1 rows leaves 0 for training and 1 for validation"],
    );
}

#[test]
fn fit_with_bad_data() {
    let (x, y) = xy();
    let cases: Vec<(Tensor, Tensor, Vec<&str>)> = vec![
        (
            x.clone(),
            y.slice_rows(0..3).expect("y"),
            vec!["fit: x has 4 rows but y has 3"],
        ),
        (
            Tensor::zeros(&[0, 2]).expect("x"),
            Tensor::zeros(&[0, 1]).expect("y"),
            vec!["fit: no data: x and y have 0 rows"],
        ),
        (
            Tensor::zeros(&[4, 3]).expect("x"),
            y.clone(),
            vec!["dense (Dense) at position 0: expected input [_, 2], got [4, 3]"],
        ),
        (
            Tensor::scalar(1.0),
            y.clone(),
            vec!["fit: x must have a batch dimension, got shape []"],
        ),
        (
            x.clone(),
            Tensor::scalar(1.0),
            vec!["fit: y must have a batch dimension, got shape []"],
        ),
        (
            t(vec![0., 1., f32::NAN, 0., 1., 1., 0., 0.], &[4, 2]),
            y.clone(),
            vec!["fit: x holds NaN at row 1, column 0"],
        ),
        (
            x.clone(),
            t(vec![1., 2., 3., f32::INFINITY], &[4, 1]),
            vec!["fit: y holds inf at row 3, column 0"],
        ),
        (
            t(vec![0., 1., 1., 0., 1., 1., 0., f32::NEG_INFINITY], &[4, 2]),
            y.clone(),
            vec!["fit: x holds -inf at row 3, column 1"],
        ),
    ];
    for (x, y, parts) in cases {
        fit_err(regressor(), &x, &y, quiet(), &parts);
    }
    let unc = Sequential::new(&[2]).add(Dense::new(1)).name("m");
    fit_err(
        unc,
        &x,
        &y,
        quiet(),
        &["fit: model \"m\" is not compiled; call compile first"],
    );
}

#[test]
fn fit_with_bad_validation_data() {
    let (x, y) = xy();
    let cases: Vec<(Tensor, Tensor, Vec<&str>)> = vec![
        (
            Tensor::zeros(&[2, 5]).expect("vx"),
            Tensor::zeros(&[2, 1]).expect("vy"),
            vec![
                "fit (validation_data): validation x does not fit the model",
                "expected input [_, 2], got [2, 5]",
            ],
        ),
        (
            Tensor::zeros(&[2, 2]).expect("vx"),
            Tensor::zeros(&[3, 1]).expect("vy"),
            vec!["fit (validation_data): x has 2 rows but y has 3"],
        ),
        (
            t(vec![0., f32::NAN], &[1, 2]),
            Tensor::zeros(&[1, 1]).expect("vy"),
            vec!["fit (validation_data): x holds NaN at row 0, column 1"],
        ),
        (
            Tensor::zeros(&[0, 2]).expect("vx"),
            Tensor::zeros(&[0, 1]).expect("vy"),
            vec!["fit (validation_data): no data"],
        ),
        (
            Tensor::zeros(&[3]).expect("vx"),
            Tensor::zeros(&[3, 1]).expect("vy"),
            vec!["fit (validation_data)", "got [3]"],
        ),
    ];
    for (vx, vy, parts) in cases {
        fit_err(regressor(), &x, &y, quiet().validation_data(vx, vy), &parts);
    }
}

#[test]
fn sparse_labels_that_are_not_class_indices() {
    let x = t(vec![0., 1., 1., 0.], &[2, 2]);
    let cases: Vec<(Tensor, Vec<&str>)> = vec![
        (
            t(vec![0., 1.5], &[2, 1]),
            vec!["fit: label 1.5 at row 1 is not a class index in 0..3"],
        ),
        (
            t(vec![-1., 0.], &[2]),
            vec!["label -1 at row 0 is not a class index in 0..3"],
        ),
        (
            t(vec![0., 3.], &[2, 1]),
            vec!["label 3 at row 1 is not a class index in 0..3"],
        ),
        (
            t(vec![1., 0., 0., 0., 1., 0.], &[2, 3]),
            vec!["fit: sparse labels must have shape [rows] or [rows, 1], got [2, 3]"],
        ),
    ];
    for (y, parts) in cases {
        fit_err(sparse_classifier(), &x, &y, quiet(), &parts);
        let e: Vec<String> = parts
            .iter()
            .map(|p| p.replace("fit: ", "evaluate: "))
            .collect();
        let e: Vec<&str> = e.iter().map(String::as_str).collect();
        err_with(sparse_classifier().evaluate(&x, &y), &e);
    }
    let opts = quiet().validation_data(x.clone(), t(vec![0., 7.], &[2, 1]));
    fit_err(
        sparse_classifier(),
        &x,
        &t(vec![0., 1.], &[2, 1]),
        opts,
        &["fit (validation_data): label 7 at row 1 is not a class index in 0..3"],
    );
}

#[test]
fn evaluate_with_bad_data() {
    let (x, y) = xy();
    let m = regressor();
    err_with(
        m.evaluate(&x, &y.slice_rows(0..2).expect("y")),
        &["evaluate: x has 4 rows but y has 2"],
    );
    err_with(
        m.evaluate(&x, &y.map(|_| f32::NAN)),
        &["evaluate: y holds NaN at row 0, column 0"],
    );
    err_with(
        m.evaluate(&Tensor::zeros(&[4, 5]).expect("x"), &y),
        &["expected input [_, 2], got [4, 5]"],
    );
    err_with(
        m.evaluate(
            &Tensor::zeros(&[0, 2]).expect("x"),
            &Tensor::zeros(&[0, 1]).expect("y"),
        ),
        &["evaluate: no data"],
    );
}

/// Targets whose rows do not have the shape of the model's output rows are
/// refused before training, naming `y`, the output shape and the loss, for
/// every built-in loss that compares them element by element; `[rows]` and
/// `[rows, 1]` pass together as the losses accept them.
#[test]
fn targets_that_do_not_match_the_output() {
    let (x, _) = xy();
    let wide = Tensor::zeros(&[4, 2]).expect("y");
    fit_err(
        regressor(),
        &x,
        &wide,
        quiet(),
        &[
            "fit: y has shape [4, 2] but the model's output has shape [rows, 1]",
            "mean_squared_error needs y of shape [rows, 1]",
        ],
    );
    err_with(
        regressor().evaluate(&x, &Tensor::zeros(&[4, 1, 1]).expect("y")),
        &["evaluate: y has shape [4, 1, 1]", "[rows, 1]"],
    );
    let flat = Tensor::zeros(&[4]).expect("y");
    assert!(regressor().fit(&x, &flat, quiet().epochs(1)).is_ok());

    wide_targets_refused(MeanAbsoluteError, "mean_absolute_error");
    wide_targets_refused(Huber::new(1.0), "huber");
    wide_targets_refused(
        CategoricalCrossentropy::from_logits(),
        "categorical_crossentropy",
    );
    wide_targets_refused(BinaryCrossentropy::from_logits(), "binary_crossentropy");
    wide_targets_refused(KLDivergence, "kl_divergence");
}

/// `y` of shape `[4, 2]` for a `[2] → 3` model is refused by `fit`, also as
/// validation data, and the weights stay as they were.
#[track_caller]
fn wide_targets_refused(loss: impl Loss<f32> + 'static, name: &str) {
    let (x, _) = xy();
    let mut m = Sequential::new(&[2]).add(Dense::new(3));
    m.compile(Sgd::new(0.1), loss, &[]).expect("compile");
    let before = bits(&m);
    let y = Tensor::zeros(&[4, 2]).expect("y");
    err_with(
        m.fit(&x, &y, quiet()),
        &["fit: y has shape [4, 2]", "[rows, 3]", name],
    );
    let good = Tensor::zeros(&[4, 3]).expect("y");
    err_with(
        m.fit(&x, &good, quiet().validation_data(x.clone(), y)),
        &["fit (validation_data): y has shape [4, 2]", name],
    );
    assert_eq!(
        bits(&m),
        before,
        "{name}: a refused fit changed the weights"
    );
}

#[test]
fn training_that_would_produce_non_finite_values() {
    // Loss inf: (1e20)² overflows f32.
    let mut m = regressor();
    m.set_weights(vec![t(vec![1.0, 0.0], &[2, 1]), t(vec![0.0], &[1])])
        .expect("w");
    fit_err(
        m,
        &t(vec![1e20, 0.0], &[1, 2]),
        &t(vec![0.0], &[1, 1]),
        quiet(),
        &["fit: the loss became inf at epoch 0, batch 0"],
    );
    // Gradient inf under a finite loss.
    let mut m = regressor();
    m.set_weights(vec![t(vec![0.0, 0.0], &[2, 1]), t(vec![1.0], &[1])])
        .expect("w");
    fit_err(
        m,
        &t(vec![3e38, 0.0], &[1, 2]),
        &t(vec![0.0], &[1, 1]),
        quiet(),
        &["fit: epoch 0, batch 0: parameter \"dense/kernel\": its gradient holds inf at index 0"],
    );
    // An update that overflows f32.
    let mut m = Sequential::new(&[2]).add(Dense::new(1));
    m.compile(Sgd::new(1e30), MeanSquaredError, &[])
        .expect("compile");
    m.set_weights(vec![t(vec![0.0, 0.0], &[2, 1]), t(vec![1e10], &[1])])
        .expect("w");
    fit_err(
        m,
        &t(vec![1.0, 1.0], &[1, 2]),
        &t(vec![0.0], &[1, 1]),
        quiet(),
        &["fit: epoch 0, batch 0", "kernel"],
    );
}

/// Sets the learning rate to `rate` at the first epoch.
struct SetRate(f64);

impl Callback for SetRate {
    fn on_epoch_begin(&mut self, _epoch: usize, ctx: &mut dyn TrainingContext) -> Result<()> {
        ctx.set_learning_rate(self.0)
    }
}

#[test]
fn a_callback_setting_a_bad_learning_rate() {
    let (x, y) = xy();
    for (rate, shown) in [(f64::NAN, "NaN"), (-1.0, "-1"), (f64::INFINITY, "inf")] {
        let msg =
            format!("set_learning_rate: the learning rate must be finite and >= 0, got {shown}");
        fit_err(
            regressor(),
            &x,
            &y,
            quiet().callback(SetRate(rate)),
            &[&msg],
        );
    }
}
