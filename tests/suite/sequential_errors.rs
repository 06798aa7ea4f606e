//! Bad input to `fit` and `evaluate`: each case gives a clear error, and
//! nothing is lost (the weights are unchanged, or exactly those from before
//! the batch whose loss became NaN).

use std::cell::RefCell;
use std::rc::Rc;

use tapeflow::callbacks::{Logs, TrainingContext};
use tapeflow::prelude::*;

fn t(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape).expect("test data")
}

/// A compiled 2-input, 1-output regression model.
fn regressor() -> Sequential {
    let mut model = Sequential::new(&[2]).add(Dense::new(1)).seed(1);
    model
        .compile(Sgd::new(0.1), MeanSquaredError, &[])
        .expect("compile");
    model
}

/// A compiled 2-input, 3-class classifier for sparse labels.
fn classifier() -> Sequential {
    let mut model = Sequential::new(&[2])
        .add(Dense::new(3).activation(Activation::Softmax))
        .seed(1);
    model
        .compile(
            Sgd::new(0.1),
            SparseCategoricalCrossentropy::default(),
            &[Metric::Accuracy],
        )
        .expect("compile");
    model
}

fn xy() -> (Tensor, Tensor) {
    (
        t(vec![0., 1., 1., 0., 1., 1., 0., 0.], &[4, 2]),
        t(vec![1., 2., 3., 0.], &[4, 1]),
    )
}

/// Runs `fit` expecting an error; asserts the weights did not change and
/// returns the message.
fn fit_err(model: &mut Sequential, x: &Tensor, y: &Tensor, options: FitOptions) -> String {
    let before = model.get_weights();
    let err = model.fit(x, y, options).unwrap_err();
    assert_eq!(
        model.get_weights(),
        before,
        "weights changed by a failed fit"
    );
    err.to_string()
}

fn quiet() -> FitOptions {
    FitOptions::default().epochs(2).verbose(0)
}

#[test]
fn fit_before_compile_is_an_error() {
    let mut model = Sequential::new(&[2]).add(Dense::new(1)).name("m");
    let (x, y) = xy();
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert_eq!(msg, "fit: model \"m\" is not compiled; call compile first");
}

#[test]
fn evaluate_before_compile_is_an_error() -> Result<()> {
    let mut model = Sequential::new(&[2]).add(Dense::new(1)).name("m");
    model.build()?;
    let (x, y) = xy();
    let err = model.evaluate(&x, &y).unwrap_err();
    assert_eq!(
        err.to_string(),
        "evaluate: model \"m\" is not compiled; call compile first"
    );
    Ok(())
}

#[test]
fn x_of_the_wrong_feature_shape_names_both_shapes_and_the_first_layer() {
    let mut model = regressor();
    let x = Tensor::zeros(&[4, 3]).unwrap();
    let (_, y) = xy();
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert_eq!(
        msg,
        "dense (Dense) at position 0: expected input [_, 2], got [4, 3]"
    );
    let err = model.evaluate(&x, &y).unwrap_err();
    assert_eq!(err.to_string(), msg);
}

#[test]
fn x_and_y_with_different_row_counts_are_rejected() {
    let mut model = regressor();
    let (x, _) = xy();
    let y = Tensor::zeros(&[3, 1]).unwrap();
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert_eq!(msg, "fit: x has 4 rows but y has 3; x [4, 2], y [3, 1]");
    let msg = model.evaluate(&x, &y).unwrap_err().to_string();
    assert!(
        msg.starts_with("evaluate: x has 4 rows but y has 3"),
        "{msg}"
    );
}

#[test]
fn y_that_does_not_fit_the_loss_is_rejected() {
    // A 1-unit model with MSE against 3 targets per row: refused before the
    // first step, naming y, the output and the loss.
    let mut model = regressor();
    let (x, _) = xy();
    let y = Tensor::zeros(&[4, 3]).unwrap();
    let msg = fit_err(&mut model, &x, &y, quiet().batch_size(4));
    assert_eq!(
        msg,
        "fit: y has shape [4, 3] but the model's output has shape [rows, 1]; \
         mean_squared_error needs y of shape [rows, 1]"
    );
    let msg = model.evaluate(&x, &y).unwrap_err().to_string();
    assert_eq!(
        msg,
        "evaluate: y has shape [4, 3] but the model's output has shape [rows, 1]; \
         mean_squared_error needs y of shape [rows, 1]"
    );
}

#[test]
fn a_sparse_label_that_is_not_an_integer_names_the_row() {
    let mut model = classifier();
    let (x, _) = xy();
    let y = t(vec![0., 2., 1.5, 1.], &[4]);
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert_eq!(msg, "fit: label 1.5 at row 2 is not a class index in 0..3");
}

#[test]
fn a_sparse_label_out_of_range_names_the_row() {
    let mut model = classifier();
    let (x, _) = xy();
    let msg = fit_err(&mut model, &x, &t(vec![0., 1., 2., 3.], &[4, 1]), quiet());
    assert_eq!(msg, "fit: label 3 at row 3 is not a class index in 0..3");
    let msg = fit_err(&mut model, &x, &t(vec![0., -1., 2., 1.], &[4]), quiet());
    assert_eq!(msg, "fit: label -1 at row 1 is not a class index in 0..3");
    let err = model
        .evaluate(&x, &t(vec![0., 1., 7., 1.], &[4]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "evaluate: label 7 at row 2 is not a class index in 0..3"
    );
}

#[test]
fn nan_in_x_names_row_and_column() {
    let mut model = regressor();
    let (_, y) = xy();
    let x = t(vec![0., 1., 1., 0., 1., f32::NAN, 0., 0.], &[4, 2]);
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert!(
        msg.starts_with("fit: x holds NaN at row 2, column 1"),
        "{msg}"
    );
    let msg = model.evaluate(&x, &y).unwrap_err().to_string();
    assert!(
        msg.starts_with("evaluate: x holds NaN at row 2, column 1"),
        "{msg}"
    );
}

#[test]
fn infinity_in_y_names_row_and_column() {
    let mut model = regressor();
    let (x, _) = xy();
    let y = t(vec![1., 2., 3., f32::NEG_INFINITY], &[4, 1]);
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert!(
        msg.starts_with("fit: y holds -inf at row 3, column 0"),
        "{msg}"
    );
}

#[test]
fn nan_in_validation_data_is_rejected_before_training() {
    let mut model = regressor();
    let (x, y) = xy();
    let vy = t(vec![f32::INFINITY, 0.], &[2, 1]);
    let options = quiet().validation_data(Tensor::zeros(&[2, 2]).unwrap(), vy);
    let msg = fit_err(&mut model, &x, &y, options);
    assert!(
        msg.starts_with("fit (validation_data): y holds inf at row 0, column 0"),
        "{msg}"
    );
}

#[test]
fn validation_data_of_the_wrong_feature_shape_is_rejected_before_training() {
    let mut model = regressor();
    let (x, y) = xy();
    let options = quiet().validation_data(
        Tensor::zeros(&[2, 5]).unwrap(),
        Tensor::zeros(&[2, 1]).unwrap(),
    );
    let msg = fit_err(&mut model, &x, &y, options);
    assert_eq!(
        msg,
        "fit (validation_data): validation x does not fit the model: dense (Dense) at position 0: expected input [_, 2], got [2, 5]"
    );
}

#[test]
fn empty_data_is_rejected() {
    let mut model = regressor();
    let (x, y) = (
        Tensor::zeros(&[0, 2]).unwrap(),
        Tensor::zeros(&[0, 1]).unwrap(),
    );
    let msg = fit_err(&mut model, &x, &y, quiet());
    assert_eq!(msg, "fit: no data: x and y have 0 rows");
    let msg = model.evaluate(&x, &y).unwrap_err().to_string();
    assert_eq!(msg, "evaluate: no data: x and y have 0 rows");
}

#[test]
fn batch_size_zero_is_rejected() {
    let mut model = regressor();
    let (x, y) = xy();
    let msg = fit_err(&mut model, &x, &y, quiet().batch_size(0));
    assert_eq!(msg, "fit: batch_size must be at least 1, got 0");
}

#[test]
fn validation_split_outside_zero_to_one_is_rejected() {
    let mut model = regressor();
    let (x, y) = xy();
    for split in [1.0, -0.1, 1.5, f64::NAN] {
        let msg = fit_err(&mut model, &x, &y, quiet().validation_split(split));
        assert_eq!(
            msg,
            format!("fit: validation_split must be in [0, 1), got {split}")
        );
    }
}

#[test]
fn validation_split_that_leaves_no_training_rows_is_rejected() {
    let mut model = regressor();
    let (x, y) = xy();
    // floor(4 * 0.2) = 0 rows for training.
    let msg = fit_err(&mut model, &x, &y, quiet().validation_split(0.8));
    assert_eq!(
        msg,
        "fit: validation_split 0.8 of 4 rows leaves 0 for training and 4 for validation"
    );
}

#[test]
fn sample_weight_of_the_wrong_length_is_rejected() {
    let mut model = regressor();
    let (x, y) = xy();
    let msg = fit_err(
        &mut model,
        &x,
        &y,
        quiet().sample_weight(Tensor::ones(&[3]).unwrap()),
    );
    assert_eq!(msg, "fit: sample_weight must have shape [4], got [3]");
    let msg = fit_err(
        &mut model,
        &x,
        &y,
        quiet().sample_weight(Tensor::ones(&[4, 1]).unwrap()),
    );
    assert_eq!(msg, "fit: sample_weight must have shape [4], got [4, 1]");
}

#[test]
fn non_finite_sample_weight_is_rejected() {
    let mut model = regressor();
    let (x, y) = xy();
    let w = t(vec![1., f32::NAN, 1., 1.], &[4]);
    let msg = fit_err(&mut model, &x, &y, quiet().sample_weight(w));
    assert!(
        msg.starts_with("fit: sample_weight holds NaN at row 1"),
        "{msg}"
    );
}

/// Records `(epoch, batch, batch loss so far, weights)` at every batch end.
/// `on_batch_end` runs after the update for a finite loss, and before any
/// update for a non-finite one.
#[derive(Clone, Default)]
struct BatchRecorder {
    epoch: usize,
    seen: Rc<RefCell<Vec<BatchRecord>>>,
}

/// `(epoch, batch, loss so far in the epoch, weights after the callback)`.
type BatchRecord = (usize, usize, f64, Vec<Tensor>);

impl Callback for BatchRecorder {
    fn on_epoch_begin(&mut self, epoch: usize, _ctx: &mut dyn TrainingContext) -> Result<()> {
        self.epoch = epoch;
        Ok(())
    }
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext,
    ) -> Result<()> {
        let loss = logs.get("loss").expect("loss is logged");
        self.seen
            .borrow_mut()
            .push((self.epoch, batch, loss, ctx.get_weights()));
        Ok(())
    }
}

/// A linear model with a learning rate so large that the weights grow by
/// orders of magnitude each step until the f32 loss overflows.
fn exploding() -> (Sequential, Tensor, Tensor) {
    let mut model = Sequential::new(&[1]).add(Dense::new(1)).seed(2);
    model
        .compile(Sgd::new(1e6), MeanSquaredError, &[])
        .expect("compile");
    let x = Tensor::from_vec((0..16).map(|i| 1.0 + i as f32).collect(), &[16, 1]).expect("x");
    let y = x.map(|v| 3.0 * v);
    (model, x, y)
}

#[test]
fn a_nan_loss_stops_fit_with_the_weights_from_before_the_bad_batch() {
    let (mut model, x, y) = exploding();
    let recorder = BatchRecorder::default();
    let seen = recorder.seen.clone();
    let options = FitOptions::default()
        .epochs(50)
        .batch_size(4)
        .verbose(0)
        .callback(recorder);
    let err = model.fit(&x, &y, options).unwrap_err();
    let Error::NonFiniteLoss {
        epoch,
        batch,
        value,
    } = err
    else {
        panic!("expected NonFiniteLoss, got {err:?}");
    };
    assert!(!value.is_finite());
    let seen = seen.borrow();
    let (last, previous) = (&seen[seen.len() - 1], &seen[seen.len() - 2]);
    // The bad batch is the last one the callbacks saw, after finite ones.
    assert_eq!((last.0, last.1), (epoch, batch));
    assert!(!last.2.is_finite());
    assert!(previous.2.is_finite());
    // The weights are exactly those after the previous (good) batch.
    let weights = model.get_weights();
    assert_eq!(weights, previous.3);
    assert_eq!(weights, last.3);
    assert!(weights.iter().all(|w| w.all_finite()));
    let msg = format!(
        "{}",
        Error::NonFiniteLoss {
            epoch,
            batch,
            value
        }
    );
    assert!(
        msg.starts_with(&format!(
            "fit: the loss became {value} at epoch {epoch}, batch {batch}"
        )),
        "{msg}"
    );
}

#[test]
fn terminate_on_nan_returns_ok_with_the_weights_from_before_the_bad_batch() -> Result<()> {
    let (mut model, x, y) = exploding();
    let recorder = BatchRecorder::default();
    let seen = recorder.seen.clone();
    let options = FitOptions::default()
        .epochs(50)
        .batch_size(4)
        .verbose(0)
        .callback(recorder)
        .callback(TerminateOnNan::new());
    let history = model.fit(&x, &y, options)?;
    let seen = seen.borrow();
    let (last, previous) = (&seen[seen.len() - 1], &seen[seen.len() - 2]);
    assert!(!last.2.is_finite());
    assert!(previous.2.is_finite());
    assert_eq!(model.get_weights(), previous.3);
    // Epochs completed before the bad one are in the history; the bad one is not.
    assert_eq!(history.len(), last.0);
    assert!(
        history
            .get("loss")
            .unwrap_or(&[])
            .iter()
            .all(|l| l.is_finite())
    );
    Ok(())
}
