//! [`ReduceLrOnPlateau`]: lower the learning rate when a monitored value
//! stops improving.

use super::{Callback, Logs, MonitorMode, TrainingContext, monitored};
use crate::element::Float;
use crate::error::{Error, Result};

// The hidden part of the setters' doc examples: a mock training loop
// (`Ctx`) and `rates`, which feeds values to a `ReduceLrOnPlateau` through it.
macro_rules! doc_rates {
    () => {
        concat!(
            doc_mock_ctx!(),
            "# fn rates(mut cb: ReduceLrOnPlateau, monitor: &str, values: &[f64]) -> Result<Vec<f64>> {\n",
            "#     let mut ctx = Ctx { lr: 0.1, ..Ctx::default() };\n",
            "#     Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?;\n",
            "#     let mut rates = Vec::new();\n",
            "#     for (epoch, &value) in values.iter().enumerate() {\n",
            "#         let mut logs = Logs::default();\n",
            "#         logs.push(monitor, value);\n",
            "#         Callback::<f32>::on_epoch_end(&mut cb, epoch, &logs, &mut ctx)?;\n",
            "#         rates.push(ctx.lr);\n",
            "#     }\n",
            "#     Ok(rates)\n",
            "# }\n",
        )
    };
}

/// Multiplies the learning rate by `factor` when a monitored value has not
/// improved for `patience` epochs (Keras's `ReduceLROnPlateau`).
///
/// At each epoch's end: during a cooldown, the cooldown count goes down by
/// one and the wait count is reset. A value counts as an improvement when
/// `value < best - min_delta` (minimising; `value > best + min_delta` when
/// maximising); it becomes the best and resets the wait count. Otherwise,
/// outside a cooldown, the wait count goes up, and when it reaches
/// `patience` the rate becomes `max(rate * factor, min_lr)` — unless it is
/// already at `min_lr` — a cooldown of `cooldown` epochs starts and the wait
/// count is reset.
///
/// Defaults (Keras's): monitor `"val_loss"`, `factor` 0.1, `patience` 10,
/// mode [`Auto`](MonitorMode::Auto), `min_delta` 1e-4, `cooldown` 0,
/// `min_lr` 0. One difference from Keras: `Auto` uses the rule of
/// [`MonitorMode`] (maximise `acc`, `auc`, `precision`, `recall`), where
/// Keras's `ReduceLROnPlateau` maximises only names containing `acc`.
/// A rate counts as already at `min_lr` when it equals `min_lr` in `f32`,
/// so an `f32` optimizer that rounded `min_lr` is not "reduced" again.
///
/// # Errors
///
/// - [`on_train_begin`](Callback::on_train_begin): [`Error::InvalidArgument`]
///   if `factor` is not in `[0, 1)` (or NaN), `min_delta` is not finite, or
///   `min_lr` is negative or not finite, naming the setting and the value.
/// - [`on_epoch_end`](Callback::on_epoch_end): [`Error::InvalidArgument`]
///   naming the monitor and the names available when the monitor is not in
///   the logs (Keras only warns); errors from
///   [`TrainingContext::set_learning_rate`] are passed on.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, Logs, ReduceLrOnPlateau};
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
/// let mut ctx = Ctx { lr: 0.1, ..Ctx::default() };
/// let mut cb = ReduceLrOnPlateau::new().monitor("loss").factor(0.5).patience(2);
/// Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?;
/// let mut rates = Vec::new();
/// for (epoch, loss) in [1.0, 0.8, 0.8, 0.8, 0.8, 0.8].into_iter().enumerate() {
///     let mut logs = Logs::default();
///     logs.push("loss", loss);
///     cb.on_epoch_end(epoch, &logs, &mut ctx)?;
///     rates.push(ctx.lr);
/// }
/// // Halved after each two epochs without improvement.
/// assert_eq!(rates, [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    monitor: String,
    factor: f64,
    patience: usize,
    mode: MonitorMode,
    min_delta: f64,
    cooldown: usize,
    min_lr: f64,
    best: f64,
    wait: usize,
    cooldown_counter: usize,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceLrOnPlateau {
    /// Plateau reduction with Keras's defaults (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// // Defaults: watch `val_loss`; after 10 epochs without improving, rate * 0.1.
    /// let r = rates(ReduceLrOnPlateau::new(), "val_loss", &[1.0; 12])?;
    /// assert_eq!(r[..10], [0.1; 10]);
    /// assert!((r[10] - 0.01).abs() < 1e-12);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new() -> Self {
        ReduceLrOnPlateau {
            monitor: "val_loss".to_string(),
            factor: 0.1,
            patience: 10,
            mode: MonitorMode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: f64::INFINITY,
            wait: 0,
            cooldown_counter: 0,
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
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// // An accuracy is maximised: it stalls at epoch 2, so the rate drops.
    /// let cb = ReduceLrOnPlateau::new().monitor("val_accuracy").patience(1).factor(0.5);
    /// assert_eq!(rates(cb, "val_accuracy", &[0.5, 0.6, 0.6])?, [0.1, 0.1, 0.05]);
    /// // A misspelt monitor is an error, not a callback that never fires.
    /// let cb = ReduceLrOnPlateau::new().monitor("val_acc");
    /// assert!(rates(cb, "val_accuracy", &[0.5]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    /// The factor the rate is multiplied by, in `[0, 1)`.
    ///
    /// A factor outside `[0, 1)` makes
    /// [`on_train_begin`](Callback::on_train_begin) return
    /// [`Error::InvalidArgument`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// let cb = ReduceLrOnPlateau::new().patience(1).factor(0.5);
    /// assert_eq!(rates(cb, "val_loss", &[1.0, 1.0, 1.0])?, [0.1, 0.05, 0.025]);
    /// let cb = ReduceLrOnPlateau::new().factor(1.0); // would never lower the rate
    /// assert!(rates(cb, "val_loss", &[1.0]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// How many epochs without improvement before the rate is lowered.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// let cb = ReduceLrOnPlateau::new().patience(3).factor(0.5);
    /// let r = rates(cb, "val_loss", &[1.0; 5])?;
    /// assert_eq!(r, [0.1, 0.1, 0.1, 0.05, 0.05]); // lowered at the third stalled epoch
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
    /// use tapeflow::callbacks::{MonitorMode, ReduceLrOnPlateau};
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// // `Auto` minimises a name like "score"; `Max` says higher is better.
    /// let cb = ReduceLrOnPlateau::new().monitor("score").patience(1).factor(0.5);
    /// let scores = [1.0, 2.0, 3.0];
    /// assert_eq!(rates(cb.clone(), "score", &scores)?, [0.1, 0.05, 0.025]);
    /// let cb = cb.mode(MonitorMode::Max);
    /// assert_eq!(rates(cb, "score", &scores)?, [0.1, 0.1, 0.1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// // Gains of 0.01 count with the default 1e-4, not with 0.05.
    /// let cb = ReduceLrOnPlateau::new().patience(1).factor(0.5);
    /// let losses = [1.0, 0.99, 0.98];
    /// assert_eq!(rates(cb.clone(), "val_loss", &losses)?, [0.1, 0.1, 0.1]);
    /// let cb = cb.min_delta(0.05);
    /// assert_eq!(rates(cb, "val_loss", &losses)?, [0.1, 0.05, 0.025]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// How many epochs to wait after a reduction before counting again.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// // A cooldown of 2: the epoch after each reduction does not count (the
    /// // cooldown ends during the second, which counts again, as in Keras).
    /// let cb = ReduceLrOnPlateau::new().patience(1).factor(0.5).cooldown(2);
    /// let r = rates(cb, "val_loss", &[1.0; 5])?;
    /// assert_eq!(r, [0.1, 0.05, 0.05, 0.025, 0.025]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate is never lowered below this.
    ///
    /// A negative or non-finite `min_lr` makes
    /// [`on_train_begin`](Callback::on_train_begin) return
    /// [`Error::InvalidArgument`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::ReduceLrOnPlateau;
    #[doc = doc_rates!()]
    /// // `rates` (hidden) feeds `values` under `monitor` to `cb`, one epoch at
    /// // a time, in a mock training loop starting at rate 0.1, and returns the
    /// // rate after each epoch.
    ///
    /// let cb = ReduceLrOnPlateau::new().patience(1).factor(0.5).min_lr(0.03);
    /// assert_eq!(rates(cb, "val_loss", &[1.0; 4])?, [0.1, 0.05, 0.03, 0.03]);
    /// let cb = ReduceLrOnPlateau::new().min_lr(-1.0);
    /// assert!(rates(cb, "val_loss", &[1.0]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    fn maximizes(&self) -> bool {
        self.mode.maximizes(&self.monitor)
    }

    fn is_improvement(&self, value: f64) -> bool {
        self.mode
            .improves(&self.monitor, value, Some(self.best), self.min_delta)
    }

    fn at_floor(&self, rate: f64) -> bool {
        rate <= self.min_lr || rate as f32 <= self.min_lr as f32
    }
}

impl<T: Float> Callback<T> for ReduceLrOnPlateau {
    fn on_train_begin(&mut self, _ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        if !(0.0..1.0).contains(&self.factor) {
            return Err(Error::InvalidArgument {
                op: "ReduceLrOnPlateau",
                message: format!("factor must be in [0, 1), got {}", self.factor),
            });
        }
        if !self.min_delta.is_finite() {
            return Err(Error::InvalidArgument {
                op: "ReduceLrOnPlateau",
                message: format!("min_delta must be finite, got {}", self.min_delta),
            });
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "ReduceLrOnPlateau",
                message: format!(
                    "min_lr must be finite and non-negative, got {}",
                    self.min_lr
                ),
            });
        }
        self.best = if self.maximizes() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        self.wait = 0;
        self.cooldown_counter = 0;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        let current = monitored("ReduceLrOnPlateau", &self.monitor, logs)?;
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.is_improvement(current) {
            self.best = current;
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let old = ctx.learning_rate();
                if !self.at_floor(old) {
                    ctx.set_learning_rate((old * self.factor).max(self.min_lr))?;
                    self.cooldown_counter = self.cooldown;
                    self.wait = 0;
                }
            }
        }
        Ok(())
    }
}
