//! One epoch of `fit`: batches, the training step on each, and the
//! context through which callbacks see and steer the loop.

use super::Sequential;
use super::guard::StepGuard;
use super::progress::Progress;
use crate::callbacks::{Callback, Logs, TrainingContext};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::layers::Mode;
use crate::tape::GradientTape;
use crate::tensor::Tensor;

/// The training loop as callbacks see it.
pub(super) struct Context<'m, T: Float> {
    pub(super) model: &'m mut Sequential<T>,
    pub(super) stop: bool,
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

/// The multiply-adds from which `fit` runs a step on the pool
/// ([`in_pool`](crate::in_pool)). Entering the pool costs one hand-over
/// of the step to a pool thread and back (two wake-ups, ~20 µs each on the
/// machine of docs/performance.md); 2^20 multiply-adds take ~20 µs on one
/// core, so below this a second thread cannot win back what the hand-over
/// costs. An estimate from those two figures, like the matmul's threshold
/// in `element.rs`.
const POOL_MIN_WORK: usize = 1 << 20;

/// Where a step is in training, for its errors.
#[derive(Clone, Copy)]
struct At {
    epoch: usize,
    batch: usize,
}

/// One training step: the forward pass and the loss on a new tape, then,
/// if the loss is finite, its gradient and the optimizer's update (through
/// `guard`). Returns the loss and the prediction; a non-finite loss is
/// returned without any update, for the caller to report.
fn train_step<T: Float>(
    model: &mut Sequential<T>,
    xb: &Tensor<T>,
    yb: &Tensor<T>,
    wb: Option<&Tensor<T>>,
    logits: Option<&crate::models::logits::LogitsLoss<T>>,
    guard: &mut StepGuard<T>,
    at: At,
) -> Result<(f64, Tensor<T>)> {
    // The tape lives in this block only, so it is gone before the update: a
    // tape still holding the parameters would make the optimizer copy them
    // (copy on write).
    let (value, pred, grads) = {
        let model = &*model;
        let compiled = model
            .compiled
            .as_ref()
            .expect("invariant: fit checked compile");
        let tape = GradientTape::new();
        let (pred, per) =
            model.forward_loss(&tape, xb, yb, Mode::Train, compiled.loss.as_ref(), logits)?;
        let data_loss = match wb {
            Some(w) => per.mul(&tape.constant(w))?.mean(),
            None => per.mean(),
        };
        let total = match model.regularization(&tape)? {
            Some(r) => data_loss.add(&r)?,
            None => data_loss,
        };
        let value = total.value().item()?.to_f64();
        if !value.is_finite() {
            return Ok((value, pred.value()));
        }
        let grads = tape.gradient(&total, model.trainable_params())?;
        (value, pred.value(), grads)
    };
    guard.apply(model, &grads, at.epoch, at.batch)?;
    Ok((value, pred))
}

impl<T: Float> Context<'_, T> {
    /// One epoch of training; `None` if a callback stopped training because
    /// the loss was not finite (the weights from before are kept). The
    /// batches are `order` in chunks of `batch_size`; `in_order` says that
    /// `order` is `0..n` (not shuffled).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn train_epoch(
        &mut self,
        epoch: usize,
        x: &Tensor<T>,
        y: &Tensor<T>,
        weights: Option<&[T]>,
        order: &[usize],
        in_order: bool,
        batch_size: usize,
        callbacks: &mut [Box<dyn Callback<T>>],
        progress: &mut Progress,
        adversarial: Option<&crate::adversarial::AdversarialTraining>,
    ) -> Result<Option<Logs>> {
        let mut states = self.model.metric_states(y.shape())?;
        let logits = self.model.compiled.as_ref().and_then(|c| {
            crate::models::logits::LogitsLoss::for_model(self.model, c.loss.as_ref())
        });
        let logits = logits.as_ref();
        let mut guard = StepGuard::default();
        // The step runs on the pool when its products are large enough to
        // split (see `in_pool`): about 3 multiply-adds per parameter and row
        // (forward, and the two products of the backward pass).
        let params: usize = self
            .model
            .trainable_params()
            .iter()
            .map(|p| p.value().len())
            .sum();
        let pooled = params.saturating_mul(batch_size).saturating_mul(3) >= POOL_MIN_WORK;
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut logs = Logs::default();
        // `chunks` yields non-empty batches (`rows[0]` exists) of row
        // indices below `n_train`; `weights` has one entry per row of `x`.
        // `in_order`: `order` is `0..n_train` (not shuffled), so every batch
        // is a run of rows, taken as a view (no O(n) check per epoch).
        let contiguous = in_order;
        for (batch, rows) in order.chunks(batch_size).enumerate() {
            let (xb, yb) = if contiguous {
                let r = rows[0]..rows[0] + rows.len();
                (x.slice_rows(r.clone())?, y.slice_rows(r)?)
            } else {
                (x.select_rows(rows)?, y.select_rows(rows)?)
            };
            let wb = weights.map(|w| {
                // invariant: `rows` index the data's rows, and `w` has one per row.
                Tensor::from_parts(rows.iter().map(|&i| w[i]).collect(), vec![rows.len()])
            });
            let xb = match adversarial {
                Some(a) => self.model.adversarial_batch(a, &xb, &yb, epoch, batch)?,
                None => xb,
            };
            let at = At { epoch, batch };
            let model = &mut *self.model;
            let guard = &mut guard;
            let (value, p) = if pooled {
                crate::in_pool(|| train_step(model, &xb, &yb, wb.as_ref(), logits, guard, at))?
            } else {
                train_step(model, &xb, &yb, wb.as_ref(), logits, guard, at)?
            };
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
            // Moving statistics (BatchNormalization) follow a committed step only.
            self.model.apply_state_updates()?;
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
