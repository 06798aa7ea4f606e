//! `compile`, `fit`, `evaluate`, `predict`: the Keras training API on
//! [`Sequential`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::checks::{check_settings, check_weights, row_weights};
use super::epoch::Context;
use super::progress::Progress;
use super::{FitOptions, History, Sequential};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::metrics::{Metric, MetricState};
use crate::optimizers::Optimizer;
use crate::tensor::Tensor;

/// What `compile` fixed: the optimizer (with its state), the loss, the
/// metrics, and the history of every `fit` so far.
pub(crate) struct Compiled<T: Float> {
    pub optimizer: Box<dyn Optimizer<T>>,
    pub loss: Box<dyn Loss<T>>,
    pub metrics: Vec<Metric>,
    pub history: History,
}

impl<T: Float> Sequential<T> {
    /// Fixes the optimizer, the loss and the metrics for training, and
    /// builds the model. `Metric::Accuracy` is resolved from the loss as in
    /// Keras. Compiling again replaces all three (and resets the optimizer).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build); if a metric cannot be resolved for the
    /// loss; and [`Error::InvalidArgument`] for a loss built
    /// `from_logits()` after a last layer that already applies softmax or
    /// sigmoid (the activation would be applied twice; Keras warns here, we
    /// refuse).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// assert!(model.is_built());
    ///
    /// let mut twice = Sequential::new(&[4]).add(Dense::new(3).activation(Activation::Softmax));
    /// let err = twice
    ///     .compile(Adam::new(0.01), SparseCategoricalCrossentropy::from_logits(), &[])
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("compile: the loss sparse_categorical_crossentropy expects logits"));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn compile(
        &mut self,
        optimizer: impl Optimizer<T> + 'static,
        loss: impl Loss<T> + 'static,
        metrics: &[Metric],
    ) -> Result<()> {
        self.build()?;
        let loss: Box<dyn Loss<T>> = Box::new(loss);
        self.check_logits_loss(loss.as_ref())?;
        // Check the metrics now (e.g. top-k with k = 0); `Accuracy` is
        // resolved against the data's shapes when training starts.
        let out = self.output_shape()?;
        let mut pred_shape = vec![1];
        pred_shape.extend(&out);
        for m in metrics {
            m.build::<T>(loss.name(), &pred_shape, &pred_shape)?;
        }
        self.compiled = Some(Compiled {
            optimizer: Box::new(optimizer),
            loss,
            metrics: metrics.to_vec(),
            history: History::default(),
        });
        Ok(())
    }

    /// Whether [`compile`](Self::compile) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// assert!(!Sequential::new(&[1]).is_compiled());
    /// ```
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// Refuses a loss that expects logits (`from_logits`) after a last layer
    /// that already applies softmax or sigmoid: the loss would apply it a
    /// second time and train on the wrong objective without any other sign
    /// (Keras only warns here).
    fn check_logits_loss(&self, loss: &dyn Loss<T>) -> Result<()> {
        let config = loss.config();
        if config.get("from_logits") != Some(&serde_json::Value::Bool(true)) {
            return Ok(());
        }
        let Some(last) = self.layers.last() else {
            return Ok(());
        };
        let activation = last.config().get("activation").cloned();
        let applied = match activation.as_ref().and_then(|a| a.as_str()) {
            Some(name @ ("softmax" | "sigmoid")) => name.to_string(),
            _ => return Ok(()),
        };
        Err(Error::InvalidArgument {
            op: "compile",
            message: format!(
                "the loss {} expects logits (from_logits) but the last layer {:?} already \
                 applies {applied}; compile with the probability form of the loss (e.g. \
                 SparseCategoricalCrossentropy::new()) or remove the {applied} from the last layer",
                loss.name(),
                last.name()
            ),
        })
    }

    pub(crate) fn not_compiled(&self, op: &'static str) -> Error {
        Error::InvalidArgument {
            op,
            message: format!("model {:?} is not compiled; call compile first", self.name),
        }
    }

    /// The history of every `fit` since `compile` (or since loading).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let model = Sequential::new(&[1]);
    /// assert!(model.history().is_none());
    /// ```
    pub fn history(&self) -> Option<&History> {
        self.compiled.as_ref().map(|c| &c.history)
    }

    /// Fresh accumulators for the compiled metrics, `Accuracy` resolved
    /// against the targets' shape as Keras does.
    pub(crate) fn metric_states(
        &self,
        y_true_shape: &[usize],
    ) -> Result<Vec<Box<dyn MetricState<T>>>> {
        let c = self
            .compiled
            .as_ref()
            .ok_or_else(|| self.not_compiled("metrics"))?;
        let mut pred_shape = vec![y_true_shape.first().copied().unwrap_or(1)];
        pred_shape.extend(self.output_shape()?);
        c.metrics
            .iter()
            .map(|m| m.build::<T>(c.loss.name(), &pred_shape, y_true_shape))
            .collect()
    }

    /// Trains the model on inputs `x` (`[rows, …input_shape]`) and targets
    /// `y` (`[rows, …]`, as the loss expects), Keras's `fit`.
    ///
    /// Each epoch shuffles the rows (seeded), takes batches, and for each
    /// batch records the forward pass, takes the gradient of the (weighted)
    /// mean loss plus any regularisation, and applies it. Returns this call's
    /// [`History`].
    ///
    /// # Errors
    ///
    /// Before any update: if the model is not compiled; `x` and `y` have
    /// different row counts or no rows; `x`'s feature shape is not the
    /// input shape (naming the first layer); a value is NaN or infinite
    /// (naming row and column); a sparse label is not a class index (naming
    /// the row); `epochs` is 0 or not above `initial_epoch`; `batch_size`
    /// is 0; `validation_split` is outside `[0, 1)` (or NaN) or leaves no
    /// rows; `validation_data` does not fit the model (named as the
    /// validation data); `sample_weight` has the wrong length or a
    /// negative or non-finite value; a `class_weight` is negative or not
    /// finite (naming the class).
    ///
    /// During training: if the loss becomes NaN or infinite
    /// ([`Error::NonFiniteLoss`], naming epoch and batch; the weights from
    /// before that batch are kept) unless a callback such as
    /// `TerminateOnNan` stops training first; if a step would commit a NaN
    /// or infinite parameter or optimizer state — a non-finite gradient, or
    /// an update that overflows the element type
    /// ([`Error::NonFiniteUpdate`], naming epoch, batch and the first
    /// offending parameter; the weights and optimizer state from before
    /// that batch are kept, bit for bit); and any error of a layer, the
    /// loss, the optimizer or a callback.
    ///
    /// # Loss from logits
    ///
    /// As in Keras, when the model ends in a sigmoid and the loss is
    /// `BinaryCrossentropy` on probabilities (or a softmax and
    /// `CategoricalCrossentropy` / `SparseCategoricalCrossentropy`), the loss
    /// is computed from the logits before the activation with the loss's
    /// `from_logits` form: the same value where the probabilities are not
    /// clipped, and a gradient that does not vanish where the activation
    /// saturates. The reported `loss` includes the layers' regularization
    /// penalties, as do `val_loss` and [`evaluate`](Self::evaluate).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// // y = 2x - 1
    /// let x = Tensor::from_vec((0..20).map(|i| i as f32 / 10.0).collect(), &[20, 1])?;
    /// let y = x.map(|v| 2.0 * v - 1.0);
    /// let mut model = Sequential::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[])?;
    /// let history = model.fit(&x, &y, FitOptions::default().epochs(300).batch_size(20))?;
    /// assert!(history.last("loss").unwrap() < 1e-4);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit(&mut self, x: &Tensor<T>, y: &Tensor<T>, options: FitOptions<T>) -> Result<History> {
        let FitOptions {
            epochs,
            batch_size,
            shuffle,
            validation_split,
            validation_data,
            class_weight,
            sample_weight,
            initial_epoch,
            seed,
            verbose,
            mut callbacks,
            adversarial,
        } = options;
        if self.compiled.is_none() {
            return Err(self.not_compiled("fit"));
        }
        check_settings(epochs, initial_epoch, batch_size, validation_split, verbose)?;
        let n = self.check_data("fit", x, y)?;
        let sparse = self
            .compiled
            .as_ref()
            .is_some_and(|c| c.loss.name().starts_with("sparse"));
        if sparse {
            self.check_sparse_labels("fit", y)?;
        }
        // A single output unit (a sigmoid) classifies into 2 classes.
        let classes = match self.output_shape()?.last().copied() {
            Some(1) | None => 2,
            Some(k) => k,
        };
        check_weights(n, classes, sample_weight.as_ref(), class_weight.as_ref())?;
        if let Some(a) = &adversarial {
            a.check(validation_data.is_some() || validation_split > 0.0)?;
        }
        let weights = row_weights(y, sample_weight.as_ref(), class_weight.as_ref());

        // Validation rows: given, or the last `validation_split` of the data.
        let (n_train, validation) = match validation_data {
            Some((vx, vy)) => {
                // A shape error of the first layer would not say that the
                // validation data, not `x`, is at fault.
                self.check_data("fit (validation_data)", &vx, &vy)
                    .map_err(|e| match e {
                        Error::Layer { .. } => Error::InvalidArgument {
                            op: "fit (validation_data)",
                            message: format!("validation x does not fit the model: {e}"),
                        },
                        other => other,
                    })?;
                if sparse {
                    self.check_sparse_labels("fit (validation_data)", &vy)?;
                }
                (n, Some((vx, vy)))
            }
            None if validation_split > 0.0 => {
                let n_train = ((n as f64) * (1.0 - validation_split)).floor() as usize;
                if n_train == 0 || n_train == n {
                    return Err(Error::InvalidArgument {
                        op: "fit",
                        message: format!(
                            "validation_split {validation_split} of {n} rows leaves {n_train} for training and {} for validation",
                            n - n_train
                        ),
                    });
                }
                let v = (x.slice_rows(n_train..n)?, y.slice_rows(n_train..n)?);
                (n_train, Some(v))
            }
            None => (n, None),
        };
        let (x, y) = (x.slice_rows(0..n_train)?, y.slice_rows(0..n_train)?);

        let shuffle_seed = seed.unwrap_or(self.seed);
        let steps = n_train.div_ceil(batch_size);
        let mut progress = Progress::new(verbose, epochs, steps);
        let mut history = History::default();
        let mut ctx = Context {
            model: self,
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            cb.on_train_begin(&mut ctx)?;
        }
        let mut order: Vec<usize> = (0..n_train).collect();
        for epoch in initial_epoch..epochs {
            for cb in callbacks.iter_mut() {
                cb.on_epoch_begin(epoch, &mut ctx)?;
            }
            progress.epoch_begin(epoch);
            // One batch of every row: the order would change only the
            // rounding of the batch's sums, so the rows stay in place and
            // the batch is a view, not a gathered copy (`FitOptions::shuffle`).
            let shuffled = shuffle && batch_size < n_train;
            if shuffled {
                // Each epoch's order depends on the seed and the epoch number
                // alone, so a run resumed at `initial_epoch` shuffles exactly
                // as the uninterrupted run did.
                order.clear();
                order.extend(0..n_train);
                order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(shuffle_seed, epoch)));
            }
            let logs = ctx.train_epoch(
                epoch,
                &x,
                &y,
                weights.as_deref(),
                &order,
                !shuffled,
                batch_size,
                &mut callbacks,
                &mut progress,
                adversarial.as_ref(),
            )?;
            let Some(mut logs) = logs else { break };
            if let Some((vx, vy)) = &validation {
                let e = ctx.model.evaluate(vx, vy)?;
                logs.push("val_loss", e.loss);
                for (name, v) in e.metrics {
                    logs.push(format!("val_{name}"), v);
                }
                ctx.model.robust_validation(
                    adversarial.as_ref(),
                    validation.as_ref(),
                    &mut logs,
                )?;
            }
            history.push(epoch, &logs);
            if let Some(c) = ctx.model.compiled.as_mut() {
                c.history.push(epoch, &logs);
            }
            progress.epoch_end(epoch, &logs);
            for cb in callbacks.iter_mut() {
                cb.on_epoch_end(epoch, &logs, &mut ctx)?;
            }
            if ctx.stop {
                break;
            }
        }
        for cb in callbacks.iter_mut() {
            cb.on_train_end(&mut ctx)?;
        }
        Ok(history)
    }
}

impl<T: Float> Sequential<T> {
    /// Commits every layer's pending state updates (such as
    /// `BatchNormalization`'s moving statistics) through
    /// [`Layer::apply_state_updates`](crate::layers::Layer::apply_state_updates).
    /// `fit` calls it after each optimizer step; call it after each step of
    /// a custom training loop that runs the model in [`Mode::Train`](crate::layers::Mode::Train).
    ///
    /// # Errors
    ///
    /// [`Error::Layer`] naming the first layer whose pending state is not
    /// finite; that layer and the later ones are left unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    /// use tapeflow::layers::BatchNormalization;
    ///
    /// let mut model = Sequential::new(&[2]).add(BatchNormalization::new().momentum(0.0));
    /// model.build()?;
    /// let tape = GradientTape::new();
    /// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 2])?;
    /// model.forward(&tape, &x, Mode::Train)?;
    /// model.apply_state_updates()?;
    /// assert_eq!(model.params()[2].value().to_vec(), vec![2.0, 4.0]);   // the batch mean
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn apply_state_updates(&mut self) -> Result<()> {
        for (position, layer) in self.layers.iter_mut().enumerate() {
            layer.apply_state_updates().map_err(|e| match e {
                Error::Layer {
                    layer,
                    kind,
                    source,
                    ..
                } => Error::Layer {
                    layer,
                    kind,
                    position: Some(position),
                    source,
                },
                other => other,
            })?;
        }
        Ok(())
    }
}

/// The shuffling seed of one epoch: the run's seed mixed with the epoch
/// number (a Weyl step), so that every epoch gets its own order.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
