//! Probability losses computed from the logits behind the output
//! activation, as Keras does.
//!
//! A model ending in a sigmoid (a `Dense` with `Activation::Sigmoid`, or an
//! `Activation` layer) trained with `BinaryCrossentropy` on probabilities
//! (`from_logits: false`), or ending in a softmax with
//! `CategoricalCrossentropy` / `SparseCategoricalCrossentropy` on
//! probabilities, has its loss computed from the pre-activation logits by
//! the loss's `from_logits` form. The value is the same where the
//! probabilities are not clipped; where the activation saturates in the
//! element type (a sigmoid of 20 is exactly 1 in `f32`) the probability
//! form has a zero gradient and a confidently wrong prediction is never
//! corrected, while the logits form keeps the gradient. Metrics and
//! `predict` still see the probabilities.
//!
//! Source: Keras 3 `keras.losses.binary_crossentropy` /
//! `categorical_crossentropy`, which use `output._keras_logits` when the
//! output comes from a sigmoid or softmax.

use serde_json::Value;

use super::Sequential;
use crate::activations::Activation;
use crate::element::Float;
use crate::error::Result;
use crate::layers::{Layer, Mode};
use crate::losses::Loss;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// How the last layer turns logits into the model's output.
enum Head {
    /// A `Dense` layer: `activation(x · kernel + bias)`.
    Dense(Activation),
    /// An `Activation` layer.
    Activation(Activation),
}

/// The from-logits twin of a probability loss behind a matching activation.
pub(crate) struct LogitsLoss<T: Float> {
    head: Head,
    loss: Box<dyn Loss<T>>,
}

/// The activation of a layer that ends in one, read from its config.
fn head_of<T: Float>(layer: &dyn Layer<T>) -> Option<Head> {
    let config = layer.config();
    let activation = Activation::from_config(config.get("activation")?).ok()?;
    match layer.kind() {
        "Dense" => Some(Head::Dense(activation)),
        "Activation" => Some(Head::Activation(activation)),
        _ => None,
    }
}

impl<T: Float> LogitsLoss<T> {
    /// The twin of `loss` for `model`, if the model's last layer ends in the
    /// activation the loss matches and the loss takes probabilities.
    pub(crate) fn for_model(model: &Sequential<T>, loss: &dyn Loss<T>) -> Option<Self> {
        let head = head_of(model.layers.last()?.as_ref())?;
        let activation = match &head {
            Head::Dense(a) | Head::Activation(a) => *a,
        };
        let wanted = match loss.name() {
            "binary_crossentropy" => Activation::Sigmoid,
            "categorical_crossentropy" | "sparse_categorical_crossentropy" => Activation::Softmax,
            _ => return None,
        };
        let mut config = loss.config();
        if activation != wanted || config.get("from_logits") != Some(&Value::Bool(false)) {
            return None;
        }
        config["from_logits"] = Value::Bool(true);
        let loss = crate::losses::from_config::<T>(loss.name(), &config).ok()?;
        Some(LogitsLoss { head, loss })
    }

    /// Runs the model on `x`; returns the output (probabilities) and the
    /// per-sample loss against `y` computed from the logits.
    pub(crate) fn forward<'t>(
        &self,
        model: &Sequential<T>,
        tape: &'t GradientTape<T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mode: Mode,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let n = model.layers.len();
        let h = model.forward_layers(tape.constant(x), mode, n - 1)?;
        let (logits, activation) = match self.head {
            Head::Activation(a) => (h, a),
            Head::Dense(a) => {
                let last = &model.layers[n - 1];
                let params = last.params();
                let kernel = params
                    .iter()
                    .find(|p| p.name() == "kernel")
                    .ok_or_else(|| model.not_built("fit"))?;
                let bias = params
                    .iter()
                    .find(|p| p.name() == "bias")
                    .map(|b| tape.param(b));
                let logits = h
                    .linear(&tape.param(kernel), bias.as_ref())
                    .map_err(|e| super::sequential::at_position(e, last.as_ref(), n - 1))?;
                (logits, a)
            }
        };
        let probs = activation.apply(logits)?;
        let per = self.loss.per_sample(logits, tape.constant(y))?;
        Ok((probs, per))
    }
}

impl<T: Float> Sequential<T> {
    /// The output and the per-sample loss of a batch: from the logits when
    /// a [`LogitsLoss`] applies, else from the output.
    pub(crate) fn forward_loss<'t>(
        &self,
        tape: &'t GradientTape<T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mode: Mode,
        loss: &dyn Loss<T>,
        logits: Option<&LogitsLoss<T>>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        match logits {
            Some(l) => {
                self.check_input(x.shape())?;
                l.forward(self, tape, x, y, mode)
            }
            None => {
                let pred = self.forward(tape, x, mode)?;
                let per = loss.per_sample(pred, tape.constant(y))?;
                Ok((pred, per))
            }
        }
    }

    /// The sum of every layer's regularization penalty on `tape`, if any.
    pub(crate) fn regularization<'t>(
        &self,
        tape: &'t GradientTape<T>,
    ) -> Result<Option<Var<'t, T>>> {
        let mut total: Option<Var<'t, T>> = None;
        for layer in &self.layers {
            if let Some(r) = layer.regularization_loss(tape)? {
                total = Some(match total {
                    Some(t) => t.add(&r)?,
                    None => r,
                });
            }
        }
        Ok(total)
    }
}
