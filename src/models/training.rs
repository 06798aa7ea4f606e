//! `compile`, `fit`, `evaluate`, `predict`: the Keras training API on
//! [`Sequential`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::progress::Progress;
use super::{FitOptions, History, Sequential};
use crate::callbacks::{Callback, Logs, TrainingContext};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::layers::Mode;
use crate::losses::Loss;
use crate::metrics::{Metric, MetricState};
use crate::optimizers::Optimizer;
use crate::tape::GradientTape;
use crate::tensor::Tensor;

/// What `compile` fixed: the optimizer (with its state), the loss, the
/// metrics, and the history of every `fit` so far.
pub(crate) struct Compiled<T: Float> {
    pub optimizer: Box<dyn Optimizer<T>>,
    pub loss: Box<dyn Loss<T>>,
    pub metrics: Vec<Metric>,
    pub history: History,
}

/// The training loop as callbacks see it.
struct Context<'m, T: Float> {
    model: &'m mut Sequential<T>,
    stop: bool,
}

impl<T: Float> TrainingContext<T> for Context<'_, T> {
    fn stop_training(&mut self) {
        self.stop = true;
    }
    fn should_stop(&self) -> bool {
        self.stop
    }
    fn learning_rate(&self) -> f64 {
        self.model
            .compiled
            .as_ref()
            .map_or(0.0, |c| c.optimizer.learning_rate())
    }
    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "set_learning_rate",
                message: format!("the learning rate must be finite and >= 0, got {rate}"),
            });
        }
        if let Some(c) = self.model.compiled.as_mut() {
            c.optimizer.set_learning_rate(rate);
        }
        Ok(())
    }
    fn get_weights(&self) -> Vec<Tensor<T>> {
        self.model.get_weights()
    }
    fn set_weights(&mut self, weights: Vec<Tensor<T>>) -> Result<()> {
        self.model.set_weights(weights)
    }
    fn save(&self, path: &std::path::Path) -> Result<()> {
        self.model.save(path)
    }
    fn save_weights(&self, path: &std::path::Path) -> Result<()> {
        self.model.save_weights(path)
    }
}

/// Per-row weights from `sample_weight` and `class_weight`, or `None` when
/// every row weighs 1.
fn row_weights<T: Float>(
    y: &Tensor<T>,
    sample_weight: Option<&Tensor<T>>,
    class_weight: Option<&std::collections::HashMap<usize, f64>>,
) -> Option<Vec<T>> {
    if sample_weight.is_none() && class_weight.is_none() {
        return None;
    }
    let n = y.shape()[0];
    let mut w: Vec<T> = match sample_weight {
        Some(s) => s.to_vec(),
        None => vec![T::one(); n],
    };
    if let Some(cw) = class_weight {
        let row_len = y.len() / n.max(1);
        for (i, wi) in w.iter_mut().enumerate() {
            let row = &y.as_slice()[i * row_len..(i + 1) * row_len];
            // Sparse label, or the argmax of a one-hot / probability row.
            let class = if row_len == 1 {
                row[0].to_f64().max(0.0) as usize
            } else {
                (0..row_len).fold(0, |b, j| if row[j] > row[b] { j } else { b })
            };
            if let Some(&c) = cw.get(&class) {
                *wi *= T::from_f64(c);
            }
        }
    }
    Some(w)
}

impl<T: Float> Sequential<T> {
    /// Fixes the optimizer, the loss and the metrics for training, and
    /// builds the model. `Metric::Accuracy` is resolved from the loss as in
    /// Keras. Compiling again replaces all three (and resets the optimizer).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build); and if a metric cannot be resolved for the loss.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::<f32>::new(&[1]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), MeanSquaredError, &[Metric::MeanAbsoluteError])?;
    /// assert!(model.is_built());
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
    /// assert!(!Sequential::<f32>::new(&[1]).is_compiled());
    /// ```
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
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
    /// let model = Sequential::<f32>::new(&[1]);
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
    /// the row); `batch_size` is 0; `validation_split` is outside `[0, 1)`
    /// or leaves no rows; `sample_weight` has the wrong length.
    /// During training: if the loss becomes NaN or infinite
    /// ([`Error::NonFiniteLoss`], naming epoch and batch; the weights from
    /// before that batch are kept) unless a callback such as
    /// `TerminateOnNan` stops training first; and any error of a layer,
    /// the loss, the optimizer or a callback.
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
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                op: "fit",
                message: "batch_size must be at least 1, got 0".to_string(),
            });
        }
        if !(0.0..1.0).contains(&validation_split) {
            return Err(Error::InvalidArgument {
                op: "fit",
                message: format!("validation_split must be in [0, 1), got {validation_split}"),
            });
        }
        let n = self.check_data("fit", x, y)?;
        let sparse = self
            .compiled
            .as_ref()
            .is_some_and(|c| c.loss.name().starts_with("sparse"));
        if sparse {
            self.check_sparse_labels("fit", y)?;
        }
        if let Some(w) = &sample_weight {
            if w.len() != n || w.ndim() != 1 {
                return Err(Error::InvalidArgument {
                    op: "fit",
                    message: format!("sample_weight must have shape [{n}], got {:?}", w.shape()),
                });
            }
            super::checks::check_finite("fit", "sample_weight", w)?;
        }
        if let Some(a) = &adversarial {
            a.check(validation_data.is_some() || validation_split > 0.0)?;
        }
        let weights = row_weights(y, sample_weight.as_ref(), class_weight.as_ref());

        // Validation rows: given, or the last `validation_split` of the data.
        let (n_train, validation) = match validation_data {
            Some((vx, vy)) => {
                self.check_data("fit (validation_data)", &vx, &vy)?;
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
            if shuffle {
                // Each epoch's order depends on the seed and the epoch number
                // alone, so a run resumed at `initial_epoch` shuffles exactly
                // as the uninterrupted run did.
                order = (0..n_train).collect();
                order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(shuffle_seed, epoch)));
            }
            let logs = ctx.train_epoch(
                epoch,
                &x,
                &y,
                weights.as_deref(),
                &order,
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

/// The shuffling seed of one epoch: the run's seed mixed with the epoch
/// number (a Weyl step), so that every epoch gets its own order.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl<T: Float> Context<'_, T> {
    /// One epoch of training; `None` if a callback stopped training because
    /// the loss was not finite (the weights from before are kept).
    #[allow(clippy::too_many_arguments)]
    fn train_epoch(
        &mut self,
        epoch: usize,
        x: &Tensor<T>,
        y: &Tensor<T>,
        weights: Option<&[T]>,
        order: &[usize],
        batch_size: usize,
        callbacks: &mut [Box<dyn Callback<T>>],
        progress: &mut Progress,
        adversarial: Option<&crate::adversarial::AdversarialTraining>,
    ) -> Result<Option<Logs>> {
        let mut states = self.model.metric_states(y.shape())?;
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut logs = Logs::default();
        let contiguous = order.windows(2).all(|w| w[1] == w[0] + 1);
        for (batch, rows) in order.chunks(batch_size).enumerate() {
            let (xb, yb) = if contiguous {
                let r = rows[0]..rows[0] + rows.len();
                (x.slice_rows(r.clone())?, y.slice_rows(r)?)
            } else {
                (x.select_rows(rows)?, y.select_rows(rows)?)
            };
            let wb = weights.map(|w| {
                Tensor::from_parts(rows.iter().map(|&i| w[i]).collect(), vec![rows.len()])
            });
            let model = &*self.model;
            let compiled = model
                .compiled
                .as_ref()
                .expect("invariant: fit checked compile");
            let xb = match adversarial {
                Some(a) => model.adversarial_batch(a, &xb, &yb, epoch, batch)?,
                None => xb,
            };
            let tape = GradientTape::new();
            let pred = model.forward(&tape, &xb, Mode::Train)?;
            let per = compiled.loss.per_sample(pred, tape.constant(&yb))?;
            let data_loss = match &wb {
                Some(w) => per.mul(&tape.constant(w))?.mean(),
                None => per.mean(),
            };
            let mut total = data_loss;
            for layer in &model.layers {
                if let Some(r) = layer.regularization_loss(&tape)? {
                    total = total.add(&r)?;
                }
            }
            let value = total.value().item()?.to_f64();
            loss_sum += value * rows.len() as f64;
            seen += rows.len();
            logs.push("loss", loss_sum / seen as f64);
            if !value.is_finite() {
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(batch, &logs, self)?;
                }
                if self.stop {
                    return Ok(None);
                }
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch,
                    value,
                });
            }
            let grads = tape.gradient(&total, model.trainable_params())?;
            let p = pred.value();
            drop(tape);
            let model = &mut *self.model;
            let compiled = model
                .compiled
                .as_mut()
                .expect("invariant: fit checked compile");
            let mut params: Vec<_> = model
                .layers
                .iter_mut()
                .flat_map(|l| l.params_mut())
                .collect();
            compiled.optimizer.apply_gradients(&grads, &mut params)?;
            for s in states.iter_mut() {
                s.update(&p, &yb, wb.as_ref())?;
                logs.push(s.name(), s.result());
            }
            progress.batch_end(batch, &logs);
            for cb in callbacks.iter_mut() {
                cb.on_batch_end(batch, &logs, self)?;
            }
            if self.stop {
                break;
            }
        }
        Ok(Some(logs))
    }
}
