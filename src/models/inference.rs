//! Inference on a [`Sequential`]: `evaluate`, `predict` and
//! `predict_classes`, in batches on an inference tape (parameters enter as
//! constants, so nothing is recorded for gradients).

use super::logits::LogitsLoss;
use super::{Evaluation, Sequential};
use crate::element::Float;
use crate::error::Result;
use crate::layers::Mode;
use crate::tape::GradientTape;
use crate::tensor::Tensor;

/// Rows per batch in `evaluate` and `predict`.
const INFER_BATCH: usize = 256;

impl<T: Float> Sequential<T> {
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
    /// let mut model = Sequential::<f32>::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// model.set_weights(vec![Tensor::ones(&[1, 1])?, Tensor::zeros(&[1])?])?;   // y = x
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2, 1])?;
    /// let y = Tensor::from_vec(vec![2.0, 2.0], &[2, 1])?;
    /// let e = model.evaluate(&x, &y)?;
    /// assert_eq!(e.loss, 0.5);                                  // (1² + 0²) / 2
    /// assert_eq!(e.metric("mean_absolute_error"), Some(0.5));
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
    /// let mut model = Sequential::<f32>::new(&[3]).add(Dense::new(2));
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

    /// The predicted class of each row: the argmax of the last axis, or for
    /// a single output unit (a sigmoid classifier) 1 where the output is at
    /// least 0.5.
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
    /// let mut model = Sequential::<f32>::new(&[2]).add(Dense::new(2));
    /// model.build()?;
    /// model.set_weights(vec![Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2])?, Tensor::zeros(&[2])?])?;
    /// let x = Tensor::from_vec(vec![3.0, 1.0, 0.0, 2.0], &[2, 2])?;
    /// assert_eq!(model.predict_classes(&x)?, vec![0, 1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn predict_classes(&self, x: &Tensor<T>) -> Result<Vec<usize>> {
        let p = self.predict(x)?;
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
