//! Running a [`Sequential`]: `forward` (the custom-training-loop entry
//! point), and `evaluate`, `predict`, `predict_proba` and
//! `predict_classes`, in batches on an inference tape (parameters enter as
//! constants, so nothing is recorded for gradients).

use super::logits::LogitsLoss;
use super::{Evaluation, Sequential};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::layers::Mode;
use crate::losses::Loss;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// Rows per batch in `evaluate` and `predict`.
const INFER_BATCH: usize = 256;

impl<T: Float> Sequential<T> {
    /// Runs the layers on a batch `x` already on `tape` (the custom-training-loop
    /// entry point; `fit` and `predict` use it too).
    ///
    /// # Errors
    ///
    /// If the model is not built; [`Error::Layer`] if `x`'s feature shape
    /// differs from the model's input shape, or a layer fails, naming the layer.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// let tape = GradientTape::new();
    /// let x = Tensor::ones(&[4, 2])?;
    /// let y = model.forward(&tape, &x, Mode::Train)?;
    /// let grads = tape.gradient(&y.sum(), model.trainable_params())?;
    /// assert_eq!(grads.len(), 2);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn forward<'t>(
        &self,
        tape: &'t GradientTape<T>,
        x: &Tensor<T>,
        mode: Mode,
    ) -> Result<Var<'t, T>> {
        self.forward_var(tape.constant(x), mode)
    }

    /// As [`forward`](Self::forward), for an input that is already a `Var`
    /// (e.g. a watched input, to take gradients with respect to it).
    ///
    /// # Errors
    ///
    /// As [`forward`](Self::forward).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::ones(&[1, 2])?);
    /// let y = model.forward_var(x, Mode::Infer)?;
    /// let saliency = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(saliency.get(x).unwrap().shape(), &[1, 2]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn forward_var<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        if !self.is_built() {
            return Err(self.not_built("forward"));
        }
        self.check_input(&x.shape())?;
        self.forward_layers(x, mode, self.layers.len())
    }

    /// The mean loss and the metrics of the model on `x`, `y`, in inference
    /// mode (dropout off), Keras's `evaluate`.
    ///
    /// # Errors
    ///
    /// As the data checks of [`fit`](Self::fit) (naming the row and column
    /// of a NaN or infinite value), and if the model is not compiled.
    ///
    /// The loss includes the layers' regularization penalties (as `fit`'s
    /// `loss` and `val_loss` do, and as Keras does), and is computed from
    /// the logits behind a sigmoid or softmax output as `fit` explains.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?;   // y = x
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let y = Tensor::from_vec(vec![2.0, 2.0], &[2, 1])?;
    /// let e = model.evaluate(&x, &y)?;
    /// assert_eq!(e.loss, 0.5);                                  // (1² + 0²) / 2
    /// assert_eq!(e.metric(Metric::MeanAbsoluteError), Some(0.5));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn evaluate(&self, x: &Tensor<T>, y: &Tensor<T>) -> Result<Evaluation> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.not_compiled("evaluate"))?;
        let n = self.check_data("evaluate", x, y)?;
        if compiled.loss.name().starts_with("sparse") {
            self.check_sparse_labels("evaluate", y)?;
        }
        let mut states = self.metric_states(y.shape())?;
        let logits = LogitsLoss::for_model(self, compiled.loss.as_ref());
        let mut total = 0.0;
        for start in (0..n).step_by(INFER_BATCH) {
            let rows = start..(start + INFER_BATCH).min(n);
            let (xb, yb) = (x.slice_rows(rows.clone())?, y.slice_rows(rows)?);
            let tape = GradientTape::inference();
            let (pred, per) = self.forward_loss(
                &tape,
                &xb,
                &yb,
                Mode::Infer,
                compiled.loss.as_ref(),
                logits.as_ref(),
            )?;
            total += per
                .value()
                .as_slice()
                .iter()
                .map(|&v| Float::to_f64(v))
                .sum::<f64>();
            let p = pred.value();
            for s in states.iter_mut() {
                s.update(&p, &yb, None)?;
            }
        }
        // The layers' regularization penalties, added once as Keras does
        // (the same term `fit` adds to each batch's loss).
        let tape = GradientTape::inference();
        let penalty = match self.regularization(&tape)? {
            Some(r) => Float::to_f64(r.value().item()?),
            None => 0.0,
        };
        Ok(Evaluation {
            loss: total / n as f64 + penalty,
            metrics: states.iter().map(|s| (s.name(), s.result())).collect(),
        })
    }

    /// The model's outputs for `x`, in inference mode and in batches,
    /// recording nothing for gradients, Keras's `predict`.
    ///
    /// # Errors
    ///
    /// If the model is not built; if `x`'s feature shape is not the model's
    /// input shape (naming the first layer, and saying to add a batch axis
    /// when `x` is a single sample); if `x` holds a NaN or infinite value
    /// (naming its row and column); any layer's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[3]).add(Dense::new(2));
    /// model.build()?;
    /// assert_eq!(model.predict(&Tensor::zeros(&[5, 3])?)?.shape(), &[5, 2]);
    /// let err = model.predict(&Tensor::zeros(&[5, 4])?).unwrap_err();
    /// assert_eq!(err.to_string(), "dense (Dense) at position 0: expected input [_, 3], got [5, 4]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn predict(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        if !self.is_built() {
            return Err(self.not_built("predict"));
        }
        self.check_input(x.shape())?;
        super::checks::check_finite("predict", "x", x)?;
        // `check_input` guarantees a batch axis.
        let n = x.shape()[0];
        let mut outputs = Vec::new();
        for start in (0..n.max(1)).step_by(INFER_BATCH) {
            let xb = x.slice_rows(start..(start + INFER_BATCH).min(n))?;
            let tape = GradientTape::inference();
            outputs.push(self.forward(&tape, &xb, Mode::Infer)?.value());
        }
        if outputs.len() == 1 {
            return Ok(outputs.pop().expect("invariant: one output"));
        }
        let refs: Vec<&Tensor<T>> = outputs.iter().collect();
        Tensor::concat(&refs, 0)
    }

    /// Class probabilities for `x`, whatever the model's last layer: Keras
    /// users write `tf.nn.softmax(model.predict(x))` after training on
    /// logits, scikit-learn users `predict_proba`. The compiled loss says
    /// what the outputs are:
    ///
    /// - a loss **from logits** (`from_logits = true`, e.g.
    ///   [`SparseCategoricalCrossentropy::from_logits`](crate::losses::SparseCategoricalCrossentropy::from_logits)):
    ///   the softmax of [`predict`](Self::predict) over the last axis
    ///   ([`Tensor::softmax`]), or the elementwise sigmoid for
    ///   [`BinaryCrossentropy`](crate::losses::BinaryCrossentropy) and for a
    ///   single output unit;
    /// - a loss **on probabilities** (the cross-entropies with
    ///   `from_logits = false`, KL divergence, or a custom loss): the model
    ///   already ends in a softmax or sigmoid, so the predictions as they
    ///   are.
    ///
    /// # Shapes
    ///
    /// `x`: `[batch, ...input_shape]`; output: `[batch, ...output_shape]`,
    /// each row summing to 1 after a softmax.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) (op
    /// `predict_proba`) if the model is not compiled (without a loss there
    /// is no telling logits from probabilities), or is compiled with a
    /// regression loss (mean squared or absolute error, Huber), whose
    /// outputs are not probabilities; otherwise as [`predict`](Self::predict).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[4]).add(Dense::new(8).activation(Activation::Relu)).add(Dense::new(3));
    /// assert!(model.predict_proba(&Tensor::ones(&[2, 4])?).is_err());          // not compiled
    /// model.compile(Adam::new(0.01), SparseCategoricalCrossentropy::from_logits(), &[Metric::Accuracy])?;
    /// let x = Tensor::from_vec((0..8).map(|i| i as f32 / 4.0).collect(), &[2, 4])?;
    /// let p = model.predict_proba(&x)?;
    /// assert_eq!(p, model.predict(&x)?.softmax(-1)?);
    /// for row in p.to_vec().chunks(3) {
    ///     assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    ///     assert!(row.iter().all(|&q| q > 0.0));
    /// }
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn predict_proba(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        const OP: &str = "predict_proba";
        let compiled = self.compiled.as_ref().ok_or_else(|| Error::InvalidArgument {
            op: OP,
            message: format!(
                "model {:?} is not compiled; compile it with its loss first, which says whether the outputs are logits or probabilities",
                self.name
            ),
        })?;
        let loss = compiled.loss.name();
        if matches!(loss, "mean_squared_error" | "mean_absolute_error" | "huber") {
            return Err(Error::InvalidArgument {
                op: OP,
                message: format!(
                    "model {:?} is compiled with the regression loss {loss}, so its outputs are not probabilities; use predict",
                    self.name
                ),
            });
        }
        let y = self.predict(x)?;
        Ok(match output_kind(compiled.loss.as_ref(), y.shape()) {
            Outputs::Probabilities => y,
            Outputs::SigmoidLogits => y.sigmoid(),
            Outputs::SoftmaxLogits => y.softmax(-1)?,
        })
    }

    /// The predicted class of each row: the argmax of the last axis, or for
    /// a single output unit (a sigmoid classifier) 1 where the output is at
    /// least 0.5 (where the logit is at least 0 for a model compiled with a
    /// loss from logits).
    ///
    /// # Errors
    ///
    /// As [`predict`](Self::predict).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[2]).add(Dense::new(2));
    /// model.build()?;
    /// model.set_weights(vec![Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2])?, Tensor::zeros(&[2])?])?;
    /// let x = Tensor::from_vec(vec![3.0, 1.0, 0.0, 2.0], &[2, 2])?;
    /// assert_eq!(model.predict_classes(&x)?, vec![0, 1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn predict_classes(&self, x: &Tensor<T>) -> Result<Vec<usize>> {
        let mut p = self.predict(x)?;
        // A single logit is class 1 where it is at least 0, i.e. where its
        // sigmoid is at least 0.5: threshold the probability, not the logit.
        if let Some(c) = &self.compiled
            && output_kind(c.loss.as_ref(), p.shape()) == Outputs::SigmoidLogits
        {
            p = p.sigmoid();
        }
        let width = p.shape().last().copied().unwrap_or(1).max(1);
        // `chunks` yields non-empty rows of at most `width` elements, so
        // `row[0]` exists and `j`, `b` stay in the row.
        Ok(p.as_slice()
            .chunks(width)
            .map(|row| {
                if width == 1 {
                    usize::from(row[0] >= T::from_f64(0.5))
                } else {
                    crate::tensor::argmax_slice(row)
                }
            })
            .collect())
    }
}

/// What a model's outputs are, as its compiled loss reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outputs {
    /// Already probabilities (or not a classifier's outputs).
    Probabilities,
    /// Logits of independent binary labels: a sigmoid makes them probabilities.
    SigmoidLogits,
    /// Logits of exclusive classes along the last axis: a softmax.
    SoftmaxLogits,
}

/// Reads the loss's `from_logits` setting (its config, so custom losses
/// that follow the convention are read too): binary cross-entropy and a
/// single output unit take a sigmoid, other logits a softmax.
fn output_kind<T: Float>(loss: &dyn Loss<T>, output_shape: &[usize]) -> Outputs {
    if loss.config().get("from_logits") != Some(&serde_json::Value::Bool(true)) {
        Outputs::Probabilities
    } else if loss.name() == "binary_crossentropy" || output_shape.last() == Some(&1) {
        Outputs::SigmoidLogits
    } else {
        Outputs::SoftmaxLogits
    }
}
