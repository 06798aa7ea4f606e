//! Probability losses computed from the logits behind the output
//! activation, as Keras does.
//!
//! A model ending in a sigmoid (a layer that splits its activation off with
//! `Layer::forward_pre_activation`, such as a `Dense` with
//! `Activation::Sigmoid`, or an `Activation` layer) trained with `BinaryCrossentropy` on probabilities
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
use crate::layers::Mode;
use crate::losses::Loss;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// How the last layer turns logits into the model's output.
enum Head {
    /// A layer that may split its activation off
    /// ([`Layer::forward_pre_activation`], e.g. `Dense`).
    Layer,
    /// An `Activation` layer, whose input is the logits.
    Activation(Activation),
}

/// The from-logits twin of a probability loss behind a matching activation.
pub(crate) struct LogitsLoss<T: Float> {
    head: Head,
    /// The activation the loss's logits form undoes.
    wanted: Activation,
    loss: Box<dyn Loss<T>>,
}

impl<T: Float> LogitsLoss<T> {
    /// The twin of `loss` for `model`, if the loss takes probabilities and
    /// has a logits form, and the last layer is an `Activation` layer with
    /// the matching activation or may split its activation off (checked at
    /// each forward pass).
    pub(crate) fn for_model(model: &Sequential<T>, loss: &dyn Loss<T>) -> Option<Self> {
        let last = model.layers.last()?;
        let wanted = match loss.name() {
            "binary_crossentropy" => Activation::Sigmoid,
            "categorical_crossentropy" | "sparse_categorical_crossentropy" => Activation::Softmax,
            _ => return None,
        };
        let mut config = loss.config();
        if config.get("from_logits") != Some(&Value::Bool(false)) {
            return None;
        }
        let head = if last.kind() == "Activation" {
            let a = Activation::from_config(last.config().get("activation")?).ok()?;
            if a != wanted {
                return None;
            }
            Head::Activation(a)
        } else {
            Head::Layer
        };
        config["from_logits"] = Value::Bool(true);
        let loss = crate::losses::from_config::<T>(loss.name(), &config).ok()?;
        Some(LogitsLoss { head, wanted, loss })
    }

    /// Runs the model on `x`; returns the output (probabilities) and the
    /// per-sample loss against `y`: from the logits when the last layer
    /// ends in the wanted activation, else `probability_loss` of the output.
    pub(crate) fn forward<'t>(
        &self,
        model: &Sequential<T>,
        tape: &'t GradientTape<T>,
        x: &Tensor<T>,
        y: &Tensor<T>,
        mode: Mode,
        probability_loss: &dyn Loss<T>,
    ) -> Result<(Var<'t, T>, Var<'t, T>)> {
        let n = model.layers.len();
        let h = model.forward_layers(tape.constant(x), mode, n - 1)?;
        let last = &model.layers[n - 1];
        let split = match self.head {
            Head::Activation(a) => Some((h, a)),
            Head::Layer => last
                .forward_pre_activation(h, mode)
                .map_err(|e| super::sequential::at_position(e, last.as_ref(), n - 1))?,
        };
        let y = tape.constant(y);
        match split {
            Some((logits, a)) if a == self.wanted => {
                let probs = a.apply(logits)?;
                Ok((probs, self.loss.per_sample(logits, y)?))
            }
            Some((z, a)) => {
                let out = a.apply(z)?;
                Ok((out, probability_loss.per_sample(out, y)?))
            }
            None => {
                let out = last
                    .forward(h, mode)
                    .map_err(|e| super::sequential::at_position(e, last.as_ref(), n - 1))?;
                Ok((out, probability_loss.per_sample(out, y)?))
            }
        }
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
                l.forward(self, tape, x, y, mode, loss)
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
