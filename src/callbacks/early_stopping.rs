//! [`EarlyStopping`]: stop training when a monitored value stops improving.

use super::{Callback, Logs, MonitorMode, TrainingContext, monitored};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

// The hidden part of the setters' doc examples: a mock training loop
// (`Ctx`) and `run`, which feeds values to an `EarlyStopping` through it.
macro_rules! doc_run {
    () => {
        concat!(
            doc_mock_ctx!(),
            "# fn run(mut es: EarlyStopping, monitor: &str, values: &[f64]) -> Result<(EarlyStopping, Ctx)> {\n",
            "#     let mut ctx = Ctx::default();\n",
            "#     es.on_train_begin(&mut ctx)?;\n",
            "#     for (epoch, &value) in values.iter().enumerate() {\n",
            "#         ctx.weights = vec![Tensor::scalar(epoch as f32)];\n",
            "#         let mut logs = Logs::default();\n",
            "#         logs.push(monitor, value);\n",
            "#         es.on_epoch_end(epoch, &logs, &mut ctx)?;\n",
            "#         if ctx.should_stop() { break; }\n",
            "#     }\n",
            "#     es.on_train_end(&mut ctx)?;\n",
            "#     Ok((es, ctx))\n",
            "# }\n",
        )
    };
}

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
/// [`on_train_begin`](Callback::on_train_begin) returns
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a NaN or
/// infinite `min_delta` or `baseline`, naming the setting and the value.
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // Defaults: watch `val_loss`, stop at the first epoch that does not improve.
    /// let (es, _) = run(EarlyStopping::new(), "val_loss", &[0.9, 0.7, 0.8, 0.6])?;
    /// assert_eq!(es.stopped_epoch(), Some(2));
    /// assert_eq!(es.best(), Some(0.7));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
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
    ///
    /// A name missing from an epoch's logs makes
    /// [`on_epoch_end`](Callback::on_epoch_end) return an error listing the
    /// names that are there.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // An accuracy is maximised, so the drop at epoch 2 stops training.
    /// let es = EarlyStopping::new().monitor("val_accuracy");
    /// let (es, _) = run(es, "val_accuracy", &[0.6, 0.8, 0.7])?;
    /// assert_eq!(es.stopped_epoch(), Some(2));
    /// assert_eq!(es.best(), Some(0.8));
    /// // A misspelt monitor is an error, not a callback that never fires.
    /// let err = run(EarlyStopping::new().monitor("val_acc"), "val_accuracy", &[0.6]);
    /// assert!(err.is_err_and(|e| e.to_string().contains("available: [val_accuracy]")));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    /// The smallest change that counts as an improvement; its sign is
    /// ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // 0.95 beats 1.0 by less than 0.1: no improvement, so training stops.
    /// let (es, _) = run(EarlyStopping::new().min_delta(0.1), "val_loss", &[1.0, 0.95])?;
    /// assert_eq!(es.stopped_epoch(), Some(1));
    /// let (es, _) = run(EarlyStopping::new().min_delta(-0.01), "val_loss", &[1.0, 0.95])?;
    /// assert_eq!(es.stopped_epoch(), None);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// How many epochs without improvement to wait before stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// let es = EarlyStopping::new().patience(2);
    /// let (es, _) = run(es, "val_loss", &[1.0, 1.1, 1.2, 1.3])?;
    /// assert_eq!(es.stopped_epoch(), Some(2)); // the second epoch without improving
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether the monitored value should go down or up.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::{EarlyStopping, MonitorMode};
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // `Auto` minimises a name like "score"; `Max` says higher is better.
    /// let scores = [1.0, 2.0, 3.0, 2.5];
    /// let (auto, _) = run(EarlyStopping::new().monitor("score"), "score", &scores)?;
    /// assert_eq!(auto.stopped_epoch(), Some(1));
    /// let es = EarlyStopping::new().monitor("score").mode(MonitorMode::Max);
    /// let (max, _) = run(es, "score", &scores)?;
    /// assert_eq!((max.stopped_epoch(), max.best()), (Some(3), Some(3.0)));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the monitor must beat for the wait count to reset.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // Improvements that do not reach 0.5 do not reset the wait count.
    /// let losses = [0.9, 0.8, 0.85];
    /// let (plain, _) = run(EarlyStopping::new().patience(2), "val_loss", &losses)?;
    /// assert_eq!(plain.stopped_epoch(), None);
    /// let es = EarlyStopping::new().patience(2).baseline(0.5);
    /// let (with_baseline, _) = run(es, "val_loss", &losses)?;
    /// assert_eq!(with_baseline.stopped_epoch(), Some(2));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to put the best epoch's weights back at the end of training.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// let losses = [0.9, 0.5, 0.7];
    /// let (_, ctx) = run(EarlyStopping::new(), "val_loss", &losses)?;
    /// assert_eq!(ctx.weights[0].item()?, 2.0); // the last epoch's weights
    /// let (es, ctx) = run(EarlyStopping::new().restore_best_weights(true), "val_loss", &losses)?;
    /// assert_eq!(es.best_epoch(), Some(1));
    /// assert_eq!(ctx.weights[0].item()?, 1.0); // the best epoch's weights
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// How many epochs to train before watching the monitor (a warm-up).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// // Epochs 0 and 1 are a warm-up: their losses are not watched.
    /// let losses = [0.5, 0.6, 0.4, 0.45];
    /// let (es, _) = run(EarlyStopping::new().start_from_epoch(2), "val_loss", &losses)?;
    /// assert_eq!(es.stopped_epoch(), Some(3));
    /// assert_eq!(es.best_epoch(), Some(2));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch at which this callback asked training to stop, if it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// let (es, _) = run(EarlyStopping::new(), "val_loss", &[0.9, 0.8, 0.7])?;
    /// assert_eq!(es.stopped_epoch(), None); // ran out of epochs, never stopped
    /// let (es, _) = run(EarlyStopping::new(), "val_loss", &[0.9, 0.8, 0.85, 0.7])?;
    /// assert_eq!(es.stopped_epoch(), Some(2));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The best monitored value seen, if any epoch improved.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// let (es, _) = run(EarlyStopping::new().patience(5), "val_loss", &[0.9, 0.4, 0.6])?;
    /// assert_eq!(es.best(), Some(0.4));
    /// let (es, _) = run(EarlyStopping::new(), "val_loss", &[f64::NAN, f64::NAN])?;
    /// assert_eq!(es.best(), None); // a NaN never improves
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The epoch of the best value (or, with `restore_best_weights`, of the
    /// weights that will be restored).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::EarlyStopping;
    #[doc = doc_run!()]
    /// // `run` (hidden) feeds `values` under `monitor` to `es`, one epoch at a
    /// // time, in a mock training loop whose weights at epoch `e` are `[e]`;
    /// // it returns `es` and the mock once `es` stops it or the values run out.
    ///
    /// let (es, _) = run(EarlyStopping::new().patience(5), "val_loss", &[0.9, 0.4, 0.6])?;
    /// assert_eq!(es.best_epoch(), Some(1));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    fn is_improvement(&self, value: f64, reference: Option<f64>) -> bool {
        self.mode
            .improves(&self.monitor, value, reference, self.min_delta.abs())
    }
}

impl<T: Float> Callback<T> for EarlyStopping<T> {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        if !self.min_delta.is_finite() {
            return Err(Error::InvalidArgument {
                op: "EarlyStopping",
                message: format!("min_delta must be finite, got {}", self.min_delta),
            });
        }
        if let Some(b) = self.baseline.filter(|b| !b.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "EarlyStopping",
                message: format!("baseline must be finite, got {b}"),
            });
        }
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
