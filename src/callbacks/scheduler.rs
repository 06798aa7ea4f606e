//! [`LearningRateScheduler`]: the learning rate as a function of the epoch.

use super::{Callback, TrainingContext};
use crate::element::Float;
use crate::error::{Error, Result};

/// Sets the learning rate at the start of each epoch to
/// `schedule(epoch, current_rate)` (Keras's `LearningRateScheduler`).
///
/// Epochs count from 0. The schedule sees the current rate, so it can decay
/// it step by step (`|_, lr| lr * 0.9`) or compute it from the epoch alone.
///
/// # Errors
///
/// [`on_epoch_begin`](Callback::on_epoch_begin) returns
/// [`Error::InvalidArgument`] naming the epoch if the schedule returns a
/// negative or non-finite rate.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, LearningRateScheduler};
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
/// // Keep the rate for two epochs, then halve it each epoch.
/// let mut cb = LearningRateScheduler::new(|epoch, lr| if epoch < 2 { lr } else { lr * 0.5 });
/// let mut rates = Vec::new();
/// for epoch in 0..4 {
///     Callback::<f32>::on_epoch_begin(&mut cb, epoch, &mut ctx)?;
///     rates.push(ctx.lr);
/// }
/// assert_eq!(rates, [0.1, 0.1, 0.05, 0.025]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct LearningRateScheduler<F> {
    schedule: F,
}

impl<F: FnMut(usize, f64) -> f64> LearningRateScheduler<F> {
    /// A scheduler calling `schedule(epoch, current_rate)` before each epoch.
    ///
    /// A schedule returning a negative or non-finite rate makes
    /// [`on_epoch_begin`](Callback::on_epoch_begin) return
    /// [`Error::InvalidArgument`] naming the epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::{Callback, LearningRateScheduler};
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
    /// let mut ctx = Ctx::default();
    /// // Inverse-time decay from the epoch alone.
    /// let mut cb = LearningRateScheduler::new(|epoch, _| 0.1 / (epoch + 1) as f64);
    /// Callback::<f32>::on_epoch_begin(&mut cb, 3, &mut ctx)?;
    /// assert_eq!(ctx.learning_rate(), 0.025);
    /// let mut bad = LearningRateScheduler::new(|_, _| f64::NAN);
    /// let err = Callback::<f32>::on_epoch_begin(&mut bad, 3, &mut ctx).unwrap_err();
    /// assert!(err.to_string().contains("epoch 3"));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler { schedule }
    }
}

impl<T: Float, F: FnMut(usize, f64) -> f64> Callback<T> for LearningRateScheduler<F> {
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        let rate = (self.schedule)(epoch, ctx.learning_rate());
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "LearningRateScheduler",
                message: format!(
                    "the schedule returned {rate} at epoch {epoch}; a rate must be finite and non-negative"
                ),
            });
        }
        ctx.set_learning_rate(rate)
    }
}
