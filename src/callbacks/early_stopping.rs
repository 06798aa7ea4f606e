//! [`EarlyStopping`]: stop training when a monitored value stops improving.

use super::{Callback, Logs, MonitorMode, TrainingContext, monitored};
use crate::element::Float;
use crate::error::Result;
use crate::tensor::Tensor;

/// Stops training when a monitored value has stopped improving (Keras's
/// `EarlyStopping`).
///
/// At each epoch's end, from epoch `start_from_epoch` on, the monitored
/// value counts as an improvement when it beats the best so far by more than
/// `min_delta` (`value < best - min_delta` when minimising, `value > best +
/// min_delta` when maximising; the first value always counts, a NaN never
/// does). Each epoch without an improvement adds one to a wait count; an
/// improvement resets it, unless a `baseline` is set and the value does not
/// also beat the baseline. Training stops when the wait count reaches
/// `patience` at an epoch after epoch 0 that did not improve.
///
/// With `restore_best_weights`, the weights at the end of the best epoch are
/// kept and put back into the model at the end of training — whether it
/// stopped early or ran all its epochs, as Keras 3 does. When no epoch
/// improved (a NaN from the start), the weights of the first monitored epoch
/// are restored.
///
/// Defaults (Keras's): monitor `"val_loss"`, `min_delta` 0, `patience` 0,
/// mode [`Auto`](MonitorMode::Auto), no baseline, `restore_best_weights`
/// false, `start_from_epoch` 0.
///
/// # Errors
///
/// [`on_epoch_end`](Callback::on_epoch_end) returns
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the
/// monitor and the names available when the monitor is not in the epoch's
/// logs (Keras only warns). Errors from
/// [`TrainingContext::set_weights`] are passed on.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, EarlyStopping, Logs};
/// # use tapeflow::{Result, Tensor};
/// # use tapeflow::callbacks::TrainingContext;
/// # #[derive(Default)]
/// # struct Ctx { stop: bool, lr: f64, weights: Vec<Tensor> }
/// # impl TrainingContext for Ctx {
/// #     fn stop_training(&mut self) { self.stop = true }
/// #     fn should_stop(&self) -> bool { self.stop }
/// #     fn learning_rate(&self) -> f64 { self.lr }
/// #     fn set_learning_rate(&mut self, lr: f64) -> Result<()> { self.lr = lr; Ok(()) }
/// #     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }
/// #     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }
/// #     fn save(&self, _: &std::path::Path) -> Result<()> { Ok(()) }
/// # }
///
/// // `Ctx` is a stand-in for the training loop (hidden here).
/// let mut ctx = Ctx::default();
/// let mut es = EarlyStopping::new().patience(2).restore_best_weights(true);
/// es.on_train_begin(&mut ctx)?;
/// for (epoch, val_loss) in [0.9, 0.5, 0.6, 0.7, 0.4].into_iter().enumerate() {
///     ctx.weights = vec![Tensor::scalar(epoch as f32)];
///     let mut logs = Logs::default();
///     logs.push("val_loss", val_loss);
///     es.on_epoch_end(epoch, &logs, &mut ctx)?;
///     if ctx.should_stop() {
///         break;
///     }
/// }
/// es.on_train_end(&mut ctx)?;
/// assert_eq!(es.stopped_epoch(), Some(3)); // two epochs without improving on 0.5
/// assert_eq!(es.best(), Some(0.5));
/// assert_eq!(es.best_epoch(), Some(1));
/// assert_eq!(ctx.weights[0].item()?, 1.0); // epoch 1's weights are back
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct EarlyStopping<T: Float = f32> {
    monitor: String,
    min_delta: f64,
    patience: usize,
    mode: MonitorMode,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    wait: usize,
    best: Option<f64>,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
    best_weights: Option<Vec<Tensor<T>>>,
}

impl<T: Float> Default for EarlyStopping<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> EarlyStopping<T> {
    /// Early stopping with Keras's defaults (see the type's docs).
    pub fn new() -> Self {
        EarlyStopping {
            monitor: "val_loss".to_string(),
            min_delta: 0.0,
            patience: 0,
            mode: MonitorMode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            wait: 0,
            best: None,
            best_epoch: None,
            stopped_epoch: None,
            best_weights: None,
        }
    }

    /// The logged value to watch, e.g. `"loss"` or `"val_accuracy"`.
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    /// The smallest change that counts as an improvement; its sign is
    /// ignored.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// How many epochs without improvement to wait before stopping.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether the monitored value should go down or up.
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the monitor must beat for the wait count to reset.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to put the best epoch's weights back at the end of training.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// How many epochs to train before watching the monitor (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch at which this callback asked training to stop, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The best monitored value seen, if any epoch improved.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The epoch of the best value (or, with `restore_best_weights`, of the
    /// weights that will be restored).
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    fn is_improvement(&self, value: f64, reference: Option<f64>) -> bool {
        let Some(reference) = reference else {
            return !value.is_nan();
        };
        if self.mode.maximizes(&self.monitor) {
            value - self.min_delta > reference
        } else {
            value + self.min_delta < reference
        }
    }
}

impl<T: Float> Callback<T> for EarlyStopping<T> {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        // Reset, so one instance can serve several calls to `fit`.
        self.wait = 0;
        self.best = None;
        self.best_epoch = None;
        self.stopped_epoch = None;
        self.best_weights = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        let current = monitored("EarlyStopping", &self.monitor, logs)?;
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(ctx.get_weights());
            self.best_epoch = Some(epoch);
        }
        self.wait += 1;
        if self.is_improvement(current, self.best) {
            self.best = Some(current);
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(ctx.get_weights());
            }
            if self.baseline.is_none() || self.is_improvement(current, self.baseline) {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            ctx.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        match self.best_weights.take() {
            Some(weights) if self.restore_best_weights => ctx.set_weights(weights),
            _ => Ok(()),
        }
    }
}
